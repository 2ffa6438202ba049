"""Sales and service workflows. Every action writes its records AND exactly one timeline event.

Retries are safe: creating actions accept an optional ``token`` (e.g. the API's Idempotency-Key
header) — a second call with the same token returns the first result; state changes derive their
event key from the record and its new state, and repeating a change already made does nothing.
Refused actions raise ``ValidationError({field: [reason]})`` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from crm.models import (
    Activity,
    BusinessHours,
    Contract,
    Deal,
    Product,
    Satisfaction,
    SlaPolicy,
    Stage,
    Ticket,
    TicketMessage,
    refuse,
)
from customer360 import timeline
from customer360.models import Customer, Department, Direction, TimelineEvent


def _english(message: str, **values) -> str:
    """Titles are stored in English (the catalogue translates the msgids for display later)."""
    with translation.override("en"):
        return gettext(message) % values


def _eur(amount) -> str:
    return f"EUR {Decimal(amount or 0):,.2f}"


def _token_key(entity: str, token: str) -> str:
    return timeline.idempotency_key(entity, "token", token) if token else ""


def _create_once(
    *,
    model: type[models.Model],
    token_key: str,
    create: Callable[[], models.Model],
    record: Callable,
    payload_id: str = "",
):
    """Create a record and its event once per token: a retry returns the first record.

    The event points at the record (its source), or names it in ``payload[payload_id]`` when the
    event's source is a parent (a ticket message's event links the ticket). The unique idempotency
    key decides under concurrency: the loser's rows roll back to a savepoint.
    """

    def first_of(event_values) -> models.Model:
        source_id, payload = event_values
        return model.objects.get(pk=(payload or {}).get(payload_id) if payload_id else source_id)

    if token_key:
        existing = (
            TimelineEvent.objects.filter(idempotency_key=token_key)
            .values_list("source_id", "payload")
            .first()
        )
        if existing:
            return first_of(existing)
    with transaction.atomic():
        obj = create()
        event, created = record(obj)
        if not created:
            transaction.set_rollback(True)
    return obj if created else first_of((event.source_id, event.payload))


# --- Activities ------------------------------------------------------------------------------------
def activity_log(
    *,
    customer: Customer,
    user,
    kind: str = Activity.Kind.CALL,
    subject: str,
    notes: str = "",
    outcome: str = "",
    occurred_at: datetime | None = None,
    follow_up_date: date | None = None,
    deal: Deal | None = None,
    token: str = "",
) -> Activity:
    """Log a call, meeting, e-mail, visit or note (event call.logged, meeting.logged, ...)."""
    if kind not in Activity.EVENTS:
        raise refuse("kind", gettext("Unknown activity kind."))
    if not subject.strip():
        raise refuse("subject", gettext("A subject is required."))
    if deal is not None and deal.customer_id != customer.pk:
        raise refuse("deal", gettext("The deal belongs to another customer."))
    event_kind, channel = Activity.EVENTS[kind]
    token_key = _token_key("crm.activity", token)

    def create() -> Activity:
        return Activity.objects.create(
            customer=customer,
            kind=kind,
            subject=subject.strip(),
            notes=notes,
            outcome=outcome,
            occurred_at=occurred_at or timezone.now(),
            follow_up_date=follow_up_date,
            user=user,
            deal=deal,
        )

    def record(activity: Activity):
        outcome_label = activity.get_outcome_display() if outcome else ""
        title = _english(
            gettext_noop("%(kind)s: %(subject)s"), kind=activity.get_kind_display(), subject=subject
        )
        if outcome_label:
            title += f" ({outcome_label})"
        return timeline.record(
            customer=customer,
            department=Department.SALES,
            kind=event_kind,
            title=title,
            summary=notes,
            idempotency_key=token_key or timeline.idempotency_key("crm.activity", activity.pk, "logged"),
            occurred_at=activity.occurred_at,
            channel=channel,
            direction=Direction.OUTBOUND if kind != Activity.Kind.NOTE else Direction.INTERNAL,
            actor=user,
            source=activity,
            payload={
                "activity_id": activity.pk,
                "outcome": outcome,
                "follow_up": follow_up_date.isoformat() if follow_up_date else None,
            },
        )

    return _create_once(model=Activity, token_key=token_key, create=create, record=record)


# --- Deals -----------------------------------------------------------------------------------------
def _deal_event(deal: Deal, *, kind: str, title: str, key_parts: tuple, user, summary: str = ""):
    return timeline.record(
        customer=deal.customer_id,
        department=Department.SALES,
        kind=kind,
        title=title,
        summary=summary,
        idempotency_key=timeline.idempotency_key("crm.deal", deal.pk, *key_parts),
        channel="internal",
        direction=Direction.INTERNAL,
        actor=user,
        source=deal,
        payload={"deal_id": deal.pk, "amount": str(deal.amount), "stage": deal.stage.name},
    )


def deal_create(
    *,
    customer: Customer,
    user,
    title: str,
    amount: Decimal | int | str = 0,
    stage: Stage | None = None,
    expected_close: date | None = None,
    owner=None,
    token: str = "",
) -> Deal:
    """Open a deal in the first stage of the default pipeline (or the given open stage)."""
    if not title.strip():
        raise refuse("title", gettext("A title is required."))
    if Decimal(amount) < 0:
        raise refuse("amount", gettext("The amount cannot be negative."))
    if stage is None:
        stage = (
            Stage.objects.filter(pipeline__is_default=True, is_won=False, is_lost=False)
            .order_by("order")
            .first()
        )
    if stage is None or stage.is_closing:
        raise refuse("stage", gettext("A new deal starts in an open stage; use won/lost to close it."))
    token_key = _token_key("crm.deal", token)

    def create() -> Deal:
        return Deal.objects.create(
            customer=customer,
            title=title.strip(),
            amount=Decimal(amount),
            stage=stage,
            expected_close=expected_close,
            owner=owner or user,
        )

    def record(deal: Deal):
        title_text = _english(
            gettext_noop("Deal created: %(title)s, %(amount)s"), title=deal.title, amount=_eur(amount)
        )
        if token_key:
            return timeline.record(
                customer=customer,
                department=Department.SALES,
                kind="deal.created",
                title=title_text,
                idempotency_key=token_key,
                channel="internal",
                actor=user,
                source=deal,
                payload={"deal_id": deal.pk, "amount": str(deal.amount), "stage": stage.name},
            )
        return _deal_event(deal, kind="deal.created", title=title_text, key_parts=("created",), user=user)

    return _create_once(model=Deal, token_key=token_key, create=create, record=record)


def _locked_deal(deal: Deal) -> Deal:
    return Deal.objects.select_for_update().select_related("stage").get(pk=deal.pk)


def deal_move_stage(*, deal: Deal, stage: Stage, user) -> Deal:
    """Move an open deal to another open stage of its pipeline (deal.stage_changed)."""
    with transaction.atomic():
        deal = _locked_deal(deal)
        deal.ensure_open()
        if stage.pipeline_id != deal.stage.pipeline_id:
            raise refuse("stage", gettext("The stage belongs to another pipeline."))
        if stage.is_closing:
            raise refuse("stage", gettext("Use the won/lost actions to close a deal."))
        if stage.pk == deal.stage_id:
            return deal  # already there: a retried move changes nothing
        previous = deal.stage.name
        deal.stage = stage
        deal.stage_changes += 1
        deal.save(update_fields=["stage", "stage_changes"])
        _deal_event(
            deal,
            kind="deal.stage_changed",
            title=_english(
                gettext_noop("Deal %(title)s moved from %(old)s to %(new)s"),
                title=deal.title,
                old=previous,
                new=stage.name,
            ),
            key_parts=("stage", deal.stage_changes, stage.pk),
            user=user,
        )
    return deal


def _closing_stage(deal: Deal, *, won: bool) -> Stage:
    flag = {"is_won": True} if won else {"is_lost": True}
    stage = Stage.objects.filter(pipeline_id=deal.stage.pipeline_id, **flag).order_by("order").first()
    return stage or deal.stage


def deal_mark_won(*, deal: Deal, user) -> Deal:
    """Close a deal as won (deal.won); a won deal stays won, a lost deal is refused."""
    with transaction.atomic():
        deal = _locked_deal(deal)
        if deal.status == Deal.Status.WON:
            return deal
        deal.ensure_open()
        deal.stage = _closing_stage(deal, won=True)
        deal.status = Deal.Status.WON
        deal.closed_at = timezone.now()
        deal.save(update_fields=["stage", "status", "closed_at"])
        _deal_event(
            deal,
            kind="deal.won",
            title=_english(
                gettext_noop("Deal won: %(title)s, %(amount)s"), title=deal.title, amount=_eur(deal.amount)
            ),
            key_parts=("won",),
            user=user,
        )
    return deal


def deal_mark_lost(*, deal: Deal, user, reason: str) -> Deal:
    """Close a deal as lost with a reason (deal.lost); a won deal is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise refuse("lost_reason", gettext("Say why the deal was lost."))
    with transaction.atomic():
        deal = _locked_deal(deal)
        if deal.status == Deal.Status.LOST:
            return deal
        deal.ensure_open()
        deal.stage = _closing_stage(deal, won=False)
        deal.status = Deal.Status.LOST
        deal.lost_reason = reason[:300]
        deal.closed_at = timezone.now()
        deal.save(update_fields=["stage", "status", "lost_reason", "closed_at"])
        _deal_event(
            deal,
            kind="deal.lost",
            title=_english(
                gettext_noop("Deal lost: %(title)s (%(reason)s)"), title=deal.title, reason=reason
            ),
            key_parts=("lost",),
            user=user,
        )
    return deal


