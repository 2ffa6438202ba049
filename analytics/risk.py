"""A transparent churn-risk score per customer: points for facts every department knows.

Not a model: managers see why a customer is at risk, and the points are easy to argue about. The
NBA propensity models can use the score (``analytics.CustomerRisk``) like any other feature.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from analytics.models import CustomerSentiment
from billing.models import Invoice
from crm.models import Contract, Ticket
from customer360.models import Customer

# reason key -> (points, English text)
POINTS = {
    "at_risk": (35, "Marked as at risk"),
    "cancelled_recently": (25, "Cancelled a contract in the last 180 days"),
    "no_active_contract": (10, "No active contract"),
    "open_complaint": (15, "Open complaint"),
    "dunning": (15, "Invoice at dunning level 2 or higher"),
    "negative_sentiment": (15, "Sounds negative in recent messages"),
}
BANDS = [
    ("low", 0, 24),
    ("medium", 25, 49),
    ("high", 50, 74),
    ("very_high", 75, 100),
]


def band_q(band: str) -> Q:
    """``CustomerRisk`` rows whose points lie in ``band`` (one of ``BANDS``): the one definition the
    chart's roll-up, its first count and its drill-down share."""
    _name, low, high = next(b for b in BANDS if b[0] == band)
    return Q(score__gte=low, score__lte=high)


def compute_scores() -> dict[int, tuple[int, list[str]]]:
    """``{customer_id: (score, reasons)}`` for current customers (not leads, prospects or churned)."""
    now = timezone.now()
    customers = dict(
        Customer.objects.filter(
            lifecycle__in=[Customer.Lifecycle.CUSTOMER, Customer.Lifecycle.AT_RISK]
        ).values_list("id", "lifecycle")
    )
    facts = {
        "cancelled_recently": set(
            Contract.objects.filter(
                status=Contract.Status.CANCELLED, cancelled_at__gte=now - timedelta(days=180)
            ).values_list("customer_id", flat=True)
        ),
        "active": set(Contract.objects.active().values_list("customer_id", flat=True)),
        "open_complaint": set(Ticket.objects.open_complaints().values_list("customer_id", flat=True)),
        "dunning": set(
            Invoice.objects.open().filter(dunning_level__gte=2).values_list("customer_id", flat=True)
        ),
        "negative_sentiment": set(
            CustomerSentiment.objects.filter(score__lt=-0.2).values_list("customer_id", flat=True)
        ),
    }
    scores = {}
    for customer_id, lifecycle in customers.items():
        reasons = []
        if lifecycle == Customer.Lifecycle.AT_RISK:
            reasons.append("at_risk")
        if customer_id not in facts["active"]:
            reasons.append("no_active_contract")
        for key in ("cancelled_recently", "open_complaint", "dunning", "negative_sentiment"):
            if customer_id in facts[key]:
                reasons.append(key)
        scores[customer_id] = (min(100, sum(POINTS[r][0] for r in reasons)), reasons)
    return scores
