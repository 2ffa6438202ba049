"""Backfill the payload fields that billing.events declares into existing accounting events, from
their invoice, payments and notices, so that old events render in the reader's language too.

Batched by id (10,000 events a batch, one read of their invoices, payments and notices each), so it
works at millions of events. Events whose source is gone keep their stored text (they are not
rendered from a payload that lacks a declared field). The reverse is a no-op: the added fields are
harmless to the old code.
"""

from collections import defaultdict
from decimal import Decimal

from django.db import migrations

BATCH = 10_000
KINDS = (
    "invoice.issued",
    "invoice.paid",
    "invoice.cancelled",
    "invoice.disputed",
    "invoice.dispute_resolved",
    "payment.received",
    "payment.promised",
    "dunning.paused",
    "dunning.resumed",
    "dunning.notice",
    "dunning.handed_over",
)


def _invoice_id(event):
    value = event.payload.get("invoice_id") or event.source_id
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _payment_fields(payload, invoice, payments, used):
    """The payment of the same amount on the invoice (each used once), and the level then."""
    amount = Decimal(str(payload.get("amount", "0")))
    for payment in payments.get(invoice.pk, []):
        if payment.amount == amount and payment.pk not in used:
            used.add(payment.pk)
            payload.setdefault("payment_id", payment.pk)
            break
    payload.setdefault("dunning_level", invoice.dunning_level)
    if "open_amount" in payload:
        payload.setdefault("paid_in_full", Decimal(str(payload["open_amount"])) <= 0)


def _notice_fields(event, payload, invoice, notices, levels):
    level = int(payload.get("level", 0) or 0)
    by_level = notices.get(invoice.pk, {})
    notice = by_level.get(level)
    if notice is None:
        return
    fees_before = sum((n.fee for lv, n in by_level.items() if lv < level), Decimal("0.00"))
    payload.setdefault("amount", str(max(notice.open_amount - fees_before, Decimal("0.00"))))
    payload.setdefault("open_amount", str(notice.open_amount + notice.fee))
    payload.setdefault("fee", str(notice.fee))
    payload.setdefault("notice_channel", notice.channel)
    payload.setdefault("days_overdue", max((notice.sent_at.date() - invoice.due_date).days, 0))
    name = levels.get(level)
    if name is not None:
        payload.setdefault("level_name", name)


def _fill(event, invoice, payments, notices, levels, used) -> bool:
    payload = dict(event.payload or {})
    before = dict(payload)
    payload.setdefault("invoice_id", invoice.pk)
    payload.setdefault("number", invoice.number)
    payload.setdefault("currency", invoice.currency)
    if event.kind in ("invoice.issued", "invoice.paid"):
        payload.setdefault("amount", str(invoice.gross_total))
        payload.setdefault("due_date", invoice.due_date.isoformat())
    elif event.kind == "payment.received":
        _payment_fields(payload, invoice, payments, used)
    elif event.kind in ("dunning.notice", "dunning.handed_over"):
        _notice_fields(event, payload, invoice, notices, levels)
    elif event.kind in ("dunning.paused", "dunning.resumed"):
        payload.setdefault("level", invoice.dunning_level)
        if event.kind == "dunning.paused":
            payload.setdefault("until", None)
    if payload == before:
        return False
    event.payload = payload
    return True


def backfill(apps, schema_editor):
    TimelineEvent = apps.get_model("customer360", "TimelineEvent")
    Invoice = apps.get_model("billing", "Invoice")
    Payment = apps.get_model("billing", "Payment")
    DunningNotice = apps.get_model("billing", "DunningNotice")
    DunningLevel = apps.get_model("billing", "DunningLevel")
    policy_levels = DunningLevel.objects.filter(policy__is_active=True).order_by("policy_id", "level")
    levels = {}
    for level in policy_levels:
        levels.setdefault(level.level, level.name)
    events = TimelineEvent.objects.filter(department="accounting", kind__in=KINDS)
    last = 0
    used: set[int] = set()
    while True:
        batch = list(events.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not batch:
            break
        last = batch[-1].pk
        ids = {i for i in map(_invoice_id, batch) if i is not None}
        invoices = Invoice.objects.in_bulk(ids)
        payments = defaultdict(list)
        for payment in Payment.objects.filter(invoice_id__in=ids).order_by("received_at", "pk"):
            payments[payment.invoice_id].append(payment)
        notices = defaultdict(dict)
        for notice in DunningNotice.objects.filter(invoice_id__in=ids):
            notices[notice.invoice_id][notice.level] = notice
        changed = [
            event
            for event in batch
            if (invoice := invoices.get(_invoice_id(event))) is not None
            and _fill(event, invoice, payments, notices, levels, used)
        ]
        TimelineEvent.objects.bulk_update(changed, ["payload"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_invoice_customer_protect"),
        ("customer360", "0010_customer_assignments"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
