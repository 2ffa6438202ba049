"""The periodic SLA check: flag each breach once and put it on the timeline."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from crm import events
from crm.models import Ticket
from crm.services.tickets import record_ticket_event
from customer360 import timeline

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
                record_ticket_event(
                    ticket,
                    events.TICKET_SLA_BREACHED,
                    timeline.idempotency_key("crm.ticket", pk, "sla_breached", name),
                    actor_label=gettext_noop("SLA check"),  # a translation key
                    occurred_at=getattr(ticket, at_field) or now,
                    sla=name,
                )
                flagged += 1
    return flagged
