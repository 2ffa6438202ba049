"""Import targets of sales and service: tickets ("crm.ticket") and deals ("crm.deal").

Data sources (file uploads, the bulk REST API, webhooks) write these records through the core's
import service; ``crm/panels.py`` imports this module so the targets are registered at startup.

A record is known by (data source, its id there), kept on the row as ``external_source`` and
``external_id``: a rerun updates what changed or reports "unchanged". Every new record and every
imported change of state writes exactly one timeline event whose idempotency key is built from
source slug + external id + state, so a rerun, a retried request or a redelivered webhook never
records anything twice. Rows are validated first and written in bulk (a handful of queries per
batch, not per row).

Imported records mirror the system they come from: a ticket may arrive already solved and a deal
already won, so the step-by-step transitions of the services do not apply. The facts the services
refuse are refused here too (a second, different rating of a ticket; reopening a won deal).
Imported tickets get no SLA due times: the source system ran that SLA, and due times computed now
from a past opening would flag every historical ticket as breached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from crm.models import Deal, Pipeline, Priority, Satisfaction, Stage, Ticket
from customer360 import bulk, timeline
from customer360.models import Channel, Department, Direction
from customer360.sources import identity, records
from customer360.sources.mapping import CoercionError, to_date, to_datetime, to_decimal
from customer360.sources.targets import (
    CUSTOMER_TARGET_FIELDS,
    ImportContext,
    ImportTarget,
    PreparedRow,
    RowResult,
    TargetField,
    import_targets,
)
from customer360.text import fold

SOLVED_STATES = {Ticket.Status.SOLVED, Ticket.Status.CLOSED}
MAX_AMOUNT = Decimal("9999999999.99")  # Deal.amount: 12 digits, 2 of them decimals

# Words source systems use for our choice values (compared after ``fold``).
SYNONYMS: dict[str, dict[str, str]] = {
    "status": {
        "pending": "waiting",
        "on hold": "waiting",
        "wartend": "waiting",
        "in progress": "open",
        "offen": "open",
        "neu": "new",
        "resolved": "solved",
        "done": "solved",
        "geloest": "solved",
        "erledigt": "solved",
        "geschlossen": "closed",
    },
    "priority": {
        "medium": "normal",
        "mittel": "normal",
        "niedrig": "low",
        "hoch": "high",
        "dringend": "urgent",
    },
    "category": {
        "beschwerde": "complaint",
        "reklamation": "complaint",
        "frage": "question",
        "technik": "technical",
        "rechnung": "billing",
        "lieferung": "delivery",
        "sonstiges": "other",
    },
    "channel": {
        "e-mail": "email",
        "mail": "email",
        "telefon": "phone",
        "brief": "letter",
        "webform": "web",
        "portal": "web",
        "in person": "in_person",
        "vor ort": "in_person",
    },
    "deal_status": {
        "offen": "open",
        "gewonnen": "won",
        "closed won": "won",
        "verloren": "lost",
        "closed lost": "lost",
    },
}
CHOICES: dict[str, type] = {
    "status": Ticket.Status,
    "priority": Priority,
    "category": Ticket.Category,
    "channel": Channel,
    "deal_status": Deal.Status,
}


# --- Shared helpers --------------------------------------------------------------------------------
_column, refusal, present, _english = records.column, records.refusal, records.present, records.english
_claim, _record, url_maker = records.claim, records.record_events, records.url_maker
_choices = records.Choices(CHOICES, SYNONYMS)
parse_choice, not_one_of = _choices.parse, _choices.not_one_of


def _eur(amount) -> str:
    return f"EUR {Decimal(amount or 0):,.2f}"


def no_customer(row: PreparedRow, ctx: ImportContext) -> RowResult | None:
    if identity.identity_keys(row.values, ctx.source.slug):
        return None
    return RowResult("failed", gettext("No customer identifier: map an external id, e-mail or phone column."))


def as_datetime(value) -> datetime:
    """Values are typed by the mapping already; a mapping may still have forced plain text."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=timezone.get_default_timezone())
    return to_datetime(str(value))


def as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return to_date(str(value))


def as_decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else to_decimal(str(value))


@dataclass
class Item:
    """A valid row on its way in: its position, external id, cleaned values and what it becomes."""

    index: int
    row: PreparedRow
    external_id: str
    clean: dict
    obj: object = None
    new: bool = False
    changed: list[str] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # (kind, key parts, occurred_at)


