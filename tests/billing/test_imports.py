"""Import targets billing.invoice and billing.payment: files through the real import service, and the
bulk API."""

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from billing.models import Invoice, Payment
from customer360.models import Customer, CustomerIdentity, TimelineEvent
from customer360.sources import services
from customer360.sources.models import ImportRun
from tests.billing.factories import at, make_invoice
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, errors, kinds, mapping, run_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_sandbox")]
VIENNA = ZoneInfo("Europe/Vienna")
TODAY = date(2025, 3, 10)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(at(TODAY), tick=False):
        yield


def state(external_id: str) -> tuple:
    invoice = Invoice.objects.get(external_id=external_id)
    return invoice.status, str(invoice.gross_total), str(invoice.paid_amount), str(invoice.open_amount)


# --- Invoices --------------------------------------------------------------------------------------
INVOICE_MAPPING = mapping(
    invoice_id="Rechnung",
    number="Nummer",
    external_id="Kundennr",
    email="E-Mail",
    issue_date="Rechnungsdatum",
    due_date="Fällig",
    amount="Betrag",
    status="Status",
    description="Beschreibung",
)
INVOICES = """Rechnung;Nummer;Kundennr;E-Mail;Rechnungsdatum;Fällig;Betrag;Status;Beschreibung
RE-1;2025-0001;K-1;anna@example.com;01.03.2025;15.03.2025;1.240,00;offen;Premium plan
RE-2;2025-0002;K-2;bert@example.com;01.02.2025;15.02.2025;490,00;bezahlt;Basic plan
RE-3;2025-0003;K-1;anna@example.com;03.01.2025;17.01.2025;95,50;storniert;Service hour
RE-4;2025-0004;K-3;carla@example.com;04.01.2025;18.01.2025;zwölf;offen;Falscher Betrag
RE-5;2025-0005;K-3;carla@example.com;05.01.2025;19.01.2025;100;verschollen;Falscher Status
RE-6;2025-0006;K-4;;20.01.2025;03.02.2025;80;;Wartung
RE-1;2025-0001;K-1;anna@example.com;01.03.2025;15.03.2025;1.240,00;offen;Premium plan
"""


def test_invoice_file_creates_invoices_with_their_state_and_events_then_reruns_unchanged():
    source = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")

    run = run_file(source, INVOICES, INVOICE_MAPPING)

    assert run.status == ImportRun.Status.DONE
    assert counts(run) == (4, 0, 0, 1, 2)
    assert state("RE-1") == ("issued", "1240.00", "0.00", "1240.00")
    assert state("RE-2") == ("paid", "490.00", "490.00", "0.00")  # the file says paid: paid in full
    assert state("RE-3") == ("cancelled", "95.50", "0.00", "0.00")
    assert state("RE-6") == ("overdue", "80.00", "0.00", "80.00")  # no status: open, and past due
    first = Invoice.objects.get(external_source="erp", external_id="RE-1")
    assert (first.number, first.issue_date, first.due_date, first.currency) == (
        "2025-0001",
        date(2025, 3, 1),
        date(2025, 3, 15),
        "EUR",
    )
    assert [
        (line.description, line.quantity, line.unit_price, line.tax_rate) for line in first.lines.all()
    ] == [("Premium plan", Decimal("1.000"), Decimal("1240.00"), Decimal("0.00"))]
    assert (first.net_total, first.tax_total) == (Decimal("1240.00"), Decimal("0.00"))
    assert first.customer.identities.filter(kind="external_id", source="erp", value="K-1").exists()
    assert Invoice.objects.get(external_id="RE-3").customer == first.customer
    assert kinds(department="accounting") == [
        "invoice.cancelled",
        "invoice.issued",
        "invoice.issued",
        "invoice.issued",
        "invoice.issued",
        "invoice.paid",
    ]
    issued = TimelineEvent.objects.get(idempotency_key="erp:billing.invoice:RE-1:issued")
    assert (issued.title, issued.kind, issued.channel, issued.direction) == (
        "Invoice 2025-0001 issued: EUR 1,240.00, due 15 Mar 2025",
        "invoice.issued",
        "email",
        "outbound",
    )
    assert issued.occurred_at == datetime(2025, 3, 1, 12, 0, tzinfo=VIENNA)
    assert issued.source_url == f"/billing/invoices/{first.pk}/"
    assert issued.payload == {
        "invoice_id": first.pk,
        "number": "2025-0001",
        "amount": "1240.00",
        "currency": "EUR",
        "due_date": "2025-03-15",
    }
    paid = TimelineEvent.objects.get(idempotency_key="erp:billing.invoice:RE-2:paid")
    assert paid.title == "Invoice 2025-0002 paid: EUR 490.00"
    assert TimelineEvent.objects.get(kind="invoice.cancelled").title == "Invoice 2025-0003 cancelled"
    assert errors(run) == {
        "5": 'Column "Betrag": "zwölf" is not a decimal number',
        "6": 'Column "Status": "verschollen" is not one of draft, issued, partially_paid, paid, overdue, '
        "cancelled, disputed",
    }

    again = run_file(source, INVOICES, INVOICE_MAPPING)

    assert counts(again) == (0, 0, 4, 1, 2)
    assert (Invoice.objects.count(), Customer.objects.count(), TimelineEvent.objects.count()) == (4, 3, 6)


