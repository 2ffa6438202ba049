"""Backfill the payload fields that billing.events declares into existing accounting events, from
their invoice, payments and notices, so that old events render in the reader's language too.

Keys a payload already has win. Events whose source is gone keep their stored text (they are not
rendered from a payload that lacks a declared field). A payment event gets the first payment of its
amount on its invoice (by receipt) that no earlier event took.

On PostgreSQL the fields are built in SQL: one statement computes every event's fields into a
temporary table (the payment matching needs all events at once: the n-th event of an amount on an
invoice gets the n-th payment of that amount), then one ``UPDATE ... FROM`` per range of 100,000
event ids merges them, so it works at millions of events. Elsewhere batches of 10,000 events, one read
of their invoices, payments and notices each. Both write the same payloads. The reverse is a no-op:
the added fields are harmless to the old code.
"""

from collections import defaultdict
from decimal import Decimal

from django.db import migrations

from customer360.migration_helpers import update_events_by_id_range

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


def _backfill_batched(apps):
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


# --- PostgreSQL: the same fields in SQL --------------------------------------------------------------
ISSUED = ("invoice.issued", "invoice.paid")
NOTICES = ("dunning.notice", "dunning.handed_over")
STATES = ("dunning.paused", "dunning.resumed")
FIELDS_TABLE = "billing_backfill_event_fields"


def _int_sql(text: str) -> str:
    """``int(value)`` of a JSON value's text: digits, as every path writes ids and levels (else NULL)."""
    return f"CASE WHEN btrim({text}) ~ '^[0-9]{{1,18}}$' THEN btrim({text})::bigint END"


def _decimal_sql(text: str) -> str:
    """``Decimal(str(value))`` of a JSON value's text (NULL when it is no plain number: the Python
    path would stop the migration there)."""
    return f"CASE WHEN btrim({text}) ~ '^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)$' THEN btrim({text})::numeric END"


# _invoice_id(): the payload's invoice_id when truthy, else the event's source id.
FALSY = "('null', '0', 'false', '\"\"', '[]', '{}')"
INVOICE_REF = (
    f"CASE WHEN e.payload->'invoice_id' IS NULL OR e.payload->'invoice_id' IN {FALSY} "
    "THEN e.source_id ELSE e.payload->>'invoice_id' END"
)
# _notice_fields(): int(payload.get("level", 0) or 0)
LEVEL = "COALESCE(" + _int_sql("e.payload->>'level'") + ", 0)"


