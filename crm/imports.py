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

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from crm import events
from crm.models import BusinessHours, Deal, Pipeline, Priority, Satisfaction, Stage, Ticket
from customer360 import timeline
from customer360.models import Channel, Department
from customer360.sources import records
from customer360.sources.mapping import CoercionError
from customer360.sources.records import Item, present, refusal
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

SOLVED_STATES = set(Ticket.SOLVED_STATUSES)
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


CHOICE_WORDS = records.Choices(CHOICES, SYNONYMS)


def _refused(item: Item, ctx: ImportContext, exc: ValidationError) -> RowResult:
    """A model rule's refusal as the row's: the field it names and its reason."""
    name, reasons = next(iter(exc.message_dict.items()))
    return refusal(item.row, ctx, name, reasons[0])


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
            clean[name] = CHOICE_WORDS.parse(name, values[name])
            if clean[name] is None:
                return {}, refusal(row, ctx, name, CHOICE_WORDS.not_one_of(name))
    name = ""
    try:
        for name, convert in (
            ("opened_at", records.as_datetime),
            ("solved_at", records.as_datetime),
            ("csat", records.as_decimal),
        ):
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


def _apply_ticket(item: Item, status: str, now: datetime, hours) -> Satisfaction | None:
    """Apply the row to the (new or known) ticket through the model's transitions: changed fields
    and the events they mean; the rating to add, if any."""
    ticket, clean, new = item.obj, item.clean, item.new
    changed = item.changed
    for name in ("subject", "description", "category", "priority", "channel", "opened_at"):
        if name in clean and getattr(ticket, name) != clean[name]:
            setattr(ticket, name, clean[name])
            changed.append(name)
    if new:
        item.events.append((events.TICKET_OPENED, ("opened",), ticket.opened_at))
    passed = ticket.follow(status, at=now, solved_at=clean.get("solved_at"), hours=hours)
    for step in passed:
        kind = events.TICKET_STATUS_KINDS.get(step)
        when = {Ticket.Status.SOLVED: ticket.solved_at, Ticket.Status.CLOSED: ticket.closed_at}.get(step, now)
        if kind is not None:
            item.events.append((kind, (step, ticket.reopen_count), when))
    if passed:
        changed += [*TICKET_STATE_FIELDS]
    elif status in SOLVED_STATES and clean.get("solved_at") and clean["solved_at"] != ticket.solved_at:
        ticket.solved_at = clean["solved_at"]
        changed.append("solved_at")
    if new:
        changed.clear()
    rating = None if new else getattr(ticket, "satisfaction", None)
    if "csat" not in clean or rating is not None:
        return None
    when = ticket.solved_at or now
    item.events.append((events.CSAT_RECEIVED, ("csat",), when))
    return Satisfaction(
        ticket=ticket, score=clean["csat"], comment=clean.get("csat_comment", ""), created_at=when
    )


# What a transition may change (Ticket.transition_to), written back in bulk.
TICKET_STATE_FIELDS = (
    "status",
    "solved_at",
    "closed_at",
    "reopen_count",
    "sla_paused_since",
    "sla_paused_minutes",
    "first_response_due",
    "resolution_due",
)


def _ticket_events(item: Item, ctx: ImportContext, source_type_id: int, url) -> list[timeline.EventData]:
    ticket: Ticket = item.obj
    extra = {}
    if "csat" in item.clean:
        extra = {"score": item.clean["csat"], "comment": item.clean.get("csat_comment", "")}
    return [
        kind.event(
            customer_id=ticket.customer_id,
            key=timeline.idempotency_key(ctx.source.slug, "crm.ticket", item.external_id, *parts),
            occurred_at=when,
            actor_id=ctx.actor_id,
            actor_label=ctx.source.name[:120],
            source_type_id=source_type_id,
            source_id=str(ticket.pk),
            source_url=url(ticket.pk),
            **events.ticket_values(kind, ticket, **(extra if kind is events.CSAT_RECEIVED else {})),
        )
        for kind, parts, when in item.events
    ]


def _prepare_tickets(items: list[Item], results: list, ctx: ImportContext, known: dict, now) -> tuple:
    """Apply every known and every new row; rows whose rating cannot be taken are refused."""
    fresh = records.resolve_customers(
        [i for i in items if i.external_id not in known], results, ctx, "subject"
    )
    ready, ratings, hours = [], [], None
    for item in [i for i in items if i.external_id in known] + fresh:
        status = _ticket_status(item.obj, item.clean, item.new)
        problem = _rating_problem(item, status)
        if problem:
            results[item.index] = refusal(item.row, ctx, "csat", problem)
            continue
        if hours is None and item.obj.status == Ticket.Status.WAITING:
            hours = BusinessHours.current()  # the pause ends in business minutes
        rating = _apply_ticket(item, status, now, hours)
        if rating is not None:
            ratings.append((item, rating))
        ready.append(item)
    return ready, ratings


