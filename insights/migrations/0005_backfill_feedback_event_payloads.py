"""Existing NBA feedback events ("nba.accepted", "nba.dismissed", "nba.completed") get the action's
name in both languages (``action_name``, as insights/events.py declares it), so that events recorded
before the declarations read in the reader's language too.

The action comes from the payload's ``action``: its key (services) or, in old demo data, its id; the
key is stored from now on. Events whose action is gone keep their stored text. On PostgreSQL one
``UPDATE ... FROM`` per range of 100,000 event ids; elsewhere batches of 10,000. The reverse is a
no-op (the added keys are harmless).
"""

from django.db import migrations

from customer360.migration_helpers import events_in_batches, update_events_by_id_range

KINDS = ("nba.accepted", "nba.dismissed", "nba.completed")
NAMES = "jsonb_build_object('en', a.name_en, 'de', COALESCE(NULLIF(a.name_de, ''), a.name_en))"


def _names(action) -> dict:
    return {"en": action.name_en, "de": action.name_de or action.name_en}


def _backfill_postgresql(schema_editor, Event, Action) -> None:
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=KINDS,
        set_payload=f"e.payload || jsonb_build_object('action', a.key, 'action_name', {NAMES})",
        join=f"{Action._meta.db_table} a",
        where="(a.key = e.payload->>'action' OR a.id::text = e.payload->>'action') "
        "AND NOT e.payload ? 'action_name'",
    )


def _backfill_batched(Event, Action) -> None:
    actions = {}
    for action in Action.objects.all():
        actions[action.key] = actions[str(action.pk)] = action
    for batch in events_in_batches(Event, kinds=KINDS):
        changed = []
        for event in batch:
            payload = event.payload if isinstance(event.payload, dict) else None
            action = actions.get(str(payload.get("action"))) if payload else None
            if action is not None and "action_name" not in payload:
                event.payload = {**payload, "action": action.key, "action_name": _names(action)}
                changed.append(event)
        Event.objects.bulk_update(changed, ["payload"], batch_size=1000)


def forward(apps, schema_editor) -> None:
    Event = apps.get_model("customer360", "TimelineEvent")
    Action = apps.get_model("insights", "Action")
    if schema_editor.connection.vendor == "postgresql":
        _backfill_postgresql(schema_editor, Event, Action)
    else:
        _backfill_batched(Event, Action)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0004_change_history"),
        ("customer360", "0017_saved_views"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)]
