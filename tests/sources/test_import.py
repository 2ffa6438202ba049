"""File imports: mapping, broken rows into the error file, idempotent reruns, real shared data."""

import csv
import io
import json
from decimal import Decimal

import pytest

from customer360.models import Customer, CustomerIdentity, TimelineEvent
from customer360.sources.models import ImportRun
from tests.conftest import shared_data
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import

ERP_MAPPING = {
    "fields": [
        {"field": "external_id", "column": "Kundennummer", "required": True},
        {"field": "first_name", "column": "Vorname"},
        {"field": "last_name", "column": "Nachname"},
        {"field": "email", "column": "E-Mail"},
        {"field": "phone", "column": "Telefon"},
        {"field": "postcode", "column": "PLZ"},
        {"field": "city", "column": "Ort"},
        {"field": "birth_date", "column": "Geburtsdatum", "type": "date"},
        {"field": "attributes.revenue", "column": "Umsatz", "type": "decimal"},
        {"field": "attributes.newsletter", "column": "Newsletter", "type": "bool"},
        {"field": "country", "constant": "AT"},
    ],
    "options": {},
}


def _error_rows(run):
    with run.error_file.open("rb") as handle:
        text = handle.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


@pytest.mark.django_db
def test_erp_file_good_rows_in_bad_rows_in_error_file_then_fixed_rerun_duplicates_nothing(fixture_path):
    source = DataSourceFactory(slug="erp", target="customers", department="accounting")
    data = fixture_path("erp_customers_cp1252.csv").read_bytes()

    run = run_import(source, data, ERP_MAPPING)

    assert run.status == ImportRun.Status.DONE
    assert (run.total, run.created, run.failed) == (6, 2, 4)
    juergen = Customer.objects.get(
        identities__kind="external_id", identities__source="erp", identities__value="K-1001"
    )
    assert (juergen.first_name, juergen.last_name, juergen.phone) == ("Jürgen", "Größer", "+4312345678")
    assert juergen.attributes == {"revenue": 1234.56, "newsletter": True}
    assert str(juergen.birth_date) == "1970-04-03"
    assert CustomerIdentity.objects.filter(customer=juergen).count() == 3  # external id, e-mail, phone
    errors = _error_rows(run)
    assert [(r["c360_row"], r["Kundennummer"]) for r in errors] == [
        ("4", "K-1003"),
        ("5", "K-1004"),
        ("6", "K-1005"),
        ("7", "K-1006"),
    ]
    assert 'Column "Geburtsdatum": "31.02.1990" is not a date' in errors[0]["c360_errors"]
    assert 'Column "Umsatz": "abc" is not a decimal number' in errors[1]["c360_errors"]
    assert 'Column "Newsletter": "vielleicht" is not yes/no' in errors[2]["c360_errors"]
    assert errors[3]["E-Mail"].startswith("'=HYPERLINK")  # neutralised on export
    assert errors[3]["Vorname"] == "Hans; der Zweite"
    # customer.created events mark the new customers for the source's department
    assert TimelineEvent.objects.filter(kind="customer.created", department="accounting").count() == 2

    # the same file again changes nothing
    again = run_import(source, data, ERP_MAPPING)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 2, 4)
    assert Customer.objects.count() == 2

    # fix the error file and upload it again: only the fixed rows are new
    fixed = errors
    fixed[0]["Geburtsdatum"] = "28.02.1990"
    fixed[1]["Umsatz"] = "7,00"
    fixed[2]["Newsletter"] = "nein"
    fixed[3]["E-Mail"] = "hans@example.at"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fixed[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(fixed)
    rerun = run_import(source, buffer.getvalue().encode("utf-8-sig"), ERP_MAPPING)
    assert (rerun.created, rerun.failed) == (4, 0)
    assert not rerun.error_file
    assert Customer.objects.count() == 6
    rerun_again = run_import(source, buffer.getvalue().encode("utf-8-sig"), ERP_MAPPING)
    assert (rerun_again.created, rerun_again.unchanged) == (0, 4)


@pytest.mark.django_db
def test_changed_rows_count_as_updated_and_repeated_rows_as_duplicates():
    source = DataSourceFactory(slug="crm-x")
    mapping = {"fields": [{"field": "email", "column": "mail"}, {"field": "city", "column": "city"}]}
    run_import(source, b"mail,city\na@example.at,Wien\nb@example.at,Graz\n", mapping)
    run = run_import(source, b"mail,city\nA@example.at,Linz\nb@example.at,Graz\nb@example.at,Graz\n", mapping)
    assert (run.created, run.updated, run.unchanged, run.duplicate) == (0, 1, 1, 1)
    assert Customer.objects.get(email="a@example.at").city == "Linz"


@pytest.mark.django_db
def test_not_a_table_fails_the_run_with_a_clear_error():
    source = DataSourceFactory()
    run = run_import(source, b"\x89PNG\r\n\x1a\n\x00\x00", {"fields": []}, name="photo.png")
    assert run.status == ImportRun.Status.FAILED
    assert "not a table" in run.error


@pytest.mark.django_db
def test_the_task_claims_a_run_once():
    from customer360.sources import tasks

    source = DataSourceFactory()
    run = run_import(source, b"mail\na@example.at\n", {"fields": [{"field": "email", "column": "mail"}]})
    tasks.run_import(run.pk)  # redelivered: already done, nothing happens
    tasks.run_import(999999)  # gone: returns quietly
    run.refresh_from_db()
    assert (run.status, run.created, run.done) == ("done", 1, 1)


def _retail_source():
    return DataSourceFactory(slug="online-retail", target="events", department="sales")


def _retail_mapping(fixture_path):
    return json.loads(fixture_path("online_retail_mapping.json").read_text())


@pytest.mark.django_db
def test_online_retail_slice_cancellations_missing_ids_and_idempotency(fixture_path):
    source = _retail_source()
    data = fixture_path("online_retail_200.csv").read_bytes()
    run = run_import(source, data, _retail_mapping(fixture_path))
    assert run.total == 200
    assert (run.created, run.failed) == (195, 5)  # 5 lines without CustomerID are reported
    cancelled = TimelineEvent.objects.get(kind="order.cancelled", payload__invoice="C536379")
    assert cancelled.payload["invoice"] == "C536379"
    assert cancelled.payload["amount"] == -27.5
    assert cancelled.department == "sales"
    assert TimelineEvent.objects.filter(kind="order.cancelled").count() == 4  # lines starting with C
    assert TimelineEvent.objects.filter(kind="order.placed").count() == run.created - 4
    again = run_import(source, data, _retail_mapping(fixture_path))
    assert (again.created, again.unchanged, again.failed) == (0, run.created, run.failed)
    assert TimelineEvent.objects.filter(kind__startswith="order.").count() == run.created


@pytest.mark.realdata
@pytest.mark.django_db
def test_online_retail_full_file_totals_equal_pandas(fixture_path, settings):
    import pandas as pd

    settings.C360_IMPORT_BATCH_SIZE = 5000
    path = shared_data("online_retail", "online_retail_2010-2011_first50k.csv")
    source = _retail_source()
    run = run_import(source, path.read_bytes(), _retail_mapping(fixture_path))

    frame = pd.read_csv(path, dtype={"InvoiceNo": str})
    missing = int(frame["CustomerID"].isna().sum())
    assert missing > 0
    assert run.failed == missing  # reported, not silently dropped
    assert run.created == len(frame) - missing
    errors = _error_rows_comma(run)
    assert len(errors) == missing and 'Column "CustomerID": "" is empty' in errors[0]["c360_errors"]

    frame = frame.dropna(subset=["CustomerID"])
    frame["amount"] = frame["Quantity"] * frame["UnitPrice"]
    expected = frame.groupby(frame["CustomerID"].astype(int).astype(str))["amount"].sum()
    ids = dict(CustomerIdentity.objects.filter(source="online-retail").values_list("customer_id", "value"))
    totals: dict[str, Decimal] = {}
    for customer_id, payload in TimelineEvent.objects.filter(kind__startswith="order.").values_list(
        "customer_id", "payload"
    ):
        totals[ids[customer_id]] = totals.get(ids[customer_id], Decimal(0)) + Decimal(str(payload["amount"]))
    assert len(totals) == len(expected)
    assert all(abs(float(totals[cid]) - total) < 0.01 for cid, total in expected.items())
    cancellations = frame["InvoiceNo"].str.startswith("C").sum()
    assert TimelineEvent.objects.filter(kind="order.cancelled").count() == cancellations


def _error_rows_comma(run):
    with run.error_file.open("rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode("utf-8-sig"))))


@pytest.mark.realdata
@pytest.mark.django_db
def test_bank_marketing_semicolons_and_quotes():
    from customer360.sources.reading import read_table

    full = read_table(shared_data("bank_marketing", "bank-additional-full.csv").read_bytes())
    assert full.delimiter == ";" and len(full.header) == 21 and len(full.rows) == 41188
    assert full.header[:2] == ["age", "job"] and full.rows[0][1] == "housemaid"  # quotes removed

    source = DataSourceFactory(slug="bank", target="customers", department="marketing")
    mapping = {
        "fields": [
            {
                "field": "external_id",
                "template": "row-{age}-{job}-{marital}-{education}-{month}-{day_of_week}-{duration}-{campaign}-{pdays}-{euribor3m}",
            },
            {"field": "attributes.age", "column": "age", "type": "int"},
            {"field": "attributes.job", "column": "job"},
            {"field": "attributes.housing", "column": "housing", "type": "bool", "default": ""},
            {"field": "attributes.euribor3m", "column": "euribor3m", "type": "decimal"},
            {"field": "attributes.subscribed", "column": "y", "type": "bool"},
        ]
    }
    small = shared_data("bank_marketing", "bank-additional.csv").read_bytes()
    lines = small.split(b"\n")
    run = run_import(source, b"\n".join(lines[:501]) + b"\n", mapping)
    assert run.total == 500
    assert run.created + run.duplicate + run.failed == 500
    assert run.created > 450
    sample = Customer.objects.order_by("id").first()
    assert sample.attributes["job"] and isinstance(sample.attributes["age"], int)
    assert isinstance(sample.attributes["subscribed"], bool)
