"""The dunning overview exports the invoices behind it (open and overdue or already dunned) as XLSX
and as CSV in the reader's format; the file names customers, so it is in the access log."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
import time_machine

from billing import services
from billing.models import Invoice
from customer360.audit.models import AccessLog
from tests.billing.factories import at, make_invoice
from tests.conftest import client_for
from tests.customer360.test_exports import sheet_rows
from tests.factories import CustomerFactory, unassigned

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(at(TODAY), tick=False):
        yield


@pytest.fixture
def invoices(rep):
    def invoice(last_name, due, number, level=0):
        made = make_invoice(CustomerFactory(last_name=last_name), due_date=due, number=number)
        Invoice.objects.filter(pk=made.pk).update(dunning_level=level)
        return made

    second = invoice("Gruber", datetime.date(2026, 1, 20), "2026-0100", level=2)
    overdue = invoice("Böhler", datetime.date(2026, 2, 20), "2026-0200")
    invoice("Huber", datetime.date(2026, 3, 20), "2026-0300")  # not due yet
    paid = invoice("Maier", datetime.date(2026, 1, 10), "2026-0400", level=1)
    services.invoice_record_payment(invoice=paid, amount=paid.gross_total)
    hidden = invoice("Fremd", datetime.date(2026, 1, 5), "2026-0500", level=3)
    unassigned(hidden.customer)  # out of accounting's scope
    return second, overdue


def test_dunning_export_lists_the_visible_invoices_in_dunning(accounting_user, invoices):
    second, overdue = invoices
    rows = sheet_rows(client_for(accounting_user).get("/billing/dunning/?export=xlsx"))
    header, body = rows[0], rows[1:]
    assert header[:3] == ("Number", "Customer number", "Customer")
    got = [dict(zip(header, row, strict=True)) for row in body]
    assert [r["Number"] for r in got] == ["2026-0100", "2026-0200"]  # highest level first
    first = got[0]
    assert (first["Dunning level"], first["Level name"], first["Days overdue"]) == (2, "First reminder", 41)
    assert first["Open"] == second.open_amount == 1240
    assert first["Due"] == datetime.datetime(2026, 1, 20)  # a date cell, not text
    assert (got[1]["Dunning level"], got[1]["Level name"], got[1]["Days overdue"]) == (0, None, 10)  # empty
    log = AccessLog.objects.get()
    assert (log.action, log.what, log.rows, log.customer_count) == ("export", "dunning overview", 2, 2)
    assert set(log.customers.values_list("customer_id", flat=True)) == {
        second.customer_id,
        overdue.customer_id,
    }


def test_dunning_export_in_german_is_a_semicolon_csv_with_decimal_commas(accounting_user, invoices):
    response = client_for(accounting_user).get("/billing/dunning/?export=csv", HTTP_ACCEPT_LANGUAGE="de")
    assert response["Content-Disposition"] == 'attachment; filename="dunning.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert header[:3] == ["Nummer", "Kundennummer", "Kunde"]
    first = dict(zip(header, rows[1], strict=True))
    assert (first["Nummer"], first["Offen"], first["Mahnstufe"]) == ("2026-0100", "1240,00", "2")
    assert first["Name der Stufe"] == "1. Mahnung"


def test_dunning_export_is_for_who_may_see_the_overview(rep, manager, invoices):
    assert client_for(rep).get("/billing/dunning/?export=xlsx").status_code == 403
    assert not AccessLog.objects.exists()
    page = client_for(manager).get("/billing/dunning/").content.decode()
    assert "export=xlsx" in page
    assert Decimal(sheet_rows(client_for(manager).get("/billing/dunning/?export=xlsx"))[1][5]) > 0
