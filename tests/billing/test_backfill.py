"""billing's data migration 0005: old accounting events get the payload fields billing.events declares,
from their invoice, payments and notices, so that they render in the reader's language too.

PostgreSQL builds the fields in SQL, other databases in Python: both must write exactly what the
services write (and, on PostgreSQL, exactly what the Python path writes, edge cases included)."""

import datetime
import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.utils import timezone, translation

from billing import events, services
from customer360.models import TimelineEvent
from tests.billing.factories import at, make_invoice

pytestmark = pytest.mark.django_db
migration = importlib.import_module("billing.migrations.0005_backfill_event_payloads")
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL path is PostgreSQL's")

ISSUED = datetime.date(2026, 1, 5)
DUE = datetime.date(2026, 1, 19)
# The fields the migration fills, per kind (the others are what old events already carried).
COMMON = ("number", "currency")
FILLED = {
    "invoice.issued": (*COMMON, "amount", "due_date"),
    "invoice.paid": (*COMMON, "amount", "due_date"),
    "invoice.cancelled": COMMON,
    "invoice.disputed": COMMON,
    "invoice.dispute_resolved": COMMON,
    "payment.received": (*COMMON, "payment_id", "dunning_level", "paid_in_full"),
    "payment.promised": COMMON,
    "dunning.notice": (
        *COMMON,
        "amount",
        "open_amount",
        "fee",
        "notice_channel",
        "days_overdue",
        "level_name",
    ),
    "dunning.handed_over": (
        *COMMON,
        "amount",
        "open_amount",
        "fee",
        "notice_channel",
        "days_overdue",
        "level_name",
    ),
    "dunning.paused": (*COMMON, "level"),
    "dunning.resumed": (*COMMON, "level"),
}


GERMAN_TITLES = [
    "Rechnung 2026-0142 ausgestellt: EUR 1.240,00, fällig am 19.01.2026",
    "Zahlung EUR 1.000,00 erhalten: Rechnung 2026-0142, EUR 240,00 noch offen",
    "Zahlung EUR 240,00 erhalten: Rechnung 2026-0142 vollständig bezahlt",
    "Rechnung 2026-0142 bezahlt: EUR 1.240,00",
    "Rechnung 2026-0143 ausgestellt: EUR 1.240,00, fällig am 19.01.2026",
    "Rechnung 2026-0147 ausgestellt: EUR 1.240,00, fällig am 19.01.2026",
    "Rechnung 2026-0143 überfällig: Mahnstufe 1, EUR 1.240,00",
    "Rechnung 2026-0147 überfällig: Mahnstufe 1, EUR 1.240,00",
    "Rechnung 2026-0143 überfällig: Mahnstufe 2, EUR 1.240,00",
    "Rechnung 2026-0147 überfällig: Mahnstufe 2, EUR 1.240,00",
    "Mahnwesen der Rechnung 2026-0143 pausiert bis 28.02.2026",
    "Mahnwesen der Rechnung 2026-0143 fortgesetzt",
    "Mahnwesen der Rechnung 2026-0143 pausiert",
    "Rechnung 2026-0147 überfällig: Mahnstufe 3, EUR 1.240,00",
    "Rechnung 2026-0147 an Inkasso übergeben: Mahnstufe 4, EUR 1.240,00",
    "Zahlung EUR 300,00 erhalten: Rechnung 2026-0143, EUR 950,00 noch offen",
    "Rechnung 2026-0144 ausgestellt: EUR 1.240,00, fällig am 19.01.2026",
    "Zahlung EUR 100,00 erhalten: Rechnung 2026-0144, EUR 1.140,00 noch offen",
    "Zahlung EUR 100,00 erhalten: Rechnung 2026-0144, EUR 1.040,00 noch offen",
    "Zahlung EUR 100,00 erhalten: Rechnung 2026-0144, EUR 940,00 noch offen",
    "Rechnung 2026-0145 ausgestellt: EUR 1.240,00, fällig am 19.01.2026",
    "Rechnung 2026-0145 beanstandet: Mahnwesen gestoppt",
    "Beanstandung der Rechnung 2026-0145 geklärt",
    "Zahlung der Rechnung 2026-0145 bis 24.01.2026 zugesagt (EUR 1.240,00)",
    "Rechnung 2026-0146 ausgestellt: EUR 1.240,00, fällig am 19.01.2026",
    "Rechnung 2026-0146 storniert",
]


