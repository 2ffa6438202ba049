"""Tickets: open, edit, reply, change status (with the SLA pause), solve, close, reopen, rate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.models import BusinessHours, Satisfaction, SlaPolicy, Ticket, TicketMessage, refuse
from crm.services.once import create_once, token_key
from customer360 import timeline
from customer360.events import EventKind
from customer360.models import Customer


def record_ticket_event(ticket: Ticket, kind: EventKind, key: str, *, user=None, occurred_at=None, **extra):
    """One event of a ticket, its payload, channel and summary from crm.events.ticket_values."""
    return kind.record(
        customer=ticket.customer_id,
        key=key,
        occurred_at=occurred_at,
        actor=user,
        actor_label=extra.pop("actor_label", ""),
        source=ticket,
        **events.ticket_values(kind, ticket, **extra),
    )


def ticket_create(
    *,
    customer: Customer,
    user,
    subject: str,
    description: str = "",
    channel: str = "email",
    category: str = Ticket.Category.QUESTION,
    priority: str = Ticket.Priority.NORMAL,
    assignee=None,
    opened_at: datetime | None = None,
    token: str = "",
) -> Ticket:
    """Open a ticket with SLA due times from its priority's policy and the business hours."""
    if not subject.strip():
        raise refuse("subject", gettext("A subject is required."))
    key = token_key("crm.ticket", token)

    def create() -> Ticket:
        ticket = Ticket(
            customer=customer,
            subject=subject.strip(),
            description=description,
            channel=channel,
            category=category,
            priority=priority,
            assignee=assignee,
            opened_at=opened_at or timezone.now(),
        )
        ticket.compute_due_times(SlaPolicy.objects.filter(priority=priority).first(), BusinessHours.current())
        ticket.save()
        return ticket

    def record(ticket: Ticket):
        own_key = key or timeline.idempotency_key("crm.ticket", ticket.pk, "opened")
        return record_ticket_event(
            ticket, events.TICKET_OPENED, own_key, user=user, occurred_at=ticket.opened_at
        )

    return create_once(model=Ticket, token_key=key, create=create, record=record)


def ticket_update(*, ticket: Ticket, user, **fields) -> Ticket:
    """Edit subject, description, category, priority, assignee (no timeline event: not an action
    towards the customer); a priority change recomputes the SLA due times."""
    allowed = {"subject", "description", "category", "priority", "assignee", "channel"}
    unknown = set(fields) - allowed
    if unknown:
        raise refuse(sorted(unknown)[0], gettext("This field cannot be edited here."))
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        priority_changed = "priority" in fields and fields["priority"] != ticket.priority
        for name, value in fields.items():
            setattr(ticket, name, value)
        if priority_changed:
            ticket.compute_due_times(
                SlaPolicy.objects.filter(priority=ticket.priority).first(), BusinessHours.current()
            )
        ticket.save()
    return ticket


def _locked_ticket(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def ticket_reply(
    *, ticket: Ticket, user, body: str, is_internal: bool = False, token: str = ""
) -> TicketMessage:
    """A reply to the customer (ticket.replied; the first one sets first_response_at) or an
    internal note (ticket.note)."""
    if not body.strip():
        raise refuse("body", gettext("The message is empty."))
    if ticket.status == Ticket.Status.CLOSED:
        raise refuse("status", gettext("A closed ticket takes no more messages."))
    key = token_key("crm.ticketmessage", token)

    def create() -> TicketMessage:
        locked = _locked_ticket(ticket)
        if locked.status == Ticket.Status.CLOSED:
            raise refuse("status", gettext("A closed ticket takes no more messages."))
        message = TicketMessage.objects.create(ticket=locked, author=user, body=body, is_internal=is_internal)
        changed = [] if is_internal else locked.note_reply(message.created_at)
        if changed:
            locked.save(update_fields=changed)
        message.ticket = locked
        return message

    def record(message: TicketMessage):
        return record_ticket_event(
            message.ticket,
            events.TICKET_NOTE if is_internal else events.TICKET_REPLIED,
            key or timeline.idempotency_key("crm.ticketmessage", message.pk),
            user=user,
            occurred_at=message.created_at,
            summary=body[:2000],
            message_id=message.pk,
        )

    return create_once(
        model=TicketMessage, token_key=key, create=create, record=record, payload_id="message_id"
    )


def _ticket_change(ticket: Ticket, *, status: str, user, key_parts: Callable) -> Ticket:
    with transaction.atomic():
        ticket = _locked_ticket(ticket)
        if ticket.status == status:
            return ticket  # a retried action: already done
        ticket.transition_to(status)
        ticket.save()
        key = timeline.idempotency_key("crm.ticket", ticket.pk, *key_parts(ticket))
        record_ticket_event(ticket, events.TICKET_STATUS_KINDS[status], key, user=user)
    return ticket


def ticket_solve(*, ticket: Ticket, user) -> Ticket:
    """Mark solved (ticket.solved); refused for a closed ticket."""
    return _ticket_change(
        ticket, status=Ticket.Status.SOLVED, user=user, key_parts=lambda t: ("solved", t.reopen_count)
    )


def ticket_close(*, ticket: Ticket, user) -> Ticket:
    """Close a solved ticket for good (ticket.closed)."""
    return _ticket_change(ticket, status=Ticket.Status.CLOSED, user=user, key_parts=lambda t: ("closed",))


def ticket_reopen(*, ticket: Ticket, user) -> Ticket:
    """Reopen a solved ticket (ticket.reopened)."""
    return _ticket_change(
        ticket, status=Ticket.Status.REOPENED, user=user, key_parts=lambda t: ("reopened", t.reopen_count)
    )


def ticket_set_status(*, ticket: Ticket, user, status: str) -> Ticket:
    """Set open/waiting (no customer-facing action, so no event); solve/close/reopen have their own.
    Waiting for the customer pauses the SLA clock; back to open moves the due times on by the pause."""
    if status not in (Ticket.Status.OPEN, Ticket.Status.WAITING):
        raise refuse("status", gettext("Use the solve, close or reopen actions for this status."))
    with transaction.atomic():
        ticket = _locked_ticket(ticket)
        if ticket.status != status:
            ticket.transition_to(status)
            ticket.save(
                update_fields=[
                    "status",
                    "sla_paused_since",
                    "sla_paused_minutes",
                    "first_response_due",
                    "resolution_due",
                ]
            )
    return ticket


def ticket_record_csat(*, ticket: Ticket, score: int, comment: str = "", user=None) -> Satisfaction:
    """Record the customer's rating of a solved ticket (csat.received); once per ticket."""
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise refuse("score", gettext("The score must be between 1 and 5."))
    with transaction.atomic():
        ticket = _locked_ticket(ticket)
        existing = Satisfaction.objects.filter(ticket=ticket).first()
        if existing is not None:
            if existing.score == score and existing.comment == comment:
                return existing  # a retry
            raise refuse("ticket", gettext("This ticket has already been rated."))
        if ticket.status not in Ticket.SOLVED_STATUSES:
            raise refuse("ticket", gettext("Satisfaction can only be recorded for a solved ticket."))
        rating = Satisfaction.objects.create(ticket=ticket, score=score, comment=comment)
        record_ticket_event(
            ticket,
            events.CSAT_RECEIVED,
            timeline.idempotency_key("crm.ticket", ticket.pk, "csat"),
            user=user,
            occurred_at=rating.created_at,
            score=score,
            comment=comment,
        )
    return rating