def test_invoice_reimport_updates_amount_and_status_once_and_refuses_impossible_transitions():
    source = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    run_file(source, INVOICES, INVOICE_MAPPING)
    changed = """Rechnung;Betrag;Status;Bezahlt am
RE-1;1.300,00;bezahlt;08.03.2025
RE-6;85,00;strittig;
RE-3;95,50;offen;
RE-2;490,00;Entwurf;
RE-7;20,00;offen;
"""
    columns = mapping(invoice_id="Rechnung", amount="Betrag", status="Status", paid_on="Bezahlt am")

    run = run_file(source, changed, columns)
    rerun = run_file(source, changed, columns)

    assert counts(run) == (0, 2, 0, 0, 3)
    assert counts(rerun) == (0, 0, 2, 0, 3)
    assert state("RE-1") == ("paid", "1300.00", "1300.00", "0.00")
    assert Invoice.objects.get(external_id="RE-1").lines.get().unit_price == Decimal("1300.00")
    assert state("RE-6") == ("disputed", "85.00", "0.00", "85.00")
    assert Invoice.objects.get(external_id="RE-6").disputed
    paid = TimelineEvent.objects.get(idempotency_key="erp:billing.invoice:RE-1:paid")
    assert (paid.title, paid.occurred_at) == (
        "Invoice 2025-0001 paid: EUR 1,300.00",
        datetime(2025, 3, 8, 12, 0, tzinfo=VIENNA),
    )
    disputed = TimelineEvent.objects.get(kind="invoice.disputed")
    assert disputed.title == "Invoice 2025-0006 disputed: dunning stopped"
    assert errors(run) == {
        "4": 'Column "Status": "offen" cannot be applied: the invoice is already cancelled',
        "5": 'Column "Status": "Entwurf" cannot be applied: the invoice is already paid',
        "6": "No customer identifier: map an external id, e-mail or phone column.",
    }

    resolved = run_file(
        source, "Rechnung;Status\nRE-6;offen\n", mapping(invoice_id="Rechnung", status="Status")
    )

    assert counts(resolved) == (0, 1, 0, 0, 0)
    assert state("RE-6") == ("overdue", "85.00", "0.00", "85.00")
    assert TimelineEvent.objects.get(kind="invoice.dispute_resolved").title == (
        "Dispute about invoice 2025-0006 resolved"
    )


def test_a_new_invoice_needs_amount_and_due_date_and_a_free_number():
    source = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    make_invoice(CustomerFactory(), number="2025-0100")  # booked by hand
    text = """Rechnung;Kunde;Nummer;Fällig;Betrag
N-1;K-1;2025-0100;31.03.2025;10
N-2;K-1;;31.03.2025;
N-3;K-1;;;10
N-4;K-1;2025-0200;31.03.2025;10
N-5;K-2;2025-0200;31.03.2025;10
"""
    columns = mapping(
        invoice_id="Rechnung", external_id="Kunde", number="Nummer", due_date="Fällig", amount="Betrag"
    )

    run = run_file(source, text, columns)

    assert counts(run) == (1, 0, 0, 0, 4)
    assert errors(run) == {
        "2": 'Column "Nummer": "2025-0100" is already the number of another invoice',
        "3": 'Column "Betrag": "" is empty, but a new record needs it',
        "4": 'Column "Fällig": "" is empty, but a new record needs it',
        "6": 'Column "Nummer": "2025-0200" is already the number of another invoice',
    }
    assert Invoice.objects.get(number="2025-0200").external_id == "N-4"
    assert Customer.objects.count() == 2  # the hand-booked one and K-1: refused rows create nobody


# --- Payments --------------------------------------------------------------------------------------
PAYMENT_MAPPING = mapping(
    payment_id="Zahlung",
    invoice="Rechnung",
    amount="Betrag",
    paid_on="Datum",
    method="Zahlungsart",
)
PAYMENTS = """Zahlung;Rechnung;Betrag;Datum;Zahlungsart
Z-1;RE-1;240,00;05.03.2025;Überweisung
Z-2;2025-0001;1.000,00;06.03.2025;Lastschrift
Z-3;RE-404;10,00;06.03.2025;bar
Z-4;RE-3;10,00;06.03.2025;bar
Z-5;RE-2;490,00;14.02.2025;Karte
Z-6;RE-6;100,00;07.03.2025;Überweisung
Z-1;RE-1;240,00;05.03.2025;Überweisung
"""


