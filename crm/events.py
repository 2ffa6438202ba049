"""The timeline event kinds sales and service record, declared once (customer360.events).

Services, imports and demo seeders all build their events here: the declaration gives kind,
department, channel, direction, audience-relevant flags and the title template; the ``*_values``
helpers give the payload (and summary and channel) from the record, so the three paths cannot drift.

Tags (their meaning is agreed in customer360/events.py): ``ticket``, ``deal``, ``contract`` and
``ticket_closed``, ``deal_closed``, ``contract_closed`` for the steps of a record's status; ``state``;
``complaint`` (a ticket kind that is a complaint when its payload's ``category`` says so; the
open-complaint fact itself is read from open tickets, not from events); ``purchase``; ``revenue`` (won
deals and imported orders, cancellations negative);
``customer_text``.
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.models import Activity, Contract, Deal, Ticket
from customer360 import events
from customer360.events import Field
from customer360.models import Channel, Department, Direction

SALES, SERVICE = Department.SALES, Department.SERVICE


# --- rendering of choice values in the reader's language ----------------------------------------------
def outcome_suffix(value) -> str:
    """ " (Reached)" after a call's subject; nothing when no outcome was given."""
    if value in Activity.Outcome.values:
        return f" ({Activity.Outcome(value).label})"
    return ""


def reason_suffix(value) -> str:
    return f" ({value})" if value else ""


def ticket_noun(value) -> str:
    """A complaint is announced as one; every other category as a ticket."""
    return gettext("Complaint") if value == Ticket.Category.COMPLAINT else gettext("Ticket")


def sla_clock(value) -> str:
    return gettext("First response") if value == "first_response" else gettext("Resolution")


# --- Activities ----------------------------------------------------------------------------------------
_ACTIVITY_FIELDS = (
    Field("activity_id", "int"),
    Field("subject"),
    Field("outcome", outcome_suffix),
    Field("follow_up", "date"),
)


def _activity(kind, label, title, channel, *, contact=True, direction=Direction.OUTBOUND):
    return events.declare(
        kind,
        department=SALES,
        label=label,
        title=title,
        fields=_ACTIVITY_FIELDS,
        channel=channel,
        direction=direction,
        contact=contact,
        tags={"customer_text"},
    )


CALL_LOGGED = _activity("call.logged", _("Call logged"), _("Call: %(subject)s%(outcome)s"), Channel.PHONE)
MEETING_LOGGED = _activity(
    "meeting.logged", _("Meeting logged"), _("Meeting: %(subject)s%(outcome)s"), Channel.IN_PERSON
)
EMAIL_LOGGED = _activity(
    "email.logged", _("E-mail logged"), _("E-mail: %(subject)s%(outcome)s"), Channel.EMAIL
)
VISIT_LOGGED = _activity(
    "visit.logged", _("Visit logged"), _("Visit: %(subject)s%(outcome)s"), Channel.IN_PERSON
)
# A sales note about a customer (an Activity of kind "note"); not a contact. The core's free note
# on the timeline is "note.added" and belongs to the core.
NOTE_LOGGED = _activity(
    "note.logged",
    _("Sales note"),
    _("Note: %(subject)s%(outcome)s"),
    Channel.INTERNAL,
    contact=False,
    direction=Direction.INTERNAL,
)
ACTIVITY_KINDS = {
    Activity.Kind.CALL: CALL_LOGGED,
    Activity.Kind.MEETING: MEETING_LOGGED,
    Activity.Kind.EMAIL: EMAIL_LOGGED,
    Activity.Kind.VISIT: VISIT_LOGGED,
    Activity.Kind.NOTE: NOTE_LOGGED,
}


def activity_values(activity: Activity) -> dict:
    """Payload and summary (the notes as written) of an activity's event."""
    return {
        "payload": ACTIVITY_KINDS[activity.kind].payload(
            activity_id=activity.pk,
            subject=activity.subject,
            outcome=activity.outcome,
            follow_up=activity.follow_up_date,
        ),
        "summary": activity.notes,
    }


# --- Deals ---------------------------------------------------------------------------------------------
_DEAL_FIELDS = (Field("deal_id", "int"), Field("title"), Field("amount", "money"), Field("stage"))