def _resolve_customers(items: list[Item], results: list, ctx: ImportContext, required: str) -> list[Item]:
    """New records need their customer: found or created by identity resolution, in bulk."""
    creatable = []
    for item in items:
        failure = no_customer(item.row, ctx)
        if failure is None and not present(item.clean, required):
            failure = refusal(item.row, ctx, required, gettext("is empty, but a new record needs it"))
        if failure:
            results[item.index] = failure
        else:
            creatable.append(item)
    resolved = identity.resolve([i.row.values for i in creatable], source_slug=ctx.source.slug)
    for item, (customer_id, _created) in zip(creatable, resolved, strict=True):
        item.obj.customer_id = customer_id
        item.new = True
    return creatable


def _insert_new(model, items: list[Item], slug: str) -> None:
    """Bulk-insert new records; a concurrent import of the same ids loses quietly (unique key),
    and the primary keys are read back by the natural key."""
    if not items:
        return
    bulk.bulk_insert([i.obj for i in items], ignore_conflicts=True)
    pks = dict(
        model.objects.filter(external_source=slug, external_id__in=[i.external_id for i in items])
        .exclude(external_id="")
        .values_list("external_id", "pk")
    )
    for item in items:
        item.obj.pk = pks[item.external_id]


def _existing(model, items: list[Item], slug: str, *related: str) -> dict:
    # The exclude repeats the unique constraint's condition so PostgreSQL can use its partial index.
    ids = [i.external_id for i in items]
    rows = model.objects.filter(external_source=slug, external_id__in=ids).exclude(external_id="")
    return {obj.external_id: obj for obj in rows.select_related(*related)}


def _results(items: list[Item], results: list) -> list[RowResult]:
    for item in items:
        status = "created" if item.new else ("updated" if item.changed or item.events else "unchanged")
        results[item.index] = RowResult(status, customer_id=item.obj.customer_id)
    return [r or RowResult("failed") for r in results]


# --- Tickets ---------------------------------------------------------------------------------------
TICKET_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "ticket_id",
        gettext_lazy("Ticket id"),
        "id",
        required=True,
        aliases=("id", "ticket", "ticket number", "ticketnummer", "case id", "vorgang"),
    ),
    *CUSTOMER_TARGET_FIELDS,
    TargetField("subject", gettext_lazy("Subject"), aliases=("betreff", "title", "titel")),
    TargetField("description", gettext_lazy("Description"), aliases=("beschreibung", "text", "body")),
    TargetField("category", gettext_lazy("Category"), aliases=("kategorie", "type", "art")),
    TargetField("priority", gettext_lazy("Priority"), aliases=("prioritaet", "priorität", "prio")),
    TargetField("channel", gettext_lazy("Channel"), aliases=("kanal", "via")),
    TargetField("status", gettext_lazy("Status"), aliases=("state", "zustand")),
    TargetField(
        "opened_at",
        gettext_lazy("Opened at"),
        "datetime",
        aliases=("opened", "created", "created at", "erstellt"),
    ),
    TargetField(
        "solved_at",
        gettext_lazy("Solved at"),
        "datetime",
        aliases=("solved", "resolved", "resolved at", "geloest"),
    ),
    TargetField("csat", gettext_lazy("Satisfaction score (1-5)"), "int", aliases=("csat score", "rating")),
    TargetField("csat_comment", gettext_lazy("Satisfaction comment"), aliases=("rating comment",)),
)


def _clean_ticket(row: PreparedRow, ctx: ImportContext) -> tuple[dict, RowResult | None]:
    """The row's ticket values in our vocabulary, or the refusal of the first bad one."""
    values, clean = row.values, {}
    for name, limit in (("subject", 200), ("description", 20000), ("csat_comment", 2000)):
        if present(values, name):
            clean[name] = str(values[name]).strip()[:limit]
    for name in ("category", "priority", "channel", "status"):
        if present(values, name):
            clean[name] = parse_choice(name, values[name])
            if clean[name] is None:
                return {}, refusal(row, ctx, name, not_one_of(name))
    name = ""
    try:
        for name, convert in (("opened_at", as_datetime), ("solved_at", as_datetime), ("csat", as_decimal)):
            if present(values, name):
                clean[name] = convert(values[name])
    except CoercionError as exc:
        return {}, refusal(row, ctx, name, str(exc))
    if "csat" in clean and (clean["csat"] != int(clean["csat"]) or not 1 <= clean["csat"] <= 5):
        return {}, refusal(row, ctx, "csat", gettext("is not a score from 1 to 5"))
    if "csat" in clean:
        clean["csat"] = int(clean["csat"])
    if clean.get("solved_at") and clean.get("opened_at") and clean["solved_at"] < clean["opened_at"]:
        return {}, refusal(row, ctx, "solved_at", gettext("lies before the ticket was opened"))
    return clean, None