# --- Contracts -------------------------------------------------------------------------------------
def _contract_event(contract: Contract, *, kind: str, title: str, key: str, user):
    return timeline.record(
        customer=contract.customer_id,
        department=Department.SALES,
        kind=kind,
        title=title,
        idempotency_key=key,
        channel="internal",
        actor=user,
        source=contract,
        payload={
            "contract_id": contract.pk,
            "product": contract.product.code,
            "value": str(contract.value_per_year),
            "renewal_date": contract.renewal_date.isoformat() if contract.renewal_date else None,
        },
    )


def contract_create(
    *,
    customer: Customer,
    product: Product,
    user,
    start: date | None = None,
    end: date | None = None,
    renewal_date: date | None = None,
    value_per_year: Decimal | None = None,
    token: str = "",
) -> Contract:
    """Start a subscription (contract.started); renewal defaults to one year after the start."""
    start = start or timezone.localdate()
    if end and end < start:
        raise refuse("end", gettext("The end lies before the start."))
    token_key = _token_key("crm.contract", token)

    def create() -> Contract:
        return Contract.objects.create(
            customer=customer,
            product=product,
            start=start,
            end=end,
            renewal_date=renewal_date or end or start.replace(year=start.year + 1),
            value_per_year=product.price if value_per_year is None else value_per_year,
        )

    def record(contract: Contract):
        return _contract_event(
            contract,
            kind="contract.started",
            title=_english(gettext_noop("Contract started: %(product)s"), product=product.name),
            key=token_key or timeline.idempotency_key("crm.contract", contract.pk, "started"),
            user=user,
        )

    return _create_once(model=Contract, token_key=token_key, create=create, record=record)