def _deal(kind, label, title, *extra: Field, tags=()):
    return events.declare(
        kind,
        department=SALES,
        label=label,
        title=title,
        fields=(*_DEAL_FIELDS, *extra),
        channel=Channel.INTERNAL,
        direction=Direction.INTERNAL,
        tags={"deal", "state", *tags},
    )


DEAL_CREATED = _deal("deal.created", _("Deal created"), _("Deal created: %(title)s, %(amount)s"))
DEAL_STAGE_CHANGED = _deal(
    "deal.stage_changed",
    _("Deal moved"),
    _("Deal %(title)s moved from %(previous_stage)s to %(stage)s"),
    Field("previous_stage"),
)
DEAL_WON = _deal(
    "deal.won",
    _("Deal won"),
    _("Deal won: %(title)s, %(amount)s"),
    tags={"deal_closed", "purchase", "revenue"},
)
DEAL_LOST = _deal(
    "deal.lost",
    _("Deal lost"),
    _("Deal lost: %(title)s%(lost_reason)s"),
    Field("lost_reason", reason_suffix),
    tags={"deal_closed"},
)


def deal_values(kind: events.EventKind, deal: Deal, **extra) -> dict:
    """Payload of a deal's event; ``extra``: ``previous_stage`` of a move."""
    if kind is DEAL_LOST:
        extra["lost_reason"] = deal.lost_reason
    payload = kind.payload(
        deal_id=deal.pk, title=deal.title, amount=deal.amount, stage=deal.stage.name, **extra
    )
    return {"payload": payload}


# --- Orders (imported purchase lines) -----------------------------------------------------------------
# ``amount`` is in the base currency (the payload's ``currency``), so revenue sums add up across
# currencies; ``original_amount``/``original_currency`` are what the customer paid. A cancellation's
# amount is negative. One event per order and import batch (an order split by a batch boundary
# has two, each with its own lines), so the events' amounts always sum to the lines'. Not named
# "order.*": files imported as plain events (target "events") use those names for their own rows.
_ORDER_FIELDS = (
    Field("order_id", "int"),
    Field("number"),
    Field("lines", "int"),
    Field("amount", "money"),
    Field("original_amount", "number"),
    Field("original_currency"),
)


def _order_summary(payload: dict):
    if payload.get("original_currency") == payload.get("currency"):
        return ""
    return _("Paid in %(original_currency)s: %(original_amount)s")


ORDER_PLACED = events.declare(
    "purchase.ordered",
    department=SALES,
    label=_("Order placed"),
    title=_("Order %(number)s: %(lines)s lines, %(amount)s"),
    summary=_order_summary,
    fields=_ORDER_FIELDS,
    channel=Channel.WEB,
    direction=Direction.INBOUND,
    tags={"purchase", "revenue"},
)
ORDER_CANCELLED = events.declare(
    "purchase.cancelled",
    department=SALES,
    label=_("Order cancelled"),
    title=_("Cancellation %(number)s: %(lines)s lines, %(amount)s"),
    summary=_order_summary,
    fields=_ORDER_FIELDS,
    channel=Channel.WEB,
    direction=Direction.INBOUND,
    tags={"revenue"},
)


# --- Contracts -----------------------------------------------------------------------------------------
_CONTRACT_FIELDS = (
    Field("contract_id", "int"),
    Field("product"),
    Field("product_name"),
    Field("value", "money"),
    Field("renewal_date", "date"),
)


def _contract(kind, label, title, tags=()):
    return events.declare(
        kind,
        department=SALES,
        label=label,
        title=title,
        fields=_CONTRACT_FIELDS,
        channel=Channel.INTERNAL,
        direction=Direction.INTERNAL,
        tags={"contract", "state", *tags},
    )


CONTRACT_STARTED = _contract(
    "contract.started", _("Contract started"), _("Contract started: %(product_name)s"), {"purchase"}
)
CONTRACT_RENEWED = _contract(
    "contract.renewed",
    _("Contract renewed"),
    _("Contract renewed: %(product_name)s until %(renewal_date)s"),
    {"purchase"},
)
CONTRACT_CANCELLED = _contract(
    "contract.cancelled",
    _("Contract cancelled"),
    _("Contract cancelled: %(product_name)s"),
    {"contract_closed"},
)