def _ticket_status(ticket: Ticket, clean: dict, new: bool) -> str:
    """The status the row asks for: explicit, or solved when only a solving time came in."""
    if clean.get("status"):
        return clean["status"]
    if clean.get("solved_at") and (new or ticket.status not in SOLVED_STATES):
        return Ticket.Status.SOLVED
    return Ticket.Status.NEW if new else ticket.status


def _rating_problem(item: Item, status: str) -> str:
    score = item.clean.get("csat")
    if score is None:
        return ""
    rating = None if item.new else getattr(item.obj, "satisfaction", None)
    if rating is not None and rating.score != score:
        return gettext("differs from the rating already recorded (%(score)s)") % {"score": rating.score}
    if rating is None and status not in SOLVED_STATES:
        return gettext("is a rating, but the ticket is not solved")
    return ""


def _apply_ticket(item: Item, status: str, now: datetime) -> Satisfaction | None:
    """Apply the row to the (new or known) ticket: changed fields and the events they mean."""
    ticket, clean, new = item.obj, item.clean, item.new
    changed = item.changed
    for name in ("subject", "description", "category", "priority", "channel", "opened_at"):
        if name in clean and getattr(ticket, name) != clean[name]:
            setattr(ticket, name, clean[name])
            changed.append(name)
    old = None if new else ticket.status
    if new:
        item.events.append(("ticket.opened", ("opened",), ticket.opened_at))
    if new or status != old:
        if old in SOLVED_STATES and status not in SOLVED_STATES:
            ticket.reopen_count += 1
            ticket.solved_at = ticket.closed_at = None
            changed += ["reopen_count", "solved_at", "closed_at"]
            item.events.append(("ticket.reopened", ("reopened", ticket.reopen_count), now))
        if status in SOLVED_STATES and old not in SOLVED_STATES:
            ticket.solved_at = clean.get("solved_at") or now
            changed.append("solved_at")
            item.events.append(("ticket.solved", ("solved", ticket.reopen_count), ticket.solved_at))
        if status == Ticket.Status.CLOSED:
            ticket.closed_at = ticket.solved_at if new or old not in SOLVED_STATES else now
            changed.append("closed_at")
            item.events.append(("ticket.closed", ("closed", ticket.reopen_count), ticket.closed_at))
        ticket.status = status
        changed.append("status")
    elif status in SOLVED_STATES and clean.get("solved_at") and clean["solved_at"] != ticket.solved_at:
        ticket.solved_at = clean["solved_at"]
        changed.append("solved_at")
    if new:
        changed.clear()
    rating = None if new else getattr(ticket, "satisfaction", None)
    if "csat" not in clean or rating is not None:
        return None
    when = ticket.solved_at or now
    item.events.append(("csat.received", ("csat",), when))
    return Satisfaction(
        ticket=ticket, score=clean["csat"], comment=clean.get("csat_comment", ""), created_at=when
    )


TICKET_TITLES = {
    "ticket.opened": gettext_noop("Ticket opened: %(subject)s"),
    "ticket.solved": gettext_noop("Ticket solved: %(subject)s"),
    "ticket.closed": gettext_noop("Ticket closed: %(subject)s"),
    "ticket.reopened": gettext_noop("Ticket reopened: %(subject)s"),
    "csat.received": gettext_noop("Satisfaction %(score)s/5 for ticket: %(subject)s"),
}
TICKET_DIRECTIONS = {"ticket.opened": Direction.INBOUND, "csat.received": Direction.INBOUND}


