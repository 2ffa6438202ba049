"""Chunked, resumable imports: checkpoints, exact counters, cancel, resume, stalled runs, and the
files that must be refused with a message (XLSX bomb, garbage ZIP) or read correctly (UTF-16,
German numbers)."""

import io
import random
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from customer360.models import Customer, TimelineEvent
from customer360.sources import chunks, services, tasks
from customer360.sources.models import ImportChunk, ImportRun
from customer360.sources.reading import NotATable, read_head, read_table
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, run_file

EVENTS = {
    "fields": [
        {"field": "event_id", "column": "event"},
        {"field": "external_id", "column": "customer"},
        {"field": "kind", "column": "kind"},
        {"field": "payload.amount", "column": "amount", "type": "decimal"},
    ],
    "options": {},
}


def _orders(rows: int, customers: int = 50, bad_every: int = 0) -> str:
    lines = ["event,customer,kind,amount"]
    for number in range(rows):
        customer = "" if bad_every and number % bad_every == 0 else f"k{number % customers}"
        lines.append(f"e{number},{customer},order.placed,{number % 10}.5")
    return "\n".join(lines) + "\n"


def _started(source, text: str, mapping=EVENTS) -> ImportRun:
    run = services.run_create(source=source, uploaded=SimpleUploadedFile("orders.csv", text.encode()))
    services.run_start(run=run, mapping=mapping)
    return run


@pytest.fixture
def small_chunks(settings):
    settings.C360_IMPORT_CHUNK_ROWS = 100


@pytest.mark.django_db
def test_chunks_commit_rows_and_checkpoint_together_and_counters_are_exact(small_chunks):
    source = DataSourceFactory(target="events")
    run = run_file(source, _orders(1_050, bad_every=100), EVENTS)
    assert run.status == ImportRun.Status.DONE
    assert run.chunk_count == 11 and run.chunks_done == 11
    assert (run.total, run.done, run.next_row) == (1_050, 1_050, 1_052)
    assert counts(run) == (1_039, 0, 0, 0, 11)  # rows 2, 102, ... have no customer
    assert TimelineEvent.objects.filter(idempotency_key__startswith=f"{source.slug}:").count() == 1_039
    chunk_rows = list(ImportChunk.objects.filter(run=run).values_list("first_row", "rows"))
    assert chunk_rows[0] == (2, 100) and chunk_rows[-1] == (1_002, 50)
    # The rerun of the same file: nothing new, every good line unchanged, the same 11 refused.
    again = run_file(source, _orders(1_050, bad_every=100), EVENTS)
    assert counts(again) == (0, 0, 1_039, 0, 11)


@pytest.mark.django_db
def test_a_run_interrupted_between_chunks_resumes_at_its_checkpoint(small_chunks):
    source = DataSourceFactory(target="events")
    run = _started(source, _orders(450))
    for _ in range(3):  # prepare, then two chunks, then the worker "dies"
        assert chunks.step(run.pk) == "chunk"
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.done, run.next_row) == ("running", 2, 200, 202)
    ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.FAILED, error="worker lost")
    run.refresh_from_db()
    assert run.can_resume
    assert chunks.resume(run)
    tasks.run_import(run.pk)
    tasks.run_import(run.pk)  # a redelivered copy: the run is done, nothing happens
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE and run.error == ""
    assert counts(run) == (450, 0, 0, 0, 0)
    assert TimelineEvent.objects.filter(idempotency_key__startswith=f"{source.slug}:").count() == 450