def _locked_contract(contract: Contract) -> Contract:
    return Contract.objects.select_for_update().select_related("product").get(pk=contract.pk)


def contract_cancel(*, contract: Contract, user, end: date | None = None) -> Contract:
    """Cancel an active contract (contract.cancelled); cancelling twice changes nothing."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        if contract.status == Contract.Status.CANCELLED:
            return contract
        if contract.status != Contract.Status.ACTIVE:
            raise refuse("status", gettext("Only an active contract can be cancelled."))
        contract.status = Contract.Status.CANCELLED
        contract.cancelled_at = timezone.now()
        contract.end = end or contract.renewal_date or timezone.localdate()
        contract.save(update_fields=["status", "cancelled_at", "end"])
        _contract_event(
            contract,
            kind="contract.cancelled",
            title=_english(gettext_noop("Contract cancelled: %(product)s"), product=contract.product.name),
            key=timeline.idempotency_key("crm.contract", contract.pk, "cancelled"),
            user=user,
        )
    return contract


def contract_renew(*, contract: Contract, user, renewal_date: date | None = None) -> Contract:
    """Renew an active contract to the next renewal date (default: one year later; contract.renewed).

    A retry with the same ``renewal_date`` changes nothing.
    """
    with transaction.atomic():
        contract = _locked_contract(contract)
        if contract.status != Contract.Status.ACTIVE:
            raise refuse("status", gettext("Only an active contract can be renewed."))
        base = contract.renewal_date or timezone.localdate()
        new_date = renewal_date or base.replace(year=base.year + 1)
        if renewal_date and renewal_date == contract.renewal_date:
            return contract
        if contract.renewal_date and new_date <= contract.renewal_date:
            raise refuse("renewal_date", gettext("The new renewal date must lie after the current one."))
        contract.renewal_date = new_date
        if contract.end:
            contract.end = new_date
        contract.renewals += 1
        contract.save(update_fields=["renewal_date", "end", "renewals"])
        _contract_event(
            contract,
            kind="contract.renewed",
            title=_english(
                gettext_noop("Contract renewed: %(product)s until %(date)s"),
                product=contract.product.name,
                date=new_date.isoformat(),
            ),
            key=timeline.idempotency_key("crm.contract", contract.pk, "renewed", new_date.isoformat()),
            user=user,
        )
    return contract


# --- Tickets ---------------------------------------------------------------------------------------
def _ticket_event(ticket: Ticket, *, kind: str, title: str, key: str, user=None, **extra):
    payload = {"ticket_id": ticket.pk, "category": ticket.category, "priority": ticket.priority}
    payload.update(extra.pop("payload", {}))
    return timeline.record(
        customer=ticket.customer_id,
        department=Department.SERVICE,
        kind=kind,
        title=title,
        idempotency_key=key,
        actor=user,
        source=ticket,
        payload=payload,
        channel=extra.pop("channel", ticket.channel),
        direction=extra.pop("direction", Direction.INTERNAL),
        **extra,
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
    token_key = _token_key("crm.ticket", token)

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
        label = (
            gettext_noop("Complaint opened: %(subject)s")
            if ticket.category == "complaint"
            else gettext_noop("Ticket opened: %(subject)s")
        )
        return _ticket_event(
            ticket,
            kind="ticket.opened",
            title=_english(label, subject=ticket.subject),
            summary=description[:2000],
            key=token_key or timeline.idempotency_key("crm.ticket", ticket.pk, "opened"),
            user=user,
            occurred_at=ticket.opened_at,
            direction=Direction.INBOUND,
        )

    return _create_once(model=Ticket, token_key=token_key, create=create, record=record)


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
    token_key = _token_key("crm.ticketmessage", token)

    def create() -> TicketMessage:
        locked = _locked_ticket(ticket)
        if locked.status == Ticket.Status.CLOSED:
            raise refuse("status", gettext("A closed ticket takes no more messages."))
        message = TicketMessage.objects.create(ticket=locked, author=user, body=body, is_internal=is_internal)
        if not is_internal:
            changed = []
            if locked.first_response_at is None:
                locked.first_response_at = message.created_at
                changed.append("first_response_at")
            if locked.status in (Ticket.Status.NEW, Ticket.Status.REOPENED):
                locked.status = Ticket.Status.OPEN
                changed.append("status")
            if changed:
                locked.save(update_fields=changed)
        message.ticket = locked
        return message

    def record(message: TicketMessage):
        locked = message.ticket
        kind = "ticket.note" if is_internal else "ticket.replied"
        label = (
            gettext_noop("Internal note on ticket: %(subject)s")
            if is_internal
            else gettext_noop("Reply to customer on ticket: %(subject)s")
        )
        return _ticket_event(
            locked,
            kind=kind,
            title=_english(label, subject=locked.subject),
            summary=body[:2000],
            key=token_key or timeline.idempotency_key("crm.ticketmessage", message.pk),
            user=user,
            occurred_at=message.created_at,
            direction=Direction.INTERNAL if is_internal else Direction.OUTBOUND,
            channel="internal" if is_internal else locked.channel,
            payload={"message_id": message.pk},
        )

    return _create_once(
        model=TicketMessage, token_key=token_key, create=create, record=record, payload_id="message_id"
    )


def _ticket_change(
    ticket: Ticket, *, status: str, user, kind: str, title: str, key_parts: Callable
) -> Ticket:
    with transaction.atomic():
        ticket = _locked_ticket(ticket)
        if ticket.status == status:
            return ticket  # a retried action: already done
        ticket.transition_to(status)
        ticket.save()
        _ticket_event(
            ticket,
            kind=kind,
            title=_english(title, subject=ticket.subject),
            key=timeline.idempotency_key("crm.ticket", ticket.pk, *key_parts(ticket)),
            user=user,
        )
    return ticket


def ticket_solve(*, ticket: Ticket, user) -> Ticket:
    """Mark solved (ticket.solved); refused for a closed ticket."""
    return _ticket_change(
        ticket,
        status=Ticket.Status.SOLVED,
        user=user,
        kind="ticket.solved",
        title=gettext_noop("Ticket solved: %(subject)s"),
        key_parts=lambda t: ("solved", t.reopen_count),
    )


def ticket_close(*, ticket: Ticket, user) -> Ticket:
    """Close a solved ticket for good (ticket.closed)."""
    return _ticket_change(
        ticket,
        status=Ticket.Status.CLOSED,
        user=user,
        kind="ticket.closed",
        title=gettext_noop("Ticket closed: %(subject)s"),
        key_parts=lambda t: ("closed",),
    )


def ticket_reopen(*, ticket: Ticket, user) -> Ticket:
    """Reopen a solved ticket (ticket.reopened)."""
    return _ticket_change(
        ticket,
        status=Ticket.Status.REOPENED,
        user=user,
        kind="ticket.reopened",
        title=gettext_noop("Ticket reopened: %(subject)s"),
        key_parts=lambda t: ("reopened", t.reopen_count),
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
        if ticket.status not in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
            raise refuse("ticket", gettext("Satisfaction can only be recorded for a solved ticket."))
        rating = Satisfaction.objects.create(ticket=ticket, score=score, comment=comment)
        _ticket_event(
            ticket,
            kind="csat.received",
            title=_english(
                gettext_noop("Satisfaction %(score)s/5 for ticket: %(subject)s"),
                score=score,
                subject=ticket.subject,
            ),
            summary=comment,
            key=timeline.idempotency_key("crm.ticket", ticket.pk, "csat"),
            user=user,
            occurred_at=rating.created_at,
            direction=Direction.INBOUND,
            payload={"score": score, "comment": comment},
        )
    return rating


BREACHES = (
    # (name, flag, breached-at field, due field, done field)
    (
        "first_response",
        "sla_breached_first_response",
        "first_response_breached_at",
        "first_response_due",
        "first_response_at",
    ),
    ("resolution", "sla_breached_resolution", "resolution_breached_at", "resolution_due", "solved_at"),
)


def ticket_flag_sla_breaches(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Flag every SLA breach once and record ticket.sla_breached once per breach; return how many.

    A conditional UPDATE claims each breach, so concurrent runs (or a rerun) never flag twice. The
    due times already hold the calendar (holidays, closing days) and the finished pauses, so the
    check is one indexed filter per clock; a ticket waiting for the customer is skipped (paused).
    """
    now = now or timezone.now()
    flagged = 0
    for name, flag, at_field, due_field, done_field in BREACHES:
        late = Q(
            **{f"{done_field}__isnull": True, f"{due_field}__lt": now, "status__in": Ticket.RUNNING_STATUSES}
        ) | Q(**{f"{done_field}__gt": F(due_field)})
        ids = list(
            Ticket.objects.filter(late, **{flag: False}).order_by("pk").values_list("pk", flat=True)[:limit]
        )
        for pk in ids:
            with transaction.atomic():
                claimed = Ticket.objects.filter(pk=pk, **{flag: False}).update(
                    **{flag: True, at_field: F(due_field)}
                )
                if not claimed:
                    continue
                ticket = Ticket.objects.get(pk=pk)
                label = (
                    gettext_noop("First response overdue (SLA breached): %(subject)s")
                    if name == "first_response"
                    else gettext_noop("Resolution overdue (SLA breached): %(subject)s")
                )
                _ticket_event(
                    ticket,
                    kind="ticket.sla_breached",
                    title=_english(label, subject=ticket.subject),
                    key=timeline.idempotency_key("crm.ticket", pk, "sla_breached", name),
                    actor_label="SLA check",
                    occurred_at=getattr(ticket, at_field) or now,
                    channel="internal",
                    payload={"sla": name},
                )
                flagged += 1
    return flagged
