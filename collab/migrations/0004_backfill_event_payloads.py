"""Existing feed events on customers' timelines ("internal.post", "internal.request") get the payload
fields collab/events.py declares, so that events recorded before the declarations read in the
reader's language too.

From the post the payload names (``post_id``): ``who`` (its author's name), for a discussion
``space`` (its space's name), for a request ``dept`` (the receiving department, a raw value rendered per reader).
``text`` is the excerpt the stored English title shows after "by <who>: " (the excerpt was made
from the post's text for that customer's timeline, other customers neutralised: it cannot be made
again in SQL, and the title holds exactly it). Events whose post is gone, or whose title does not
name the author as they are named now, keep their stored text; keys a payload already has win.
On PostgreSQL one ``UPDATE ... FROM`` per range of 100,000 event ids; elsewhere batches of 10,000.
The reverse is a no-op.
"""

from django.conf import settings
from django.db import migrations

from customer360.migration_helpers import events_in_batches, update_events_by_id_range

POST, REQUEST = "internal.post", "internal.request"
FULL_NAME = "COALESCE(NULLIF(TRIM(u.first_name || ' ' || u.last_name), ''), u.username)"
POST_ID = "CASE WHEN e.payload->>'post_id' ~ '^[0-9]+$' THEN (e.payload->>'post_id')::bigint END"
# The title's text after " by <who>: ", from the joined author (alias w: the marker).
TEXT = "substr(e.title, strpos(e.title, w.marker) + length(w.marker))"


def _name(user) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


def _backfill_postgresql(schema_editor, Event, Post, Space, Request, User) -> None:
    join = (
        f"{Post._meta.db_table} p JOIN {Space._meta.db_table} s ON s.id = p.space_id "
        f"JOIN {User._meta.db_table} u ON u.id = p.author_id "
        f"LEFT JOIN {Request._meta.db_table} r ON r.post_id = p.id "
        f"CROSS JOIN LATERAL (SELECT ' by ' || {FULL_NAME} || ': ' AS marker) w"
    )
    update_events_by_id_range(
        schema_editor,
        Event,
        kinds=(POST, REQUEST),
        set_payload=(
            f"jsonb_strip_nulls(jsonb_build_object('who', {FULL_NAME}, 'text', {TEXT}, "
            f"'space', CASE WHEN e.kind = '{POST}' THEN s.name END, "
            f"'dept', CASE WHEN e.kind = '{REQUEST}' THEN r.to_department END)) || e.payload"
        ),
        join=join,
        where=f"p.id = {POST_ID} AND strpos(e.title, w.marker) > 0 AND NOT e.payload ? 'text'",
    )


def _post_id(payload):
    value = payload.get("post_id")
    return int(value) if str(value).isdigit() else None


def _fill(event, posts) -> bool:
    post = posts.get(_post_id(event.payload))
    if post is None or "text" in event.payload:
        return False
    who = _name(post.author)
    marker = f" by {who}: "
    if marker not in event.title:
        return False
    values = {"who": who, "text": event.title.split(marker, 1)[1]}
    request = getattr(post, "request", None)
    if event.kind == POST:
        values["space"] = post.space.name
    elif request is not None:
        values["dept"] = request.to_department
    event.payload = {**values, **event.payload}
    return True


def _backfill_batched(Event, Post) -> None:
    for batch in events_in_batches(Event, kinds=(POST, REQUEST)):
        batch = [e for e in batch if isinstance(e.payload, dict)]
        ids = {_post_id(e.payload) for e in batch} - {None}
        posts = Post.objects.select_related("space", "author", "request").in_bulk(ids)
        changed = [event for event in batch if _fill(event, posts)]
        Event.objects.bulk_update(changed, ["payload"], batch_size=1000)


def forward(apps, schema_editor) -> None:
    Event = apps.get_model("customer360", "TimelineEvent")
    Post = apps.get_model("collab", "Post")
    if schema_editor.connection.vendor == "postgresql":
        models = (Post, apps.get_model("collab", "Space"), apps.get_model("collab", "DepartmentRequest"))
        _backfill_postgresql(schema_editor, Event, *models, apps.get_model(settings.AUTH_USER_MODEL))
    else:
        _backfill_batched(Event, Post)


class Migration(migrations.Migration):
    dependencies = [
        ("collab", "0003_change_history"),
        ("customer360", "0017_saved_views"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)]