def test_payment_file_pays_invoices_like_the_services_and_refuses_unknown_invoices():
    invoices = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    run_file(invoices, INVOICES, INVOICE_MAPPING)
    bank = DataSourceFactory(slug="bank", target="billing.payment", department="accounting")

    run = run_file(bank, PAYMENTS, PAYMENT_MAPPING)

    assert counts(run) == (3, 0, 0, 1, 3)
    assert state("RE-1") == ("paid", "1240.00", "1240.00", "0.00")
    assert state("RE-2") == ("paid", "490.00", "490.00", "0.00")  # paid by the file, the payment is its part
    assert state("RE-6") == ("overdue", "80.00", "0.00", "80.00")
    first = Payment.objects.get(external_source="bank", external_id="Z-1")
    assert (first.invoice.external_id, first.amount, first.method, first.received_at) == (
        "RE-1",
        Decimal("240.00"),
        "bank_transfer",
        datetime(2025, 3, 5, 12, 0, tzinfo=VIENNA),
    )
    assert Payment.objects.get(external_id="Z-2").method == "direct_debit"
    received = TimelineEvent.objects.filter(kind="payment.received").order_by("occurred_at")
    assert [(e.title, e.department, e.direction) for e in received] == [
        ("Payment EUR 490.00 received: invoice 2025-0002 paid in full", "accounting", "inbound"),
        ("Payment EUR 240.00 received: invoice 2025-0001, EUR 1,000.00 still open", "accounting", "inbound"),
        ("Payment EUR 1,000.00 received: invoice 2025-0001 paid in full", "accounting", "inbound"),
    ]
    last = TimelineEvent.objects.get(idempotency_key="bank:billing.payment:Z-2:received")
    assert last.payload == {
        "invoice_id": first.invoice_id,
        "number": "2025-0001",
        "payment_id": Payment.objects.get(external_id="Z-2").pk,
        "amount": "1000.00",
        "open_amount": "0.00",
        "paid_in_full": True,
        "dunning_level": 0,
        "currency": "EUR",
    }
    assert errors(run) == {
        "4": 'Column "Rechnung": "RE-404" matches no invoice: neither an imported invoice id nor an invoice '
        "number",
        "5": 'Column "Rechnung": "RE-3" is a cancelled invoice, which cannot be paid',
        "7": 'Column "Betrag": "100.00" is more than the open amount of EUR 80.00',
    }

    again = run_file(bank, PAYMENTS, PAYMENT_MAPPING)

    assert counts(again) == (0, 0, 3, 1, 3)
    assert (Payment.objects.count(), TimelineEvent.objects.filter(kind="payment.received").count()) == (3, 3)


def test_a_corrected_payment_amount_updates_the_invoice_without_a_second_event():
    invoices = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    run_file(invoices, INVOICES, INVOICE_MAPPING)
    bank = DataSourceFactory(slug="bank", target="billing.payment", department="accounting")
    run_file(bank, "Zahlung;Rechnung;Betrag\nZ-1;RE-1;240,00\n", PAYMENT_MAPPING)
    assert state("RE-1") == ("partially_paid", "1240.00", "240.00", "1000.00")

    run = run_file(bank, "Zahlung;Rechnung;Betrag\nZ-1;RE-1;300,00\nZ-9;RE-1;1.000,00\n", PAYMENT_MAPPING)

    assert counts(run) == (0, 1, 0, 0, 1)
    assert errors(run) == {"3": 'Column "Betrag": "1000.00" is more than the open amount of EUR 940.00'}
    assert state("RE-1") == ("partially_paid", "1240.00", "300.00", "940.00")
    assert TimelineEvent.objects.filter(kind="payment.received").count() == 1


