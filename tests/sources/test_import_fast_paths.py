"""The set-based import paths give exactly what the row-wise ones gave: the compiled mapping, the
look-up of known events before a rerun writes anything, a line repeating an earlier chunk's record
id (a duplicate), and a run that the file itself stopped (no "resume" that fails the same way)."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from customer360.models import Customer, TimelineEvent
from customer360.sources import chunks, services, tasks
from customer360.sources.mapping import apply_mapping
from customer360.sources.models import ImportRun
from customer360.sources.plan import MappingPlan
from customer360.sources.targets import import_targets
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, run_file

RETAIL = [
    {"field": "external_id", "column": "CustomerID", "type": "id", "required": True},
    {"field": "occurred_at", "column": "InvoiceDate", "type": "datetime"},
    {
        "field": "kind",
        "column": "InvoiceNo",
        "prefix_map": {"C": "order.cancelled"},
        "otherwise": "order.placed",
    },
    {"field": "title", "template": "Invoice {InvoiceNo}: {Quantity} x {Description} {{raw}}"},
    {"field": "payload.quantity", "column": "Quantity", "type": "decimal"},
    {
        "field": "payload.amount",
        "columns": ["Quantity", "UnitPrice"],
        "combine": "multiply",
        "type": "decimal",
    },
    {"field": "summary", "columns": ["Description", "Country"], "combine": "join"},
    {"field": "channel", "constant": "web"},
    {"field": "direction", "column": "Direction", "default": "inbound"},
    {"field": "attributes.country_name", "column": "Country"},
    {"field": "attributes.missing", "column": "NoSuchColumn"},
    {"field": "", "column": "Country"},
]
HEADER = [
    "InvoiceNo",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
    "Direction",
]
ROWS = [
    ["536365", "HEART", "6", "2011-12-01 08:26:00", "2.55", "17850.0", "United Kingdom", ""],
    ["C536379", " LANTERN ", "-2", "2011-12-01 09:41:00", "3,39", "17850", "Austria", "outbound"],
    ["536380", "BOX", "x", "2011-12-01 09:41:00", "1.5", "12346", "", ""],  # not a number
    ["536381", "BOX", "2", "yesterday", "1.5", "12346", "France", ""],  # not a date
    ["536382", "", "", "", "", "", "", ""],  # the required id is empty
    ["536383", "SHORT"],  # a short line: the missing cells are empty
    ["536365", "HEART", "6", "2011-12-01 08:26:00", "2.55", "17850.0", "United Kingdom", "", "extra"],
]


@pytest.mark.parametrize("locale", ["", "en", "de_AT"])
def test_the_compiled_mapping_gives_the_values_and_messages_of_the_row_wise_mapping(locale):
    types = import_targets.get("events").field_types()
    planned = MappingPlan(HEADER, RETAIL, types, locale=locale).map_rows(ROWS)
    for row, (values, errors) in zip(ROWS, planned, strict=True):
        record = dict(zip(HEADER, row + [""] * (len(HEADER) - len(row)), strict=False))
        assert (values, [str(e) for e in errors]) == _row_wise(record, types, locale)
    if locale == "de_AT":  # "2.55" is not how Austria writes a price: refused, as row-wise
        assert "UnitPrice" in str(planned[0][1][0])
        return
    first, _errors = planned[0]
    assert first["title"] == "Invoice 536365: 6 x HEART {}"  # "{raw}" names a column the file lacks
    assert first["payload"] == {"quantity": Decimal("6"), "amount": Decimal("15.30")}
    assert first["attributes"] == {"country_name": "United Kingdom"}
    assert (first["external_id"], first["channel"], first["direction"]) == ("17850", "web", "inbound")
    assert planned[1][0]["kind"] == "order.cancelled" and planned[1][0]["summary"] == "LANTERN Austria"
    assert any("InvoiceDate" in str(e) for e in planned[3][1]) and "CustomerID" in str(planned[4][1][0])


def _row_wise(record, types, locale):
    values, errors = apply_mapping(record, RETAIL, types, locale=locale)
    return values, [str(e) for e in errors]


EVENTS = {
    "fields": [
        {"field": "event_id", "column": "event"},
        {"field": "external_id", "column": "customer"},
        {"field": "kind", "column": "kind"},
    ],
    "options": {},
}


def _orders(ids: list[str]) -> str:
    return "event,customer,kind\n" + "".join(f"{e},k{n % 7},order.placed\n" for n, e in enumerate(ids))


@pytest.mark.django_db
def test_a_line_repeating_an_event_id_of_an_earlier_chunk_is_a_duplicate_also_on_the_rerun(settings, client):
    settings.C360_IMPORT_CHUNK_ROWS = 100
    ids = [f"e{n}" for n in range(300)]
    ids[150] = "e5"  # row 152 repeats row 7 (chunk 1 -> chunk 2)
    ids[260] = "e5"  # and row 262 once more (chunk 3)
    ids[40] = "e3"  # row 42 repeats row 5 inside chunk 1
    source = DataSourceFactory(target="events")
    first = run_file(source, _orders(ids), EVENTS)
    assert counts(first) == (297, 0, 0, 3, 0)
    assert TimelineEvent.objects.filter(idempotency_key__startswith=f"{source.slug}:").count() == 297
    page = client_for(UserFactory(role="Admin")).get(f"/sources/runs/{first.pk}/").content.decode()
    assert '<dd data-count="duplicate">3</dd>' in page
    again = run_file(source, _orders(ids), EVENTS)
    assert counts(again) == (0, 0, 297, 3, 0)


@pytest.mark.django_db
def test_a_customer_repeated_in_a_later_chunk_is_a_duplicate_not_an_update(settings):
    settings.C360_IMPORT_CHUNK_ROWS = 2
    source = DataSourceFactory(target="customers")
    mapping = {
        "fields": [{"field": "external_id", "column": "id"}, {"field": "city", "column": "city"}],
        "options": {},
    }
    run = run_file(source, "id,city\nA1,Wien\nB2,Graz\nA1,Linz\n", mapping)
    assert counts(run) == (2, 0, 0, 1, 0)
    assert list(Customer.objects.filter(identities__value="A1").values_list("city", flat=True)) == ["Wien"]


def _started(source, data: bytes, mapping: dict) -> ImportRun:
    run = services.run_create(source=source, uploaded=SimpleUploadedFile("orders.csv", data))
    services.run_start(run=run, mapping=mapping)
    return run


@pytest.mark.django_db
def test_a_file_that_fails_while_it_is_read_offers_a_new_upload_not_a_resume(client):
    source = DataSourceFactory(target="events")
    broken = _orders(["e1", "e2"]).encode() + b"e3,k\xff,order.placed\n"
    run = _started(source, broken, {**EVENTS, "options": {"encoding": "utf-8"}})
    tasks.run_import(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED and not run.resumable and not run.can_resume
    assert "utf-8" in run.error
    admin = client_for(UserFactory(role="Admin"))
    page = admin.get(f"/sources/runs/{run.pk}/").content.decode()
    assert 'id="run-resume"' not in page
    assert "it would read the same file and stop the same way" in page
    assert f'href="/sources/{source.slug}/#upload-form"' in page
    response = admin.post(f"/sources/runs/{run.pk}/resume/", follow=True)
    assert "Only a failed or cancelled import with rows left can be resumed." in response.content.decode()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED


@pytest.mark.django_db
def test_a_database_outage_while_the_file_is_read_can_be_resumed(monkeypatch):
    source = DataSourceFactory(target="events")
    run = _started(source, _orders(["e1", "e2"]).encode(), EVENTS)

    def unreachable(run):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(chunks, "prepare", unreachable)
    with pytest.raises(OperationalError):
        tasks.run_import(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED and run.resumable and run.can_resume
    monkeypatch.undo()
    assert chunks.resume(run)
    tasks.run_import(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE and counts(run) == (2, 0, 0, 0, 0)


RETAIL_LIKE = {
    "fields": [
        {"field": "external_id", "column": "customer"},
        {"field": "kind", "column": "kind"},
    ],
    "options": {},
}


@pytest.mark.django_db
def test_a_rerun_after_an_erasure_refuses_the_persons_lines_instead_of_calling_them_unchanged():
    from customer360.privacy import suppression
    from customer360.privacy.models import ErasureRequest

    source = DataSourceFactory(target="events")
    text = _orders([f"e{n}" for n in range(14)])  # no event id mapped: the lines' fingerprints are the keys
    first = run_file(source, text, RETAIL_LIKE)
    assert counts(first) == (14, 0, 0, 0, 0)
    assert counts(run_file(source, text, RETAIL_LIKE)) == (0, 0, 14, 0, 0)  # known before mapping
    person = Customer.objects.get(identities__value="k1")
    request = ErasureRequest.objects.create(customer=person, reason="art. 17", requested_by=UserFactory())
    suppression.suppress(request=request, identifiers=[("external_id", source.slug, "k1")])
    again = run_file(source, text, RETAIL_LIKE)
    assert counts(again) == (0, 0, 12, 0, 2)  # k1's two lines are refused, the others unchanged
    with again.error_file.open("rb") as handle:
        refused = handle.read().decode("utf-8-sig")
    assert refused.count(f"suppressed by erasure request {request.pk}") == 2
