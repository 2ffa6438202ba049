"""Existing core events get the payload fields their declarations (customer360/events_core.py) render
from, so that events recorded before the declarations read in the reader's language too.

- "note.added" and "customer.changed": ``name``, the author's or editor's name (the event's actor);
- "customer.merged" and "customer.merge_undone": ``other``, the merged customer's label, from the
  merge record the payload names (``merge_id``).

"customer.created" declares no required field: old events render from the declaration already.
Events whose source is gone (no actor, no merge record) keep their stored text; keys a payload
already has win. On PostgreSQL one ``UPDATE ... FROM`` per range of 100,000 event ids; elsewhere
batches of 10,000 events. The reverse is a no-op (the added keys are harmless).
"""

from django.conf import settings
from django.db import migrations

from customer360.migration_helpers import events_in_batches, update_events_by_id_range

AUTHORED = ("note.added", "customer.changed")
MERGES = ("customer.merged", "customer.merge_undone")
# get_full_name(), or the username when both names are empty.
FULL_NAME = "COALESCE(NULLIF(TRIM(u.first_name || ' ' || u.last_name), ''), u.username)"
MERGE_ID = "CASE WHEN e.payload->>'merge_id' ~ '^[0-9]+$' THEN (e.payload->>'merge_id')::bigint END"


def _name(user) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


def _backfill_postgresql(schema_editor, Event, User, Merge) -> None:
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=AUTHORED,
        set_payload=f"jsonb_build_object('name', {FULL_NAME}) || e.payload",
        join=f"{User._meta.db_table} u",
        where="u.id = e.actor_id AND NOT e.payload ? 'name'",
    )
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=MERGES,
        set_payload="jsonb_build_object('other', m.merged_label) || e.payload",
        join=f"{Merge._meta.db_table} m",
        where=f"m.id = {MERGE_ID} AND NOT e.payload ? 'other'",
    )


def _merge_id(payload):
    value = payload.get("merge_id")
    return int(value) if str(value).isdigit() else None


def _fill(event, users, merges) -> bool:
    payload = event.payload
    if event.kind in AUTHORED and "name" not in payload and event.actor_id in users:
        event.payload = {"name": _name(users[event.actor_id]), **payload}
        return True
    if event.kind in MERGES and "other" not in payload and _merge_id(payload) in merges:
        event.payload = {"other": merges[_merge_id(payload)].merged_label, **payload}
        return True
    return False


def _backfill_batched(Event, User, Merge) -> None:
    for batch in events_in_batches(Event, kinds=AUTHORED + MERGES):
        batch = [e for e in batch if isinstance(e.payload, dict)]
        users = User.objects.in_bulk({e.actor_id for e in batch if e.actor_id})
        merges = Merge.objects.in_bulk({_merge_id(e.payload) for e in batch} - {None})
        changed = [event for event in batch if _fill(event, users, merges)]
        Event.objects.bulk_update(changed, ["payload"], batch_size=1000)


def forward(apps, schema_editor) -> None:
    Event = apps.get_model("customer360", "TimelineEvent")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Merge = apps.get_model("customer360", "CustomerMerge")
    if schema_editor.connection.vendor == "postgresql":
        _backfill_postgresql(schema_editor, Event, User, Merge)
    else:
        _backfill_batched(Event, User, Merge)


class Migration(migrations.Migration):
    dependencies = [
        ("customer360", "0017_saved_views"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)]
