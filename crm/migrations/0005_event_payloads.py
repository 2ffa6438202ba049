"""Existing crm events get the payload fields their declarations (crm/events.py) render from, so old
events show in the reader's language too; a sales note's event becomes "note.logged" (the core keeps
"note.added" for its free notes).

Fields come from the source record (``source_type``/``source_id``); keys a payload already has win
(e.g. the renewal date a contract.renewed event was recorded with). Events whose record is gone, and
deal moves (the previous stage is not kept anywhere), keep their stored text. On PostgreSQL one
``UPDATE ... FROM`` per record type; elsewhere batches of 10,000 events. Reverse: nothing to undo
(the added keys are harmless), except the note kind, which goes back.
"""

from django.db import migrations

BATCH = 10_000
ACTIVITY_KINDS = ("call.logged", "meeting.logged", "email.logged", "visit.logged", "note.logged")
DEAL_KINDS = ("deal.created", "deal.stage_changed", "deal.won", "deal.lost")
CONTRACT_KINDS = ("contract.started", "contract.renewed", "contract.cancelled")
TICKET_KINDS = (
    "ticket.opened",
    "ticket.replied",
    "ticket.note",
    "ticket.solved",
    "ticket.closed",
    "ticket.reopened",
    "ticket.sla_breached",
    "csat.received",
)

# model -> (kinds, SQL join of the source table, SQL jsonb_build_object arguments)
SQL = {
    "activity": (
        ACTIVITY_KINDS,
        "crm_activity s",
        "'activity_id', s.id, 'subject', s.subject, 'outcome', s.outcome, 'follow_up', s.follow_up_date",
    ),
    "deal": (
        DEAL_KINDS,
        "crm_deal s JOIN crm_stage st ON st.id = s.stage_id",
        "'deal_id', s.id, 'title', s.title, 'amount', s.amount::text, 'stage', st.name, "
        "'lost_reason', CASE WHEN e.kind = 'deal.lost' THEN s.lost_reason END",
    ),
    "contract": (
        CONTRACT_KINDS,
        "crm_contract s JOIN crm_product p ON p.id = s.product_id",
        "'contract_id', s.id, 'product', p.code, 'product_name', p.name, "
        "'value', s.value_per_year::text, 'renewal_date', s.renewal_date",
    ),
    "ticket": (
        TICKET_KINDS,
        "crm_ticket s",
        "'ticket_id', s.id, 'subject', s.subject, 'category', s.category, 'priority', s.priority",
    ),
}


def _fields(model: str, row, kind: str) -> dict:
    """The same fields as SQL above, from a source row (the batched path)."""
    if model == "activity":
        follow_up = row.follow_up_date.isoformat() if row.follow_up_date else None
        return {"activity_id": row.pk, "subject": row.subject, "outcome": row.outcome, "follow_up": follow_up}
    if model == "deal":
        values = {"deal_id": row.pk, "title": row.title, "amount": str(row.amount), "stage": row.stage.name}
        if kind == "deal.lost":
            values["lost_reason"] = row.lost_reason
        return values
    if model == "contract":
        renewal = row.renewal_date.isoformat() if row.renewal_date else None
        return {
            "contract_id": row.pk,
            "product": row.product.code,
            "product_name": row.product.name,
            "value": str(row.value_per_year),
            "renewal_date": renewal,
        }
    return {"ticket_id": row.pk, "subject": row.subject, "category": row.category, "priority": row.priority}


def _content_types(apps) -> dict[str, int]:
    ContentType = apps.get_model("contenttypes", "ContentType")
    rows = ContentType.objects.filter(app_label="crm", model__in=list(SQL)).values_list("model", "pk")
    return dict(rows)


def _rename_notes(Event, activity_type: int, old: str, new: str) -> None:
    Event.objects.filter(kind=old, source_type_id=activity_type).update(kind=new)


def _backfill_postgresql(schema_editor, Event, types: dict[str, int]) -> None:
    table = Event._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        for model, type_id in types.items():
            kinds, join, build = SQL[model]
            # jsonb_strip_nulls drops the CASE's NULL for kinds without a lost reason; the event's own
            # keys come last so they win.
            cursor.execute(
                f"UPDATE {table} e SET payload = jsonb_strip_nulls(jsonb_build_object({build})) "  # noqa: S608
                f"|| e.payload FROM {join} WHERE e.source_type_id = %s AND e.kind = ANY(%s) "
                "AND e.source_id = s.id::text",
                [type_id, list(kinds)],
            )


def _backfill_batched(apps, Event, types: dict[str, int]) -> None:
    related = {"deal": ("stage",), "contract": ("product",)}
    for model, type_id in types.items():
        Source = apps.get_model("crm", model)
        events = Event.objects.filter(source_type_id=type_id, kind__in=SQL[model][0]).order_by("pk")
        last = 0
        while batch := list(events.filter(pk__gt=last).only("pk", "kind", "source_id", "payload")[:BATCH]):
            last = batch[-1].pk
            ids = {int(e.source_id) for e in batch if e.source_id.isdigit()}
            rows = Source.objects.select_related(*related.get(model, ())).in_bulk(ids)
            changed = []
            for event in batch:
                row = rows.get(int(event.source_id)) if event.source_id.isdigit() else None
                if row is not None:
                    event.payload = {**_fields(model, row, event.kind), **(event.payload or {})}
                    changed.append(event)
            Event.objects.bulk_update(changed, ["payload"], batch_size=1000)


def forward(apps, schema_editor) -> None:
    Event = apps.get_model("customer360", "TimelineEvent")
    types = _content_types(apps)
    if "activity" in types:
        _rename_notes(Event, types["activity"], "note.added", "note.logged")
    if schema_editor.connection.vendor == "postgresql":
        _backfill_postgresql(schema_editor, Event, types)
    else:
        _backfill_batched(apps, Event, types)


def backward(apps, schema_editor) -> None:
    types = _content_types(apps)
    if "activity" in types:
        _rename_notes(
            apps.get_model("customer360", "TimelineEvent"), types["activity"], "note.logged", "note.added"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_business_calendar"),
        ("customer360", "0010_customer_assignments"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=True)]