def _fields_sql(tables: dict[str, str]) -> str:
    """SELECT of (event id, the fields _fill() would add) for every accounting event of KINDS whose
    invoice exists; NULL values are keys _fill() does not set (no source value is NULL)."""
    t = tables
    return f"""
    WITH ev AS (
        SELECT e.id, e.kind, e.payload, i.id AS invoice_id, {LEVEL} AS level,
               {_decimal_sql("e.payload->>'amount'")} AS amount
        FROM {t["event"]} e JOIN {t["invoice"]} i ON i.id = {_int_sql(INVOICE_REF)}
        WHERE e.department = 'accounting' AND e.kind = ANY(%(kinds)s) AND jsonb_typeof(e.payload) = 'object'
    ), payment_events AS (
        SELECT id, invoice_id, amount, row_number() OVER (PARTITION BY invoice_id, amount ORDER BY id) AS n
        FROM ev WHERE kind = 'payment.received' AND amount IS NOT NULL
    ), payments AS (
        SELECT id, invoice_id, amount,
               row_number() OVER (PARTITION BY invoice_id, amount ORDER BY received_at, id) AS n
        FROM {t["payment"]} WHERE invoice_id IN (SELECT invoice_id FROM payment_events)
    ), matched AS (
        SELECT pe.id AS event_id, p.id AS payment_id FROM payment_events pe
        JOIN payments p ON p.invoice_id = pe.invoice_id AND p.amount = pe.amount AND p.n = pe.n
    ), level_names AS (
        SELECT DISTINCT ON (l.level) l.level, l.name FROM {t["level"]} l
        JOIN {t["policy"]} pol ON pol.id = l.policy_id WHERE pol.is_active ORDER BY l.level, l.policy_id
    )
    SELECT ev.id, jsonb_strip_nulls(jsonb_build_object(
        'invoice_id', i.id, 'number', i.number, 'currency', i.currency,
        'amount', CASE WHEN ev.kind = ANY(%(issued)s) THEN i.gross_total::text
                       WHEN n.id IS NOT NULL THEN GREATEST(n.open_amount - fees.before, 0.00)::text END,
        'due_date', CASE WHEN ev.kind = ANY(%(issued)s) THEN to_char(i.due_date, 'YYYY-MM-DD') END,
        'payment_id', m.payment_id,
        'dunning_level', CASE WHEN ev.kind = 'payment.received' THEN i.dunning_level END,
        'paid_in_full', CASE WHEN ev.kind = 'payment.received'
                             THEN {_decimal_sql("ev.payload->>'open_amount'")} <= 0 END,
        'open_amount', (n.open_amount + n.fee)::text,
        'fee', n.fee::text,
        'notice_channel', n.channel,
        'days_overdue', CASE WHEN n.id IS NOT NULL
                             THEN GREATEST((n.sent_at AT TIME ZONE 'UTC')::date - i.due_date, 0) END,
        'level_name', CASE WHEN n.id IS NOT NULL THEN ln.name END,
        'level', CASE WHEN ev.kind = ANY(%(states)s) THEN i.dunning_level END
    )) || CASE WHEN ev.kind = 'dunning.paused' THEN '{{"until": null}}'::jsonb ELSE '{{}}'::jsonb END
    FROM ev JOIN {t["invoice"]} i ON i.id = ev.invoice_id
    LEFT JOIN matched m ON m.event_id = ev.id
    LEFT JOIN {t["notice"]} n ON ev.kind = ANY(%(notices)s) AND n.invoice_id = i.id AND n.level = ev.level
    LEFT JOIN LATERAL (
        SELECT COALESCE(SUM(b.fee), 0.00) AS before FROM {t["notice"]} b
        WHERE n.id IS NOT NULL AND b.invoice_id = n.invoice_id AND b.level < n.level
    ) fees ON TRUE
    LEFT JOIN level_names ln ON ln.level = ev.level
    """  # noqa: S608 (table names from the models, values as parameters)


def _backfill_postgresql(apps, schema_editor) -> None:
    Event = apps.get_model("customer360", "TimelineEvent")
    models = {
        "event": Event,
        "invoice": apps.get_model("billing", "Invoice"),
        "payment": apps.get_model("billing", "Payment"),
        "notice": apps.get_model("billing", "DunningNotice"),
        "level": apps.get_model("billing", "DunningLevel"),
        "policy": apps.get_model("billing", "DunningPolicy"),
    }
    tables = {name: model._meta.db_table for name, model in models.items()}
    params = {"kinds": list(KINDS), "issued": list(ISSUED), "notices": list(NOTICES), "states": list(STATES)}
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FIELDS_TABLE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {FIELDS_TABLE} (event_id bigint PRIMARY KEY, fields jsonb NOT NULL)"
        )
        cursor.execute(f"INSERT INTO {FIELDS_TABLE} (event_id, fields) {_fields_sql(tables)}", params)
    # Only events that gain a key are written (the Python path skips unchanged ones too).
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=KINDS,
        set_payload="f.fields || e.payload",
        join=f"{FIELDS_TABLE} f",
        where="f.event_id = e.id AND (f.fields || e.payload) <> e.payload",
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {FIELDS_TABLE}")


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _backfill_postgresql(apps, schema_editor)
    else:
        _backfill_batched(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_invoice_customer_protect"),
        ("customer360", "0010_customer_assignments"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)]
