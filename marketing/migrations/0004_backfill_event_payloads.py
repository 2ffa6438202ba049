"""Backfill the payload fields that marketing.events declares into existing marketing events, so
that old consent and touch events render in the reader's language too.

Touch events get ``channel`` (the first part of their kind). consent.given events get ``method``
(from their consent) and ``step`` (requested, confirmed or given: what their stored English title
says). Batched by id (10,000 events a batch); the reverse is a no-op.
"""

from django.db import migrations

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


def backfill(apps, schema_editor):
    TimelineEvent = apps.get_model("customer360", "TimelineEvent")
    Consent = apps.get_model("marketing", "Consent")
    kinds = ["consent.given"] + [f"{c}.{s}" for c in CHANNELS for s in STATUSES]
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


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0003_consent_wording"),
        ("customer360", "0010_customer_assignments"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