def day(offset: int) -> datetime.date:
    return DUE + datetime.timedelta(days=offset)


def new_invoice(customer, number: str, **kwargs):
    with time_machine.travel(at(ISSUED), tick=False):
        return make_invoice(customer, issue_date=ISSUED, due_date=DUE, number=number, **kwargs)


@pytest.fixture
def accounting_history(customer):
    """Invoices through every step the migration fills: paid in two parts, dunned twice, paused and
    resumed, three payments of one amount, disputed and resolved, promised, cancelled."""
    paid = new_invoice(customer, "2026-0142")  # EUR 1,240.00
    services.invoice_record_payment(invoice=paid, amount=Decimal("1000.00"))
    services.invoice_record_payment(invoice=paid, amount=Decimal("240.00"))
    values = {**events.invoice_fields(paid), "amount": paid.gross_total, "due_date": paid.due_date}
    events.INVOICE_PAID.record(  # as the invoice import records a paid invoice
        customer=customer, key="import-paid", payload=events.INVOICE_PAID.payload(**values), source=paid
    )
    dunned = new_invoice(customer, "2026-0143")
    new_invoice(customer, "2026-0147")  # dunned up to the hand-over
    for offset in (8, 22):
        with time_machine.travel(at(day(offset)), tick=False):
            services.dunning_run()
    services.dunning_pause(invoice=dunned, until=day(40), today=day(23))
    services.dunning_resume(invoice=dunned)
    services.dunning_pause(invoice=dunned, today=day(23))
    for offset in (36, 50):
        with time_machine.travel(at(day(offset)), tick=False):
            services.dunning_run()
    services.invoice_record_payment(invoice=dunned, amount=Decimal("300.00"))
    split = new_invoice(customer, "2026-0144")
    for minute in (1, 2, 3):
        received = timezone.now() + datetime.timedelta(minutes=minute)
        services.invoice_record_payment(invoice=split, amount=Decimal("100.00"), received_at=received)
    disputed = new_invoice(customer, "2026-0145")
    services.invoice_dispute(invoice=disputed, reason="Wrong amount")
    services.invoice_resolve_dispute(invoice=disputed)
    services.invoice_promise_payment(invoice=disputed, promised_date=day(5), today=ISSUED)
    services.invoice_cancel(invoice=new_invoice(customer, "2026-0146"), reason="Duplicate")
    return {e.pk: e.payload for e in TimelineEvent.objects.filter(department="accounting")}


def make_old(written: dict[int, dict]) -> None:
    """Each event's payload as before the declarations: without the fields the migration fills."""
    for pk, payload in written.items():
        kind = TimelineEvent.objects.get(pk=pk).kind
        old = {key: value for key, value in payload.items() if key not in FILLED[kind]}
        TimelineEvent.objects.filter(pk=pk).update(payload=old)


def payloads() -> dict[int, dict]:
    return dict(TimelineEvent.objects.filter(department="accounting").values_list("pk", "payload"))


def run_migration() -> None:
    # The migration reads only the connection of its schema editor (vendor and cursor).
    migration.forward(apps, SimpleNamespace(connection=connection))


def test_accounting_history_covers_every_kind_the_migration_fills(accounting_history):
    kinds = set(TimelineEvent.objects.filter(pk__in=accounting_history).values_list("kind", flat=True))
    assert kinds == set(migration.KINDS)


