"""Calls, meetings, e-mails, visits and notes with a customer."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

from crm import events
from crm.models import Activity, Deal
from crm.services.once import create_once, token_key
from customer360 import timeline
from customer360.models import Customer


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
    activity = Activity(
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
    activity.ensure_valid()
    key = token_key("crm.activity", token)

    def create() -> Activity:
        activity.save()
        return activity

    def record(activity: Activity):
        return events.ACTIVITY_KINDS[activity.kind].record(
            customer=customer,
            key=key or timeline.idempotency_key("crm.activity", activity.pk, "logged"),
            occurred_at=activity.occurred_at,
            actor=user,
            source=activity,
            **events.activity_values(activity),
        )

    return create_once(model=Activity, token_key=key, create=create, record=record)
