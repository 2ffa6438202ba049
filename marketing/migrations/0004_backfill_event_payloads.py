"""Backfill the payload fields that marketing.events declares into existing marketing events, so
that old consent and touch events render in the reader's language too.

Touch events get ``channel`` (the first part of their kind). consent.given events get ``method``
(from their consent) and ``step`` (requested, confirmed or given: what their stored English title
says). Keys a payload already has win. On PostgreSQL one ``UPDATE`` per range of 100,000 event ids
with the fields built in SQL; elsewhere batches of 10,000 events. Both write the same payloads. The
reverse is a no-op.
"""

from django.db import migrations

from customer360.migration_helpers import update_events_by_id_range

BATCH = 10_000
CHANNELS = ("email", "phone", "letter", "sms")
STATUSES = ("sent", "delivered", "opened", "clicked", "converted", "bounced", "unsubscribed")


def _step(title: str) -> str:
    if title.startswith("Consent requested"):
        return "requested"
    if title.startswith("Consent confirmed"):
        return "confirmed"
    return "given"


def _fill(event, consents) -> bool:
    payload = dict(event.payload or {})
    before = dict(payload)
    if event.kind == "consent.given":
        consent = consents.get(_int(event.source_id))
        if consent is not None:
            payload.setdefault("method", consent.method)
        payload.setdefault("step", _step(event.title))
    elif event.kind != "consent.withdrawn":
        payload.setdefault("channel", event.kind.split(".", 1)[0])
    if payload == before:
        return False
    event.payload = payload
    return True


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


TOUCH_KINDS = [f"{c}.{s}" for c in CHANNELS for s in STATUSES]
# _step(): what the stored English title says.
STEP = (
    "CASE WHEN e.title LIKE 'Consent requested%%' THEN 'requested' "
    "WHEN e.title LIKE 'Consent confirmed%%' THEN 'confirmed' ELSE 'given' END"
)
CONSENT_ID = "CASE WHEN btrim(e.source_id) ~ '^[0-9]{1,18}$' THEN btrim(e.source_id)::bigint END"


def _backfill_postgresql(apps, schema_editor) -> None:
    Event = apps.get_model("customer360", "TimelineEvent")
    consents = apps.get_model("marketing", "Consent")._meta.db_table
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=TOUCH_KINDS,
        set_payload="jsonb_build_object('channel', split_part(e.kind, '.', 1)) || e.payload",
        join=None,
        where="e.department = 'marketing' AND NOT e.payload ? 'channel'",
    )
    # The method only when the consent exists (a consent's method is never NULL: strip_nulls drops
    # just the missing consent's).
    method = f"(SELECT c.method FROM {consents} c WHERE c.id = {CONSENT_ID})"  # noqa: S608
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=["consent.given"],
        set_payload=f"jsonb_strip_nulls(jsonb_build_object('method', {method}, 'step', {STEP})) || e.payload",
        join=None,
        where=(
            "e.department = 'marketing' AND "
            f"(jsonb_strip_nulls(jsonb_build_object('method', {method}, 'step', {STEP})) || e.payload) "
            "<> e.payload"
        ),
    )


def _backfill_batched(apps):
    TimelineEvent = apps.get_model("customer360", "TimelineEvent")
    Consent = apps.get_model("marketing", "Consent")
    kinds = ["consent.given", *TOUCH_KINDS]
    events = TimelineEvent.objects.filter(department="marketing", kind__in=kinds)
    last = 0
    while True:
        batch = list(events.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not batch:
            break
        last = batch[-1].pk
        consent_ids = {_int(e.source_id) for e in batch if e.kind == "consent.given"} - {None}
        consents = Consent.objects.in_bulk(consent_ids)
        changed = [event for event in batch if _fill(event, consents)]
        TimelineEvent.objects.bulk_update(changed, ["payload"], batch_size=1000)


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _backfill_postgresql(apps, schema_editor)
    else:
        _backfill_batched(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0003_consent_wording"),
        ("customer360", "0010_customer_assignments"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)]
