"""A value the target cannot hold fails its row alone (column, value, reason), in the preview as in
the run; country and currency names become ISO codes (issue #21, build 2)."""

import csv
import io
import random
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from customer360.models import Customer, Job, TimelineEvent
from customer360.sources import file_checks, services
from customer360.sources.mapping import CoercionError, apply_mapping, coerce, suggest
from customer360.sources.models import ImportRun
from customer360.sources.targets import import_targets
from tests.conftest import client_for
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("United Kingdom", "GB"),
        ("Vereinigtes Königreich", "GB"),
        ("Österreich", "AT"),
        ("Oesterreich", "AT"),
        ("germany", "DE"),
        ("Deutschland", "DE"),
        ("EIRE", "IE"),
        ("USA", "US"),
        ("at", "AT"),
        ("CH", "CH"),
    ],
)
def test_country_names_in_english_and_german_become_iso_codes(value, code):
    assert coerce(value, "country") == code


@pytest.mark.parametrize("value", ["Channel Islands", "European Community", "Unspecified", "EU", "Atlantis"])
def test_a_region_or_an_unknown_name_is_not_a_country(value):
    with pytest.raises(CoercionError, match="is not a country"):
        coerce(value, "country")


@pytest.mark.parametrize(
    ("value", "code"),
    [("EUR", "EUR"), ("eur", "EUR"), ("Euro", "EUR"), ("€", "EUR"), ("£", "GBP"), ("British Pound", "GBP")]
    + [("Britisches Pfund", "GBP"), ("Schweizer Franken", "CHF"), ("US Dollar", "USD")],
)
def test_currencies_become_iso_4217_codes(value, code):
    assert coerce(value, "currency") == code


def test_an_unknown_currency_is_refused_in_the_readers_language():
    with pytest.raises(CoercionError, match="is not a currency"):
        coerce("Taler", "currency")
    with translation.override("de"), pytest.raises(CoercionError, match="ist keine Währung"):
        coerce("Taler", "currency")


def test_the_suggested_mapping_converts_a_country_name_column_to_its_code():
    target = import_targets.get("events")
    entries = [e for e in suggest(["CustomerID", "Country"], target.fields) if e["field"]]
    assert {"column": "Country", "field": "country", "type": ""} in entries
    values, errors = apply_mapping(
        {"CustomerID": "17850", "Country": "United Kingdom"}, entries, target.field_types()
    )
    assert (values["country"], errors) == ("GB", [])


def _retail_like(rows: int, bad_row: int, bad_value: str) -> bytes:
    """Purchase lines of 400 customers in four countries; row ``bad_row`` (file numbering) has
    ``bad_value`` as its country."""
    rng = random.Random(21)
    countries = ["United Kingdom", "Germany", "Österreich", "France"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    )
    for index in range(rows):
        customer = 10_000 + index % 400
        country = bad_value if index + 2 == bad_row else countries[customer % 4]
        writer.writerow(
            [
                f"{500_000 + index // 5}",
                f"{rng.randint(10, 99)}{index:06d}",
                rng.randint(1, 12),
                f"2010-12-{1 + index % 28:02d} 08:{index % 60:02d}:00",
                f"{rng.randint(10, 2000) / 100:.2f}",
                f"{customer}.0",
                country,
            ]
        )
    return out.getvalue().encode()


def error_file(run) -> dict[str, str]:
    """Row number -> reasons, from the run's error file (written with the file's own delimiter)."""
    with run.error_file.open("rb") as handle:
        text = handle.read().decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(text), delimiter=run.mapping["options"].get("delimiter") or ";")
    return {row["c360_row"]: row["c360_errors"] for row in rows}