def contract_values(kind: events.EventKind, contract: Contract) -> dict:
    payload = kind.payload(
        contract_id=contract.pk,
        product=contract.product.code,
        product_name=contract.product.name,
        value=contract.value_per_year,
        renewal_date=contract.renewal_date,
    )
    return {"payload": payload}


# --- Tickets -------------------------------------------------------------------------------------------
_TICKET_FIELDS = (
    Field("ticket_id", "int"),
    Field("subject"),
    Field("category", ticket_noun),
    Field("priority"),
)


def _ticket(
    kind, label, title, *extra: Field, direction=Direction.INTERNAL, channel="", tags=(), contact=False
):
    return events.declare(
        kind,
        department=SERVICE,
        label=label,
        title=title,
        fields=(*_TICKET_FIELDS, *extra),
        # "": the ticket's own channel (where the customer wrote), set per event by ticket_values.
        channel=channel or Channel.OTHER,
        direction=direction,
        contact=contact,
        tags=tags,
    )


TICKET_OPENED = _ticket(
    "ticket.opened",
    _("Ticket opened"),
    _("%(category)s opened: %(subject)s"),
    direction=Direction.INBOUND,
    tags={"ticket", "complaint", "state", "customer_text"},
)
TICKET_REPLIED = _ticket(
    "ticket.replied",
    _("Reply to customer"),
    _("Reply to customer on ticket: %(subject)s"),
    Field("message_id", "int"),
    direction=Direction.OUTBOUND,
    tags={"customer_text"},
)
TICKET_NOTE = _ticket(
    "ticket.note",
    _("Internal note on a ticket"),
    _("Internal note on ticket: %(subject)s"),
    Field("message_id", "int"),
    channel=Channel.INTERNAL,
    tags={"customer_text"},
)
TICKET_SOLVED = _ticket(
    "ticket.solved",
    _("Ticket solved"),
    _("Ticket solved: %(subject)s"),
    tags={"ticket", "state", "ticket_closed"},
)
TICKET_CLOSED = _ticket(
    "ticket.closed",
    _("Ticket closed"),
    _("Ticket closed: %(subject)s"),
    tags={"ticket", "state", "ticket_closed"},
)
TICKET_REOPENED = _ticket(
    "ticket.reopened",
    _("Ticket reopened"),
    _("Ticket reopened: %(subject)s"),
    tags={"ticket", "complaint", "state", "customer_text"},
)
TICKET_SLA_BREACHED = _ticket(
    "ticket.sla_breached",
    _("SLA breached"),
    _("%(sla)s overdue (SLA breached): %(subject)s"),
    Field("sla", sla_clock),
    channel=Channel.INTERNAL,
)
CSAT_RECEIVED = _ticket(
    "csat.received",
    _("Satisfaction received"),
    _("Satisfaction %(score)s/5 for ticket: %(subject)s"),
    Field("score", "int"),
    Field("comment"),
    direction=Direction.INBOUND,
    tags={"state", "customer_text"},
)
# Kinds whose event travels on the ticket's channel (the others are internal).
ON_TICKET_CHANNEL = frozenset(
    k.kind
    for k in (TICKET_OPENED, TICKET_REPLIED, TICKET_SOLVED, TICKET_CLOSED, TICKET_REOPENED, CSAT_RECEIVED)
)
TICKET_STATUS_KINDS = {
    Ticket.Status.SOLVED: TICKET_SOLVED,
    Ticket.Status.CLOSED: TICKET_CLOSED,
    Ticket.Status.REOPENED: TICKET_REOPENED,
}


def ticket_values(kind: events.EventKind, ticket: Ticket, *, summary: str = "", **extra) -> dict:
    """Payload, channel and summary of a ticket's event. ``extra``: ``message_id`` of a reply,
    ``sla`` of a breach, ``score``/``comment`` of a rating. The opening's summary is the description."""
    if kind is TICKET_OPENED:
        summary = ticket.description[:2000]
    elif kind is CSAT_RECEIVED:
        summary = extra.get("comment", "")
    payload = kind.payload(
        ticket_id=ticket.pk,
        subject=ticket.subject,
        category=ticket.category,
        priority=ticket.priority,
        **extra,
    )
    channel = ticket.channel if kind.kind in ON_TICKET_CHANNEL else kind.channel
    return {"payload": payload, "channel": channel, "summary": summary}