def test_old_events_get_back_what_the_services_wrote_and_read_in_german(accounting_history):
    make_old(accounting_history)
    payment = TimelineEvent.objects.filter(kind="payment.received").order_by("pk").first()
    with translation.override("de"):
        assert payment.display_title.startswith("Payment EUR 1,000.00")  # the stored English text

    run_migration()

    assert payloads() == accounting_history
    events = TimelineEvent.objects.filter(department="accounting").order_by("pk")
    with translation.override("de"):
        titles = [e.display_title for e in events]
        summaries = {e.display_summary for e in events if e.kind == "dunning.notice"}
    assert titles == GERMAN_TITLES
    assert "Zahlungserinnerung per E-Mail, Gebühr EUR 0,00" in summaries, summaries


def test_payload_keys_and_unknown_invoices_win_over_the_backfill(accounting_history, customer):
    make_old(accounting_history)
    issued = TimelineEvent.objects.get(
        kind="invoice.issued", payload__invoice_id__isnull=False, title__contains="0142"
    )
    TimelineEvent.objects.filter(pk=issued.pk).update(
        payload={"invoice_id": issued.payload["invoice_id"], "number": "OLD-1"}
    )
    orphan = TimelineEvent.objects.create(
        customer=customer,
        department="accounting",
        kind="invoice.issued",
        title="Invoice 1999-0001 issued",
        idempotency_key="orphan",
        occurred_at=timezone.now(),
        source_id="987654",
        payload={"invoice_id": 987654},
    )

    run_migration()

    issued.refresh_from_db()
    orphan.refresh_from_db()
    assert issued.payload["number"] == "OLD-1"
    assert issued.payload["amount"] == "1240.00" and issued.payload["due_date"] == "2026-01-19"
    assert orphan.payload == {"invoice_id": 987654}
    with translation.override("de"):
        assert orphan.display_title == "Invoice 1999-0001 issued"


def odd_events(customer) -> None:
    """Payloads the services never wrote but old rows may hold: the invoice named by the source id
    only, numbers as strings, a level without a notice, an amount without a payment, a repeat."""
    invoice_id = TimelineEvent.objects.get(kind="invoice.cancelled").source_id
    split_id = TimelineEvent.objects.filter(kind="payment.received").order_by("-pk")[0].source_id
    dunned = TimelineEvent.objects.get(kind="dunning.notice", payload__level=2, title__contains="0143")
    odd = [
        ("invoice.paid", invoice_id, {}),
        ("payment.received", split_id, {"amount": "100", "open_amount": 0}),  # a 4th event of 100
        ("payment.received", split_id, {"amount": "55.50", "open_amount": "12.00"}),
        ("payment.received", split_id, {"invoice_id": "", "amount": 100.0}),
        ("dunning.notice", dunned.source_id, {"level": "1"}),
        ("dunning.notice", dunned.source_id, {"level": 3}),
        ("dunning.handed_over", dunned.source_id, {"invoice_id": 0, "level": 2}),
        ("dunning.paused", "not-a-number", {"invoice_id": int(invoice_id)}),
        ("payment.promised", "12x", {}),
    ]
    for n, (kind, source_id, payload) in enumerate(odd):
        TimelineEvent.objects.create(
            customer=customer,
            department="accounting",
            kind=kind,
            title=f"old {kind}",
            idempotency_key=f"odd-{n}",
            occurred_at=timezone.now(),
            source_id=source_id,
            payload=payload,
        )


@postgresql_only
@pytest.mark.parametrize("emptied", [False, True], ids=["old-keys", "emptied"])
def test_sql_path_writes_exactly_what_the_python_path_writes(accounting_history, customer, emptied):
    odd_events(customer)
    make_old(accounting_history)
    if emptied:
        TimelineEvent.objects.filter(pk__in=accounting_history).update(payload={})
    before = payloads()

    migration._backfill_batched(apps)
    by_python = payloads()
    for pk, payload in before.items():
        TimelineEvent.objects.filter(pk=pk).update(payload=payload)
    migration._backfill_postgresql(apps, SimpleNamespace(connection=connection))

    assert payloads() == by_python
    assert by_python != before