def _form_from_page(html: str) -> dict:
    """The mapping form as the page renders it (selected options, checked boxes): what the admin
    submits when they accept the suggestion."""
    form = {"delimiter": "", "encoding": ""}
    for name, body in re.findall(r'<select name="((?:field|type)_\d+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        form[name] = chosen.group(1) if chosen else ""
    for name in re.findall(r'<input type="checkbox" name="(key_\d+)" value="1" checked>', html):
        form[name] = "1"
    return form


@pytest.mark.django_db(transaction=False)
def test_one_unknown_country_in_50000_rows_fails_that_row_alone_and_the_preview_showed_it(
    admin_user, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from customer360.sources import tasks

    monkeypatch.setattr(tasks.run_import, "apply_async", lambda args, **kw: None)
    queued = []
    monkeypatch.setattr(tasks.check_file, "apply_async", lambda args, **kw: queued.append((args, kw)))
    advanced = []
    original_advance = Job.advance
    monkeypatch.setattr(
        Job, "advance", lambda job, by=1, **kw: advanced.append((by, kw)) or original_advance(job, by, **kw)
    )
    settings.C360_IMPORT_CHUNK_ROWS = 25_000
    settings.C360_IMPORT_QUEUE = "imports"
    DataSourceFactory(slug="shop-lines", target="events", department="sales")
    data = _retail_like(50_000, bad_row=31_337, bad_value="Channel Islands")
    client = client_for(admin_user)
    client.post("/sources/shop-lines/upload/", {"file": SimpleUploadedFile("lines.csv", data)})
    run = ImportRun.objects.get()
    form = _form_from_page(client.get(f"/sources/runs/{run.pk}/mapping/").content.decode())
    assert form["field_6"] == "country" and form["type_6"] == ""  # the suggestion, converting names
    form.update(field_5="external_id", type_5="id")
    form["const_field_0"], form["const_value_0"] = "kind", "order.placed"

    with django_capture_on_commit_callbacks(execute=True):
        preview = client.post(
            f"/sources/runs/{run.pk}/mapping/", {**form, "action": "preview"}, HTTP_HX_REQUEST="true"
        ).content.decode()
    # the page answers with the first rows; the whole file is the worker's, on the import queue
    job = Job.objects.get(kind=file_checks.CHECK_JOB_KIND)
    assert queued == [([run.pk, job.pk], {"queue": "imports"})]
    assert 'id="preview-table"' in preview and "Checked all" not in preview
    assert f'hx-get="/sources/runs/{run.pk}/check/?job={job.pk}" hx-trigger="every 1s"' in preview
    assert "waiting for it to start" in preview

    assert tasks.check_file.run(run.pk, job.pk) == "done"
    # progress after every block of 5,000 rows, with the number of rows estimated from the bytes read
    assert sum(by for by, _kw in advanced) == 50_000 and len(advanced) == 10
    assert all(kw["total"] in range(48_000, 52_001, 100) for _by, kw in advanced), advanced
    preview = client.get(f"/sources/runs/{run.pk}/check/?job={job.pk}").content.decode()
    assert "hx-trigger" not in preview  # finished: the page stops polling
    assert "Checked all 50,000 rows as the run will." in preview
    assert '<strong class="bad" id="check-refused">1 row will be refused' in preview
    check_table = preview.split('id="check-errors"')[1].split("</table>")[0]
    assert re.findall(r'<td data-label="Row">(\d+)</td>', check_table) == ["31337"]
    assert "Column &quot;Country&quot;: &quot;Channel Islands&quot; is not a country" in preview

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/sources/runs/{run.pk}/mapping/", {**form, "action": "run"})
    tasks.run_import.run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.total, run.created, run.failed) == ("done", 50_000, 49_999, 1)
    assert TimelineEvent.objects.filter(kind="order.placed").count() == 49_999
    assert error_file(run) == {
        "31337": 'Column "Country": "Channel Islands" is not a country (a name in English or German, or an ISO code)'
    }
    assert set(Customer.objects.values_list("country", flat=True)) == {"GB", "DE", "AT", "FR"}


CUSTOMERS = (
    "id;Name;Land;Ort;Phase\n"
    "1;Huber;United Kingdom;Wien;Kunde\n"
    "2;Gruber;AT;" + "x" * 101 + ";lead\n"
    "3;Bauer;Österreich;Graz;VIP\n"
    "4;Maier;Deutschland;Linz;Interessent\n"
)


@pytest.mark.django_db
def test_a_value_longer_than_its_column_or_not_one_of_its_choices_fails_its_row_in_preview_and_run():
    source = DataSourceFactory(slug="crm-export", target="customers")
    mapping = {
        "fields": [
            {"field": "external_id", "column": "id", "required": True},
            {"field": "last_name", "column": "Name"},
            {"field": "country", "column": "Land", "type": "text"},  # forced text: no conversion
            {"field": "city", "column": "Ort"},
            {"field": "lifecycle", "column": "Phase"},
        ],
        "options": {},
    }
    run = services.run_create(source=source, uploaded=SimpleUploadedFile("c.csv", CUSTOMERS.encode()))
    _table, rows = services.run_preview(run=run, mapping=mapping)
    check = services.run_check(run=run, mapping=mapping)
    preview = {row.number: "; ".join(map(str, row.errors)) for row in rows if row.errors}
    assert preview == dict(check.errors)
    assert preview == {
        2: 'Column "Land": "United Kingdom" is longer than 2 characters',
        3: 'Column "Ort": "' + "x" * 80 + '" is longer than 100 characters',
        4: 'Column "Land": "Österreich" is longer than 2 characters; '
        'Column "Phase": "VIP" is not one of lead, prospect, customer, at_risk, churned',
        5: 'Column "Land": "Deutschland" is longer than 2 characters',
    }

    mapping["fields"][2] = {"field": "country", "column": "Land"}  # the field's own type converts
    check = services.run_check(run=run, mapping=mapping)
    assert (check.rows, check.refused) == (4, 2)
    done = run_import(source, CUSTOMERS.encode(), mapping)
    assert (done.created, done.failed) == (2, 2)
    assert sorted(Customer.objects.values_list("last_name", "country", "lifecycle")) == [
        ("Huber", "GB", "customer"),  # the German label "Kunde" is the choice "customer"
        ("Maier", "DE", "prospect"),
    ]
    assert set(error_file(done)) == {"3", "4"}


@pytest.mark.django_db
def test_the_api_refuses_a_record_whose_country_is_unknown_and_converts_a_german_name(settings):
    source = DataSourceFactory(slug="shop-api", target="customers")
    results = services.records_ingest(
        source=source,
        records=[
            {"external_id": "1", "last_name": "Huber", "country": "Österreich"},
            {"external_id": "2", "last_name": "Gruber", "country": "Atlantis"},
        ],
    )
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["reason"].startswith('Column "country": "Atlantis" is not a country')
    assert Customer.objects.get().country == "AT"


@pytest.mark.django_db
def test_a_whole_file_check_out_of_its_seconds_says_how_many_rows_it_checked(settings):
    """C360_PREVIEW_CHECK_SECONDS bounds the worker's check (below its soft time limit): a huge file gets
    a partial check, not a failure."""
    settings.C360_PREVIEW_CHECK_SECONDS = 0
    source = DataSourceFactory(slug="big", target="events")
    data = _retail_like(12_000, bad_row=11_000, bad_value="Atlantis")
    run = services.run_create(source=source, uploaded=SimpleUploadedFile("big.csv", data))
    mapping = {
        "fields": [
            {"field": "external_id", "column": "CustomerID"},
            {"field": "country", "column": "Country"},
        ]
    }
    mapping["fields"].append({"field": "kind", "constant": "order.placed"})
    check = services.run_check(run=run, mapping=mapping)
    assert (check.complete, check.rows, check.refused) == (False, 5000, 0)  # one block, then out of time
    settings.C360_PREVIEW_CHECK_SECONDS = 60
    check = services.run_check(run=run, mapping=mapping)
    assert (check.complete, check.rows, check.errors) == (True, 12_000, [(11_000, check.errors[0][1])])
    assert 'Column "Country": "Atlantis" is not a country' in check.errors[0][1]
