"""Every list exports as XLSX (read back with openpyxl) and as CSV with the reader's separator;
exports keep to the customers the user may see and stop with a clear message past the bound."""

import csv
import io
from decimal import Decimal

import openpyxl
import pytest

from crm.models import Ticket
from customer360 import exports
from tests.conftest import client_for
from tests.crm.factories import make_deal, make_ticket
from tests.factories import CustomerFactory, assign


def sheet_rows(response) -> list[tuple]:
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_TYPE
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return list(workbook.worksheets[0].iter_rows(values_only=True))


@pytest.fixture
def customers(rep, rep2):
    mine = [
        CustomerFactory(first_name="Franz", last_name="Gruber", city="Wien", owner=rep, lifecycle="customer"),
        CustomerFactory(first_name="Eva", last_name="Böhler", city="Linz", owner=rep, lifecycle="lead"),
        CustomerFactory(first_name="Tom", last_name="=cmd()", city="Graz", owner=rep, lifecycle="lead"),
    ]
    CustomerFactory(first_name="Not", last_name="Mine", owner=rep2)  # another rep's customer
    return mine


def test_customer_list_xlsx_has_the_filtered_visible_rows(rep, customers):
    response = client_for(rep).get("/customers/?lifecycle=lead&sort=name&export=xlsx")
    rows = sheet_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:4] == ("Customer number", "Last name", "First name", "Company")
    last_names = [row[1] for row in body]
    assert sorted(last_names) == sorted(["Böhler", "'=cmd()"])  # formula neutralised, lead only
    assert "Mine" not in last_names and "Gruber" not in last_names
    assert {row[header.index("Lifecycle")] for row in body} == {"Lead"}
    assert response["Content-Disposition"] == 'attachment; filename="customers.xlsx"'


def test_customer_list_csv_uses_the_locale_separator(rep, customers):
    client = client_for(rep)
    english = client.get("/customers/?export=csv")
    assert english.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[0][0] == "Customer number"
    german = client.get("/customers/?export=csv", HTTP_ACCEPT_LANGUAGE="de")
    with_semicolons = list(csv.reader(io.StringIO(german.content.decode("utf-8-sig")), delimiter=";"))
    assert len(with_semicolons) == 4 and with_semicolons[0][0] == "Kundennummer"
    assert {r[1] for r in with_semicolons[1:]} == {"Gruber", "Böhler", "'=cmd()"}


def test_export_past_the_bound_is_a_clear_400(rep, customers):
    response = exports.export_response(([i] for i in range(11)), ["n"], "big", "xlsx", limit=10)
    assert response.status_code == 400 and "more than 10 rows" in response.content.decode()
    fits = exports.export_response(([i] for i in range(10)), ["n"], "ok", "csv", limit=10)
    assert fits.status_code == 200 and fits.content.decode("utf-8-sig").splitlines()[-1] == "9"


def test_german_csv_writes_decimal_commas():
    from django.utils import translation

    with translation.override("de"):
        body = exports.csv_bytes(["Betrag"], [[Decimal("1234.50")]]).decode("utf-8-sig")
    assert body.splitlines() == ["Betrag", "1234,50"]


def test_ticket_and_deal_lists_export_xlsx(rep, service_user, customers):
    for customer in customers[:2]:
        assign(customer, "service")
    make_ticket(service_user, customers[0], subject="Lieferung fehlt")
    solved = make_ticket(service_user, customers[1], subject="Erledigt")
    Ticket.objects.filter(pk=solved.pk).update(status="closed")
    rows = sheet_rows(client_for(service_user).get("/sales/tickets/?export=xlsx"))
    assert [r[1] for r in rows[1:]] == ["Lieferung fehlt"]  # open tickets by default
    everything = sheet_rows(client_for(service_user).get("/sales/tickets/?status=all&export=xlsx"))
    assert sorted(r[1] for r in everything[1:]) == ["Erledigt", "Lieferung fehlt"]
    make_deal(rep, customers[0], title="Premium", amount=890)
    deals = sheet_rows(client_for(rep).get("/sales/deals/?export=xlsx"))
    assert [(r[1], r[3], r[6]) for r in deals[1:]] == [("Premium", "Franz Gruber", 890)]


def test_segment_members_export_only_visible_members(customers, marketing_user):
    from tests.marketing.factories import SegmentFactory

    segment = SegmentFactory(name="Alle")  # no rules: everyone the reader may see
    for customer in customers[:2]:
        assign(customer, "marketing")
    rows = sheet_rows(
        client_for(marketing_user).get(f"/marketing/segments/{segment.pk}/members/?export=xlsx")
    )
    assert sorted(r[1] for r in rows[1:]) == ["Böhler", "Gruber"]


def test_every_list_export_is_in_the_access_log_with_its_customers(rep, service_user, customers):
    from customer360.audit.models import AccessLog

    client_for(rep).get("/customers/?lifecycle=lead&export=xlsx")
    log = AccessLog.objects.get()
    assert (log.action, log.what, log.rows, log.username) == ("export", "customer list", 2, "rep")
    assert set(log.customers.values_list("customer_id", flat=True)) == {customers[1].pk, customers[2].pk}
    make_deal(rep, customers[0], title="Premium")
    client_for(rep).get("/sales/deals/?export=csv")
    deals = AccessLog.objects.get(what="deal list")
    assert (deals.rows, deals.customer_id) == (1, customers[0].pk)
    refused = client_for(rep).get("/sales/deals/?export=pdf")  # not an export: the page, no log row
    assert refused.status_code == 200 and AccessLog.objects.count() == 2


def test_invoice_and_activity_exports_log_their_customers(rep, accounting_user, customers):
    from customer360.audit.models import AccessLog
    from tests.billing.factories import make_invoice
    from tests.crm.factories import make_activity

    assign(customers[0], "accounting")
    invoice = make_invoice(customers[0], number="2026-0777")
    rows = sheet_rows(client_for(accounting_user).get("/billing/invoices/?export=xlsx"))
    assert [r[0] for r in rows[1:]] == ["2026-0777"]
    assert AccessLog.objects.get(what="invoice list").customer_id == invoice.customer_id
    make_activity(rep, customers[1], subject="Rückruf")
    activities = sheet_rows(client_for(rep).get("/sales/activities/?scope=mine&export=xlsx"))
    assert [r[2] for r in activities[1:]] == ["Rückruf"]
    assert AccessLog.objects.get(what="activity list").customer_id == customers[1].pk