def _ticket_events(item: Item, ctx: ImportContext, source_type_id: int, url) -> list[timeline.EventData]:
    ticket: Ticket = item.obj
    events = []
    for kind, parts, when in item.events:
        payload = {"ticket_id": ticket.pk, "category": ticket.category, "priority": ticket.priority}
        summary = ""
        title = TICKET_TITLES[kind]
        if kind == "ticket.opened":
            summary = ticket.description[:2000]
            if ticket.category == Ticket.Category.COMPLAINT:
                title = gettext_noop("Complaint opened: %(subject)s")
        elif kind == "csat.received":
            summary = item.clean.get("csat_comment", "")
            payload.update(score=item.clean["csat"], comment=summary)
        events.append(
            timeline.EventData(
                customer_id=ticket.customer_id,
                department=Department.SERVICE,
                kind=kind,
                title=_english(title, subject=ticket.subject, score=item.clean.get("csat")),
                idempotency_key=timeline.idempotency_key(
                    ctx.source.slug, "crm.ticket", item.external_id, *parts
                ),
                occurred_at=when,
                channel=ticket.channel,
                direction=TICKET_DIRECTIONS.get(kind, Direction.INTERNAL),
                summary=summary,
                actor_id=ctx.actor_id,
                actor_label=ctx.source.name[:120],
                source_type_id=source_type_id,
                source_id=str(ticket.pk),
                source_url=url(ticket.pk),
                payload=payload,
            )
        )
    return events


def _validated(rows: list[PreparedRow], ctx: ImportContext, id_field: str, clean_row) -> tuple[list, list]:
    return records.validated(rows, ctx, id_field, clean_row, Item)