def write_tickets(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Tickets by (source, ticket id): new ones with their customer, known ones updated; events
    ticket.opened / solved / closed / reopened and csat.received, once per state."""
    slug, now = ctx.source.slug, timezone.now()
    results, items = records.validated(rows, ctx, "ticket_id", _clean_ticket, Item)
    items = records.claim(items, results, ctx, "crm.ticket")
    known = records.existing(Ticket.objects, items, slug, "satisfaction")
    for item in items:
        item.obj = known.get(item.external_id) or Ticket(
            external_source=slug, external_id=item.external_id, channel=Channel.OTHER, opened_at=now
        )
    ready, ratings = _prepare_tickets(items, results, ctx, known, now)
    records.insert_new(Ticket, [i for i in ready if i.new], slug)
    updated = [i for i in ready if not i.new and i.changed]
    if updated:
        names = sorted({name for i in updated for name in i.changed})
        Ticket.objects.bulk_update([i.obj for i in updated], names, batch_size=1000)
    for item, rating in ratings:
        rating.ticket_id = item.obj.pk
    Satisfaction.objects.bulk_create([r for _i, r in ratings], ignore_conflicts=True, batch_size=1000)
    type_id, url = ContentType.objects.get_for_model(Ticket).id, records.url_maker("crm:ticket_detail")
    records.record_events([event for item in ready for event in _ticket_events(item, ctx, type_id, url)])
    return records.results_of(ready, results)


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
            clean["status"] = CHOICE_WORDS.parse("deal_status", values["status"])
            if clean["status"] is None:
                return {}, refusal(row, ctx, "status", CHOICE_WORDS.not_one_of("deal_status"))
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
                ("amount", records.as_decimal),
                ("expected_close", records.as_date),
                ("created_at", records.as_datetime),
                ("closed_at", records.as_datetime),
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
    """Apply the row to the deal through the model's rules (move, win, lose); a refusal of theirs
    propagates as ValidationError and refuses the row."""
    deal: Deal = item.obj
    clean, changed = item.clean, item.changed
    for name in ("title", "amount", "expected_close", "lost_reason"):
        if name in clean and getattr(deal, name) != clean[name]:
            setattr(deal, name, clean[name])
            changed.append(name)
    if item.new:
        deal.created_at = clean.get("created_at") or now
        deal.stage = stage
        item.events.append((events.DEAL_CREATED, ("created",), deal.created_at))
    elif deal.status == Deal.Status.OPEN and status == Deal.Status.OPEN:
        previous = deal.move_to_stage(stage)
        if previous is not None:
            changed += ["stage", "stage_changes"]
            parts = ("stage", deal.stage_changes, stage.pk)
            item.events.append((events.DEAL_STAGE_CHANGED, parts, now, {"previous_stage": previous}))
    at = clean.get("closed_at") or now
    closed = (
        deal.win(stage=stage, at=at)
        if status == Deal.Status.WON
        else deal.lose(reason=deal.lost_reason, stage=stage, at=at, mirror=True)
        if status == Deal.Status.LOST
        else False
    )
    if closed:
        changed += ["stage", "status", "closed_at", "lost_reason"]
        kind = events.DEAL_WON if status == Deal.Status.WON else events.DEAL_LOST
        item.events.append((kind, (status,), deal.closed_at))
    if item.new:
        changed.clear()


def _deal_events(item: Item, ctx: ImportContext, source_type_id: int, url) -> list[timeline.EventData]:
    deal: Deal = item.obj
    return [
        kind.event(
            customer_id=deal.customer_id,
            key=timeline.idempotency_key(ctx.source.slug, "crm.deal", item.external_id, *parts),
            occurred_at=when,
            actor_id=ctx.actor_id,
            actor_label=ctx.source.name[:120],
            source_type_id=source_type_id,
            source_id=str(deal.pk),
            source_url=url(deal.pk),
            **events.deal_values(kind, deal, **(extra[0] if extra else {})),
        )
        for kind, parts, when, *extra in item.events
    ]


def _deal_problem(item: Item, problem: str) -> str:
    deal: Deal = item.obj
    if problem == "stage" and (item.new or deal.status == Deal.Status.OPEN):
        return gettext("is a closing stage, but the status is open")
    return gettext("cannot be applied: the deal is already %(status)s") % {
        "status": deal.get_status_display().lower()
    }


def _prepare_deals(items: list[Item], results: list, ctx: ImportContext, known: dict, stages, now) -> list:
    fresh = records.resolve_customers([i for i in items if i.external_id not in known], results, ctx, "title")
    ready = []
    for item in [i for i in items if i.external_id in known] + fresh:
        status, stage, problem = _deal_target(item, stages)
        if problem:
            results[item.index] = refusal(item.row, ctx, problem, _deal_problem(item, problem))
            continue
        try:
            _apply_deal(item, status, stage, now)
        except ValidationError as exc:
            results[item.index] = _refused(item, ctx, exc)
            continue
        ready.append(item)
    return ready


def write_deals(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Deals by (source, deal id) in the default pipeline: new ones with their customer, known
    ones updated; events deal.created, deal.stage_changed, deal.won and deal.lost once each."""
    slug, now = ctx.source.slug, timezone.now()
    stages = Stages.load()
    if stages.first_open() is None:
        return [RowResult("failed", gettext("No sales pipeline with open stages is set up.")) for _ in rows]
    results, items = records.validated(rows, ctx, "deal_id", _deal_cleaner(stages), Item)
    items = records.claim(items, results, ctx, "crm.deal")
    known = records.existing(Deal.objects, items, slug, "stage")
    for item in items:
        item.obj = known.get(item.external_id) or Deal(external_source=slug, external_id=item.external_id)
    ready = _prepare_deals(items, results, ctx, known, stages, now)
    records.insert_new(Deal, [i for i in ready if i.new], slug)
    updated = [i for i in ready if not i.new and i.changed]
    if updated:
        names = sorted({name for i in updated for name in i.changed})
        Deal.objects.bulk_update([i.obj for i in updated], names, batch_size=1000)
    type_id, url = ContentType.objects.get_for_model(Deal).id, records.url_maker("crm:deal_detail")
    records.record_events([event for item in ready for event in _deal_events(item, ctx, type_id, url)])
    return records.results_of(ready, results)


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