@pytest.mark.django_db
def test_cancel_stops_at_the_next_chunk_and_says_after_how_many_rows(small_chunks, client):
    source = DataSourceFactory(target="events")
    run = _started(source, _orders(450))
    chunks.step(run.pk)
    chunks.step(run.pk)
    admin = UserFactory(role="Admin")
    response = client_for(admin).post(f"/sources/runs/{run.pk}/cancel/")
    assert response.status_code == 302
    tasks.run_import(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.CANCELLED and run.done == 100
    page = client_for(admin).get(f"/sources/runs/{run.pk}/").content.decode()
    assert "Cancelled after 100 rows" in page
    assert 'id="run-resume"' in page and "Resume at row 102" in page


@pytest.mark.django_db
def test_the_beat_task_reclaims_only_runs_without_progress(small_chunks, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.run_import, "apply_async", lambda args, **kw: queued.append(args[0]))
    source = DataSourceFactory(target="events")
    stalled = _started(source, _orders(300))
    fresh = _started(source, _orders(300))
    old = stalled.created_at - services.timezone.timedelta(minutes=30)
    ImportRun.objects.filter(pk=stalled.pk).update(status=ImportRun.Status.RUNNING, heartbeat_at=old)
    queued.clear()
    assert chunks.reclaim_stalled(minutes=5) == [stalled.pk]
    stalled.refresh_from_db()
    assert stalled.reclaims == 1
    assert fresh.pk not in chunks.reclaim_stalled(minutes=5)


@pytest.mark.slow
@pytest.mark.django_db
def test_twenty_thousand_lines_exact_and_a_rerun_changes_nothing(settings):
    settings.C360_IMPORT_CHUNK_ROWS = 3_000
    source = DataSourceFactory(target="events", locale="en")
    rng = random.Random(3)
    lines = ["event,customer,kind,amount"]
    lines += [
        f'e{n},k{rng.randrange(800)},order.placed,"{rng.randrange(1, 5000):,}.25"' for n in range(20_000)
    ]
    text = "\n".join(lines) + "\n"
    first = run_file(source, text, EVENTS)
    assert counts(first) == (20_000, 0, 0, 0, 0) and first.chunk_count == 7
    assert Customer.objects.filter(identities__source=source.slug).distinct().count() == len(
        {line.split(",")[1] for line in lines[1:]}
    )
    again = run_file(source, text, EVENTS)
    assert counts(again) == (0, 0, 20_000, 0, 0)
    assert TimelineEvent.objects.filter(idempotency_key__startswith=f"{source.slug}:").count() == 20_000


# --- Files ---------------------------------------------------------------------------------------
def _workbook(cells: dict[str, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    for ref, value in cells.items():
        sheet[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rewrite(data: bytes, member: str, change) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info.filename, change(content) if info.filename == member else content)
    return out.getvalue()


def test_an_xlsx_declaring_millions_of_cells_is_refused_before_it_is_read():
    bomb = _workbook({"A1": "name", "B1": "mail", "XFD1048576": "x"})
    assert len(bomb) < 20_000
    with pytest.raises(NotATable, match="more than 20,000,000 cells"):
        read_table(bomb)


def test_an_xlsx_that_hides_its_size_is_cut_off_while_it_streams():
    # The dimension claims one cell, the sheet has 16,384 columns in its first row.
    data = _workbook({"A1": "name", "XFD1": "x", "A2": "Huber"})
    lying = _rewrite(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"A1:XFD2", b"A1:A1"))
    with pytest.raises(NotATable, match="more than 500 columns"):
        read_table(lying)


def test_an_xlsx_that_unpacks_too_large_is_refused(settings):
    settings.C360_XLSX_MAX_UNCOMPRESSED = 4_000
    with pytest.raises(NotATable, match="unpacks to"):
        read_table(_workbook({"A1": "name", "A2": "x" * 5_000}))


@pytest.mark.django_db
def test_a_garbage_zip_and_a_bomb_get_a_400_with_a_message_never_a_500(client):
    admin = UserFactory(role="Admin")
    source = DataSourceFactory()
    http = client_for(admin)
    garbage = b"PK\x03\x04" + bytes(random.Random(1).randrange(256) for _ in range(5_000))
    bomb = _workbook({"A1": "name", "XFD1048576": "x"})
    for name, data, message in (
        ("export.xlsx", garbage, "damaged or not a workbook"),
        ("bomb.xlsx", bomb, "more than 20,000,000 cells"),
    ):
        upload = http.post(f"/sources/{source.slug}/upload/", {"file": SimpleUploadedFile(name, data)})
        assert upload.status_code == 302
        mapping = http.get(upload["Location"])
        assert mapping.status_code == 400
        assert message in mapping.content.decode()


@pytest.mark.django_db
def test_a_utf16_csv_from_excel_is_read_and_imported():
    source = DataSourceFactory()
    text = "Kundennummer\tE-Mail\tNachname\r\n17\thuber@example.at\tHüber\r\n18\tbauer@example.at\tBäuerl\r\n"
    data = "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    head = read_head(io.BytesIO(data))
    assert (head.encoding, head.delimiter, head.header) == (
        "utf-16",
        "\t",
        ["Kundennummer", "E-Mail", "Nachname"],
    )
    run = services.run_create(source=source, uploaded=SimpleUploadedFile("unicode.txt", data))
    mapping = {
        "fields": [
            {"field": "external_id", "column": "Kundennummer"},
            {"field": "email", "column": "E-Mail"},
            {"field": "last_name", "column": "Nachname"},
        ],
        "options": {},
    }
    services.run_start(run=run, mapping=mapping)
    tasks.run_import(run.pk)
    run.refresh_from_db()
    assert counts(run) == (2, 0, 0, 0, 0)
    assert sorted(Customer.objects.values_list("last_name", flat=True)) == ["Bäuerl", "Hüber"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("locale", "written", "amount"),
    [
        ("de_AT", "1.234,50", 1234.5),
        ("de_DE", "1.234", 1234),
        ("en", "1,234.50", 1234.5),
        ("de_AT", "12,5", 12.5),
    ],
)
def test_numbers_follow_the_locale_of_the_source(locale, written, amount):
    source = DataSourceFactory(locale=locale)
    mapping = {
        "fields": [
            {"field": "external_id", "column": "id"},
            {"field": "attributes.revenue", "column": "umsatz", "type": "decimal"},
        ],
        "options": {},
    }
    run = run_file(source, f'id;umsatz\n1;"{written}"\n', mapping)
    assert counts(run) == (1, 0, 0, 0, 0)
    assert Customer.objects.get().attributes["revenue"] == amount


@pytest.mark.django_db
def test_a_number_in_the_wrong_locale_is_refused_not_misread():
    source = DataSourceFactory(locale="de_AT")
    mapping = {
        "fields": [
            {"field": "external_id", "column": "id"},
            {"field": "attributes.revenue", "column": "umsatz", "type": "decimal"},
        ],
        "options": {},
    }
    run = run_file(source, "id;umsatz\n1;2.55\n", mapping)
    assert counts(run) == (0, 0, 0, 0, 1)
    assert "is not a number in the format of de_AT" in run.error_file.open("rb").read().decode("utf-8-sig")


def test_the_mapping_page_reads_only_the_head_of_a_large_file():
    body = "".join(f'{n};"Name {n}";"line one\nline two"\n' for n in range(60_000))
    data = ("id;name;note\n" + body).encode()
    assert len(data) > 2_000_000
    head = read_head(io.BytesIO(data))
    assert head.truncated and len(head.rows) == 200
    assert head.rows[-1] == ["199", "Name 199", "line one\nline two"]