def test_refusals_name_the_column_when_money_or_references_do_not_fit():
    erp = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    run_file(erp, INVOICES, INVOICE_MAPPING)
    shop = DataSourceFactory(slug="shop", target="billing.invoice", department="accounting")
    run_file(shop, "Rechnung;Nummer;Kundennr;Fällig;Betrag\nRE-1;S-1;K-9;31.03.2025;50\n", INVOICE_MAPPING)
    bank = DataSourceFactory(slug="bank", target="billing.payment", department="accounting")
    run_file(bank, "Zahlung;Rechnung;Betrag\nZ-1;2025-0001;240,00\n", PAYMENT_MAPPING)
    columns = mapping(invoice_id="Rechnung", amount="Betrag", status="Status", due_date="Fällig")

    cancel = run_file(erp, "Rechnung;Status;Fällig\nRE-1;storniert;\nRE-6;;01.01.2025\n", columns)
    lower = run_file(erp, "Rechnung;Betrag\nRE-1;200,00\n", columns)
    moved = run_file(bank, "Zahlung;Rechnung;Betrag\nZ-1;2025-0006;240,00\nZ-2;RE-1;10,00\n", PAYMENT_MAPPING)

    assert errors(cancel) == {
        "2": 'Column "Status": "storniert" cannot be applied: the invoice has payments of EUR 240.00',
        "3": 'Column "Fällig": "2025-01-01" lies before the issue date',
    }
    assert errors(lower) == {"2": 'Column "Betrag": "200.00" is less than the payments recorded (EUR 240.00)'}
    assert errors(moved) == {
        "2": 'Column "Rechnung": "2025-0006" cannot be applied: the payment is booked on invoice 2025-0001',
        "3": 'Column "Rechnung": "RE-1" is an invoice id of several data sources; use the invoice number',
    }
    assert state("RE-6") == ("overdue", "80.00", "0.00", "80.00")
    assert Invoice.objects.get(external_source="erp", external_id="RE-1").status == "partially_paid"


# --- Bulk API --------------------------------------------------------------------------------------
def _post(slug, token, records):
    return Client().post(
        f"/api/sources/{slug}/records",
        json.dumps({"records": records}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_bulk_api_writes_invoices_and_payments_idempotently_by_their_ids():
    source = DataSourceFactory(
        slug="shop-invoices", kind="api", target="billing.invoice", department="accounting"
    )
    token = services.source_issue_token(source=source)
    invoice = {
        "invoice_id": "W-1",
        "email": "dora@example.com",
        "amount": "99,90",
        "issue_date": "2025-03-09",
        "due_date": "2025-03-23",
        "currency": "EUR",
    }
    records = [invoice, {**invoice, "invoice_id": "W-2", "currency": "USD"}, {"email": "x@example.com"}]

    body = _post("shop-invoices", token, records).json()

    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("accepted", ""),
        ("rejected", 'Column "currency": "USD" is not EUR; amounts in other currencies are not converted'),
        ("rejected", 'Column "invoice_id, invoice_id": "" is required'),  # core repeats the id field
    ]
    assert state("W-1") == ("issued", "99.90", "0.00", "99.90")
    assert _post("shop-invoices", token, [invoice]).json()["results"][0]["status"] == "duplicate"

    payments = DataSourceFactory(
        slug="shop-payments", kind="api", target="billing.payment", department="accounting"
    )
    payment_token = services.source_issue_token(source=payments)
    payment = {
        "payment_id": "P-1",
        "invoice": "W-1",
        "amount": "99.90",
        "paid_on": "2025-03-10",
        "email": "dora@example.com",
    }
    stranger = {"payment_id": "P-2", "invoice": "W-1", "amount": "1", "email": "someone@example.com"}
    CustomerIdentity.objects.create(customer=CustomerFactory(), kind="email", value="someone@example.com")

    body = _post("shop-payments", payment_token, [payment, stranger]).json()

    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("accepted", ""),
        ("rejected", 'Column "email": "someone@example.com" belongs to another customer than invoice W-1'),
    ]
    assert state("W-1") == ("paid", "99.90", "99.90", "0.00")
    assert Payment.objects.get(external_id="P-1").received_at == datetime(2025, 3, 10, 12, 0, tzinfo=VIENNA)
    assert _post("shop-payments", payment_token, [payment]).json()["results"][0]["status"] == "duplicate"
    assert kinds(payload__invoice_id=Invoice.objects.get(external_id="W-1").pk) == [
        "invoice.issued",
        "payment.received",
    ]


@pytest.mark.django_db
def test_an_invoice_repeated_in_a_later_chunk_is_a_duplicate_naming_its_first_row(settings):
    """#15: the department targets count a record id repeated across chunks as a duplicate, like
    the events and customers targets, not as "unchanged" or "updated"."""
    settings.C360_IMPORT_CHUNK_ROWS = 2
    source = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    text = INVOICES.splitlines()
    # RE-1 (row 2) comes back at row 8, three chunks later, with another amount: still a duplicate.
    repeated = text[7].replace("1.240,00", "1.300,00")
    run = run_file(source, "\n".join([*text[:7], repeated]) + "\n", INVOICE_MAPPING)
    created, updated, unchanged, duplicate, failed = counts(run)
    assert (duplicate, updated, unchanged) == (1, 0, 0)
    assert str(Invoice.objects.get(external_id="RE-1").gross_total) == "1240.00"
    again = run_file(source, "\n".join([*text[:7], repeated]) + "\n", INVOICE_MAPPING)
    assert counts(again)[3] == 1 and counts(again)[1] == 0