def write_tickets(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Tickets by (source, ticket id): new ones with their customer, known ones updated; events
    ticket.opened / solved / closed / reopened and csat.received, once per state."""
    slug, now = ctx.source.slug, timezone.now()
    results, items = _validated(rows, ctx, "ticket_id", _clean_ticket)
    items = _claim(items, results, ctx, "crm.ticket")
    known = _existing(Ticket, items, slug, "satisfaction")
    for item in items:
        item.obj = known.get(item.external_id) or Ticket(
            external_source=slug, external_id=item.external_id, channel=Channel.OTHER, opened_at=now
        )
    fresh = _resolve_customers([i for i in items if i.external_id not in known], results, ctx, "subject")
    ready, ratings = [], []
    for item in [i for i in items if i.external_id in known] + fresh:
        status = _ticket_status(item.obj, item.clean, item.new)
        problem = _rating_problem(item, status)
        if problem:
            results[item.index] = refusal(item.row, ctx, "csat", problem)
            continue
        rating = _apply_ticket(item, status, now)
        if rating is not None:
            ratings.append((item, rating))
        ready.append(item)
    _insert_new(Ticket, [i for i in ready if i.new], slug)
    updated = [i for i in ready if not i.new and i.changed]
    if updated:
        names = sorted({name for i in updated for name in i.changed})
        Ticket.objects.bulk_update([i.obj for i in updated], names, batch_size=1000)
    for item, rating in ratings:
        rating.ticket_id = item.obj.pk
    Satisfaction.objects.bulk_create([r for _i, r in ratings], ignore_conflicts=True, batch_size=1000)
    source_type_id, url = ContentType.objects.get_for_model(Ticket).id, url_maker("crm:ticket_detail")
    with translation.override("en"):
        _record([event for item in ready for event in _ticket_events(item, ctx, source_type_id, url)])
    return _results(ready, results)


# --- Deals -----------------------------------------------------------------------------------------
DEAL_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "deal_id",
        gettext_lazy("Deal id"),
        "id",
        required=True,
        aliases=("id", "deal", "opportunity id", "opportunity"),
    ),
    *CUSTOMER_TARGET_FIELDS,
    TargetField("title", gettext_lazy("Title"), aliases=("deal name", "titel", "subject", "bezeichnung")),
    TargetField("amount", gettext_lazy("Amount (EUR)"), "decimal", aliases=("value", "betrag", "wert")),
    TargetField("stage", gettext_lazy("Stage"), aliases=("phase", "stufe", "deal stage")),
    TargetField(
        "expected_close",
        gettext_lazy("Expected close"),
        "date",
        aliases=("close date", "expected close date"),
    ),
    TargetField("status", gettext_lazy("Status"), aliases=("state",)),
    TargetField("lost_reason", gettext_lazy("Lost reason"), aliases=("reason", "verlustgrund")),
    TargetField("created_at", gettext_lazy("Created at"), "datetime", aliases=("created", "erstellt")),
    TargetField("closed_at", gettext_lazy("Closed at"), "datetime", aliases=("closed", "abgeschlossen")),
)


@dataclass
class Stages:
    """The default pipeline's stages by folded name (read once per batch)."""

    pipeline: Pipeline | None
    by_name: dict[str, Stage]

    @classmethod
    def load(cls) -> Stages:
        pipeline = Pipeline.default()
        stages = list(pipeline.stages.order_by("order", "pk")) if pipeline else []
        return cls(pipeline, {fold(s.name): s for s in stages})

    def first_open(self) -> Stage | None:
        return next((s for s in self.by_name.values() if not s.is_closing), None)

    def closing(self, status: str) -> Stage | None:
        flag = "is_won" if status == Deal.Status.WON else "is_lost"
        return next((s for s in self.by_name.values() if getattr(s, flag)), None)

    def names(self) -> str:
        return ", ".join(s.name for s in self.by_name.values())


def _deal_cleaner(stages: Stages):
    def clean_deal(row: PreparedRow, ctx: ImportContext) -> tuple[dict, RowResult | None]:
        values, clean = row.values, {}
        for name, limit in (("title", 200), ("lost_reason", 300)):
            if present(values, name):
                clean[name] = str(values[name]).strip()[:limit]
        if present(values, "status"):
            clean["status"] = parse_choice("deal_status", values["status"])
            if clean["status"] is None:
                return {}, refusal(row, ctx, "status", not_one_of("deal_status"))
        if present(values, "stage"):
            clean["stage"] = stages.by_name.get(fold(str(values["stage"])))
            if clean["stage"] is None:
                message = gettext('is not a stage of the pipeline "%(pipeline)s" (%(stages)s)') % {
                    "pipeline": stages.pipeline or "-",
                    "stages": stages.names(),
                }
                return {}, refusal(row, ctx, "stage", message)
        name = ""
        try:
            for name, convert in (
                ("amount", as_decimal),
                ("expected_close", as_date),
                ("created_at", as_datetime),
                ("closed_at", as_datetime),
            ):
                if present(values, name):
                    clean[name] = convert(values[name])
        except CoercionError as exc:
            return {}, refusal(row, ctx, name, str(exc))
        if "amount" in clean:
            # Range first: quantizing a huge number would exceed the decimal context's precision.
            amount = clean["amount"]
            clean["amount"] = amount.quantize(Decimal("0.01")) if 0 <= amount <= MAX_AMOUNT else amount
            if not 0 <= clean["amount"] <= MAX_AMOUNT:
                message = gettext("is not an amount between 0 and 9,999,999,999.99")
                return {}, refusal(row, ctx, "amount", message)
        return clean, None

    return clean_deal


def _deal_target(item: Item, stages: Stages) -> tuple[str, Stage | None, str]:
    """(status, stage, problem field) the row asks for; closed deals stay closed as in the service."""
    deal: Deal = item.obj
    clean = item.clean
    stage = clean.get("stage")
    status = clean.get("status")
    if status is None and stage is not None:
        status = Deal.Status.WON if stage.is_won else Deal.Status.LOST if stage.is_lost else Deal.Status.OPEN
    if status is None:
        status = Deal.Status.OPEN if item.new else deal.status
    if not item.new and deal.status != Deal.Status.OPEN and status != deal.status:
        return status, stage, "status" if clean.get("status") else "stage"
    if status == Deal.Status.OPEN:
        if stage is not None and stage.is_closing:
            return status, stage, "stage"
        stage = stage or (stages.first_open() if item.new else deal.stage)
    elif stage is None or not (stage.is_won if status == Deal.Status.WON else stage.is_lost):
        stage = stages.closing(status) or stage or (deal.stage if not item.new else stages.first_open())
    return status, stage, ""


def _apply_deal(item: Item, status: str, stage: Stage, now: datetime) -> None:
    deal: Deal = item.obj
    clean, changed = item.clean, item.changed
    for name in ("title", "amount", "expected_close", "lost_reason"):
        if name in clean and getattr(deal, name) != clean[name]:
            setattr(deal, name, clean[name])
            changed.append(name)
    if item.new:
        deal.created_at = clean.get("created_at") or now
        deal.stage = stage
        item.events.append(("deal.created", ("created",), deal.created_at))
    elif deal.status == Deal.Status.OPEN and status == Deal.Status.OPEN and stage.pk != deal.stage_id:
        previous = deal.stage.name
        deal.stage = stage
        deal.stage_changes += 1
        changed += ["stage", "stage_changes"]
        item.events.append(("deal.stage_changed", ("stage", deal.stage_changes, stage.pk), now, previous))
    if status != Deal.Status.OPEN and (item.new or deal.status == Deal.Status.OPEN):
        deal.stage, deal.status = stage, status
        deal.closed_at = clean.get("closed_at") or now
        changed += ["stage", "status", "closed_at"]
        item.events.append((f"deal.{status}", (status,), deal.closed_at))
    if item.new:
        changed.clear()


def _deal_title(kind: str, deal: Deal, extra: tuple) -> str:
    if kind == "deal.created":
        return _english(
            gettext_noop("Deal created: %(title)s, %(amount)s"), title=deal.title, amount=_eur(deal.amount)
        )
    if kind == "deal.won":
        return _english(
            gettext_noop("Deal won: %(title)s, %(amount)s"), title=deal.title, amount=_eur(deal.amount)
        )
    if kind == "deal.lost" and deal.lost_reason:
        return _english(
            gettext_noop("Deal lost: %(title)s (%(reason)s)"), title=deal.title, reason=deal.lost_reason
        )
    if kind == "deal.lost":
        return _english(gettext_noop("Deal lost: %(title)s"), title=deal.title)
    return _english(
        gettext_noop("Deal %(title)s moved from %(old)s to %(new)s"),
        title=deal.title,
        old=extra[0],
        new=deal.stage.name,
    )


def _deal_events(item: Item, ctx: ImportContext, source_type_id: int, url) -> list[timeline.EventData]:
    deal: Deal = item.obj
    return [
        timeline.EventData(
            customer_id=deal.customer_id,
            department=Department.SALES,
            kind=kind,
            title=_deal_title(kind, deal, tuple(extra)),
            idempotency_key=timeline.idempotency_key(ctx.source.slug, "crm.deal", item.external_id, *parts),
            occurred_at=when,
            channel=Channel.INTERNAL,
            direction=Direction.INTERNAL,
            actor_id=ctx.actor_id,
            actor_label=ctx.source.name[:120],
            source_type_id=source_type_id,
            source_id=str(deal.pk),
            source_url=url(deal.pk),
            payload={"deal_id": deal.pk, "amount": str(deal.amount), "stage": deal.stage.name},
        )
        for kind, parts, when, *extra in item.events
    ]


def write_deals(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Deals by (source, deal id) in the default pipeline: new ones with their customer, known
    ones updated; events deal.created, deal.stage_changed, deal.won and deal.lost once each."""
    slug, now = ctx.source.slug, timezone.now()
    stages = Stages.load()
    if stages.first_open() is None:
        return [RowResult("failed", gettext("No sales pipeline with open stages is set up.")) for _ in rows]
    results, items = _validated(rows, ctx, "deal_id", _deal_cleaner(stages))
    items = _claim(items, results, ctx, "crm.deal")
    known = _existing(Deal, items, slug, "stage")
    for item in items:
        item.obj = known.get(item.external_id) or Deal(external_source=slug, external_id=item.external_id)
    fresh = _resolve_customers([i for i in items if i.external_id not in known], results, ctx, "title")
    ready = []
    for item in [i for i in items if i.external_id in known] + fresh:
        status, stage, problem = _deal_target(item, stages)
        if problem:
            deal: Deal = item.obj
            message = gettext("cannot be applied: the deal is already %(status)s") % {
                "status": deal.get_status_display().lower()
            }
            if problem == "stage" and (item.new or deal.status == Deal.Status.OPEN):
                message = gettext("is a closing stage, but the status is open")
            results[item.index] = refusal(item.row, ctx, problem, message)
            continue
        _apply_deal(item, status, stage, now)
        ready.append(item)
    _insert_new(Deal, [i for i in ready if i.new], slug)
    updated = [i for i in ready if not i.new and i.changed]
    if updated:
        names = sorted({name for i in updated for name in i.changed})
        Deal.objects.bulk_update([i.obj for i in updated], names, batch_size=1000)
    source_type_id, url = ContentType.objects.get_for_model(Deal).id, url_maker("crm:deal_detail")
    with translation.override("en"):
        _record([event for item in ready for event in _deal_events(item, ctx, source_type_id, url)])
    return _results(ready, results)


import_targets.register(
    ImportTarget(
        key="crm.ticket",
        label=gettext_lazy("Service tickets"),
        department=Department.SERVICE,
        fields=TICKET_FIELDS,
        write_rows=write_tickets,
        order=40,
        api_id_field="ticket_id",
    )
)
import_targets.register(
    ImportTarget(
        key="crm.deal",
        label=gettext_lazy("Sales deals"),
        department=Department.SALES,
        fields=DEAL_FIELDS,
        write_rows=write_deals,
        order=41,
        api_id_field="deal_id",
    )
)
