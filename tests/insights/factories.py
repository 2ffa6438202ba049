"""Helpers to give test customers a history through the timeline's bulk write path."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from django.utils import timezone

from customer360 import timeline

_keys = count()


def event(customer, kind: str, department: str, days_ago: float = 1, now: datetime | None = None, **payload):
    return timeline.EventData(
        customer_id=customer.pk if hasattr(customer, "pk") else int(customer),
        department=department,
        kind=kind,
        title=kind,
        idempotency_key=f"test:{next(_keys)}",
        occurred_at=(now or timezone.now()) - timedelta(days=days_ago),
        payload=payload,
    )


def history(*events) -> None:
    timeline.record_many(events, announce=False)


def gruber_history(customer, now=None) -> None:
    """Scenario 1: contract renewing in ~6 weeks, dunning level 2, complaint solved yesterday with
    CSAT 2, clicked the Premium newsletter twice, phone offers withdrawn, e-mail offers given."""
    history(
        event(customer, "contract.started", "sales", 323, now, contract_id=1),
        event(customer, "invoice.issued", "accounting", 53, now, invoice_id=9, amount=1240),
        event(customer, "dunning.notice", "accounting", 9, now, invoice_id=9, level=1, open_amount=1240.0),
        event(customer, "dunning.notice", "accounting", 2, now, invoice_id=9, level=2, open_amount=1240.0),
        event(customer, "ticket.opened", "service", 12, now, ticket_id=3, category="complaint"),
        event(customer, "ticket.solved", "service", 1, now, ticket_id=3, category="complaint"),
        event(customer, "csat.received", "service", 1, now, ticket_id=3, score=2),
        event(customer, "email.clicked", "marketing", 4, now, campaign="Premium newsletter"),
        event(customer, "email.clicked", "marketing", 5, now, campaign="Premium newsletter"),
        event(customer, "email.opened", "marketing", 5, now, campaign="Premium newsletter"),
        event(customer, "consent.given", "marketing", 400, now, channel="phone", purpose="offers"),
        event(customer, "consent.withdrawn", "marketing", 20, now, channel="phone", purpose="offers"),
        event(customer, "consent.given", "marketing", 400, now, channel="email", purpose="offers"),
        event(customer, "call.logged", "sales", 21, now, activity_id=1, outcome="reached"),
    )
