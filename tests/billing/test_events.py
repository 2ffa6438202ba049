"""Services, imports and demo data write the same accounting events (billing.events), and the
timeline renders them in the reader's language."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.utils import translation

from billing import events as billing_events
from billing import services
from billing.models import Invoice
from customer360 import events
from customer360.demo import run_seeders
from customer360.models import TimelineEvent
from tests.billing.factories import at, make_invoice
from tests.billing.test_imports import INVOICE_MAPPING, PAYMENT_MAPPING
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import run_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_sandbox")]
TODAY = date(2025, 3, 10)


def shapes() -> list[tuple]:
    """What must agree between the paths: kind, title, payload keys, audience, channel, direction."""
    rows = TimelineEvent.objects.filter(department="accounting").order_by("occurred_at", "id")
    return [(e.kind, e.title, sorted(e.payload), e.audience, e.channel, e.direction) for e in rows]


def test_services_and_imports_write_identical_events_for_the_same_invoice():
    customer = CustomerFactory(email="anna@example.com")
    with time_machine.travel(at(TODAY), tick=False):
        invoice = make_invoice(
            customer, issue_date=date(2025, 3, 1), due_date=date(2025, 3, 15), number="2025-0001"
        )
        services.invoice_record_payment(invoice=invoice, amount=Decimal("240.00"))
        services.invoice_record_payment(invoice=invoice, amount=Decimal("1000.00"))
        by_services = shapes()
        TimelineEvent.objects.all().delete()
        Invoice.objects.all().delete()

        erp = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
        run_file(
            erp,
            "Rechnung;Nummer;Kundennr;E-Mail;Rechnungsdatum;Fällig;Betrag;Status;Beschreibung\n"
            "RE-1;2025-0001;K-1;anna@example.com;01.03.2025;15.03.2025;1.240,00;offen;Basic plan\n",
            INVOICE_MAPPING,
        )
        bank = DataSourceFactory(slug="bank", target="billing.payment", department="accounting")
        run_file(
            bank,
            "Zahlung;Rechnung;Betrag;Datum;Zahlungsart\n"
            "Z-1;RE-1;240,00;10.03.2025;Überweisung\nZ-2;2025-0001;1.000,00;10.03.2025;Lastschrift\n",
            PAYMENT_MAPPING,
        )
        by_imports = shapes()

    assert by_imports == by_services
    assert [row[:2] for row in by_services] == [
        ("invoice.issued", "Invoice 2025-0001 issued: EUR 1,240.00, due 15 Mar 2025"),
        ("payment.received", "Payment EUR 240.00 received: invoice 2025-0001, EUR 1,000.00 still open"),
        ("payment.received", "Payment EUR 1,000.00 received: invoice 2025-0001 paid in full"),
    ]
    payment_keys = by_services[1][2]
    assert {"payment_id", "number", "dunning_level", "currency"} <= set(payment_keys)


def test_demo_events_have_the_declared_payloads_and_titles():
    """The demo seeder writes every event as the declaration builds it: the stored title is the
    declaration's English rendering of the payload, and the payload holds the declared fields."""
    run_seeders(count=60, seed=3, today=date(2026, 11, 27), stdout=lambda *_: None, only=["billing"])
    seen = set()
    for event in TimelineEvent.objects.filter(department="accounting"):
        declaration = events.get(event.kind)
        assert declaration is not None, event.kind
        required = {f.name for f in declaration.fields if f.required} | {"currency"}
        assert required <= set(event.payload) <= {f.name for f in declaration.fields} | {"currency"}
        title, summary = declaration.stored_texts(event.payload)
        assert event.title == title
        assert event.summary == (summary or event.summary)
        assert event.direction == declaration.direction
        seen.add(event.kind)
    assert {"invoice.issued", "payment.received", "dunning.notice", "dunning.handed_over"} <= seen
    assert seen <= set(events.kinds(department="accounting"))


def test_notice_renders_in_german_from_its_payload(customer, accounting_user):
    invoice = make_invoice(customer, number="2026-0142", actor=accounting_user)  # EUR 1,240.00
    services.invoice_record_payment(invoice=invoice, amount=Decimal("1000.00"))
    services.dunning_pause(invoice=invoice, until=date(2099, 1, 13))
    paused = TimelineEvent.objects.get(kind=billing_events.DUNNING_PAUSED.kind)
    payment = TimelineEvent.objects.get(kind=billing_events.PAYMENT_RECEIVED.kind)
    with translation.override("de"):
        assert paused.display_title == "Mahnwesen der Rechnung 2026-0142 pausiert bis 13.01.2099"
        assert payment.display_title == (
            "Zahlung EUR 1.000,00 erhalten: Rechnung 2026-0142, EUR 240,00 noch offen"
        )
    with translation.override("en"):
        assert payment.display_title == (
            "Payment EUR 1,000.00 received: invoice 2026-0142, EUR 240.00 still open"
        )


def invoice_state(invoice: Invoice) -> tuple:
    invoice.refresh_from_db()
    return invoice.status, invoice.disputed, str(invoice.paid_amount), str(invoice.open_amount)


HEADER = "Rechnung;Nummer;Kundennr;E-Mail;Rechnungsdatum;Fällig;Betrag;Status;Beschreibung\n"


@pytest.mark.parametrize(
    ("steps", "statuses"),
    [
        (("dispute", "resolve"), ("strittig", "offen")),
        (("dispute", "cancel"), ("strittig", "storniert")),
        (("cancel",), ("storniert",)),
    ],
)
def test_cancel_dispute_and_resolve_are_one_rule_for_services_and_imports(steps, statuses):
    """The invoice's own methods (Invoice.cancel, .dispute, .resolve_dispute) decide for both paths:
    the same state after each step, the same events (kind, title, payload keys, audience)."""
    customer = CustomerFactory(email="anna@example.com")
    with time_machine.travel(at(TODAY), tick=False):
        invoice = make_invoice(
            customer, issue_date=date(2025, 3, 1), due_date=date(2025, 3, 15), number="2025-0001"
        )
        actions = {
            "dispute": lambda: services.invoice_dispute(invoice=invoice, reason="Falsche Menge"),
            "resolve": lambda: services.invoice_resolve_dispute(invoice=invoice),
            "cancel": lambda: services.invoice_cancel(invoice=invoice),
        }
        by_services = []
        for step in steps:
            actions[step]()
            by_services.append(invoice_state(invoice))
        events_by_services = shapes()
        TimelineEvent.objects.all().delete()
        Invoice.objects.all().delete()

        erp = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
        row = "RE-1;2025-0001;K-1;anna@example.com;01.03.2025;15.03.2025;1.240,00;{};Basic plan\n"
        run_file(erp, HEADER + row.format("offen"), INVOICE_MAPPING)
        by_import = []
        for status in statuses:
            run_file(erp, HEADER + row.format(status), INVOICE_MAPPING)
            by_import.append(invoice_state(Invoice.objects.get(external_id="RE-1")))
        events_by_import = shapes()

    assert by_import == by_services
    assert events_by_import == events_by_services
    assert by_services[-1][:2] == {"resolve": ("issued", False), "cancel": ("cancelled", False)}[steps[-1]]
    assert [e[0] for e in events_by_services] == ["invoice.issued"] + [
        {"dispute": "invoice.disputed", "resolve": "invoice.dispute_resolved", "cancel": "invoice.cancelled"}[
            s
        ]
        for s in steps
    ]
