"""The seeded dunning levels were named in both languages at once ("1. Mahnung / Reminder"), so every
reader saw both. Their names become English translation keys (``billing.models.SEEDED_LEVEL_NAMES``,
shown in the reader's language like the deal stages); a name an admin changed stays as entered.

The notices' timeline events carry the level's name in their payload (``level_name``): events with an
old seeded name get the key, batched by id (dunning events only, 5,000 a batch), so it works beside
millions of other events. Reversible.
"""

from django.db import migrations

BATCH = 5_000
KINDS = ("dunning.notice", "dunning.handed_over")
RENAMED = {
    "Zahlungserinnerung / Friendly reminder": "Friendly reminder",
    "1. Mahnung / Reminder": "First reminder",
    "Letzte Mahnung / Final notice": "Final notice",
    "Übergabe an Inkasso / Hand-over to collection": "Hand-over to collection",
}


def _rename(apps, names: dict[str, str]) -> None:
    level_model = apps.get_model("billing", "DunningLevel")
    for old, new in names.items():
        level_model.objects.filter(name=old).update(name=new)
    event_model = apps.get_model("customer360", "TimelineEvent")
    events = event_model.objects.filter(kind__in=KINDS, payload__level_name__in=list(names))
    last = 0
    while batch := list(events.filter(pk__gt=last).order_by("pk")[:BATCH]):
        for event in batch:
            event.payload = {**event.payload, "level_name": names[event.payload["level_name"]]}
        event_model.objects.bulk_update(batch, ["payload"], batch_size=1_000)
        last = batch[-1].pk


def forward(apps, schema_editor):
    _rename(apps, RENAMED)


def backward(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_change_history")]
    operations = [migrations.RunPython(forward, backward, elidable=False)]
