"""The read side of the published customer scores (``customer360.score_models.Score``).

Whoever decides something about a customer from a learned score (billing's dunning tone, a
segment of customers at risk, the 360 header, a list filter) reads it here; the app that learns
the scores (insights) writes them and is never imported. A score is a calibrated probability
(0..1); rules and filters speak in percent. A customer without a score of a kind is "unknown",
matched by no comparison (an unknown risk is not a low one).
"""

from __future__ import annotations

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy

from customer360.linear import negated
from customer360.registry import Condition, ListFilter, compare, conditions
from customer360.score_models import (
    CHURN_RISK,
    LABELS,
    OUTCOME_PREFIX,
    PAYMENT_RISK,
    PROPENSITY_PREFIX,
    RISK_KINDS,
    Score,
    ScoreBand,
    label_of,
)

__all__ = [
    "CHURN_RISK",
    "LABELS",
    "OUTCOME_PREFIX",
    "PAYMENT_RISK",
    "PROPENSITY_PREFIX",
    "RISK_KINDS",
    "label_of",
]


# Lower bounds of the medium and high band. Scores are calibrated probabilities, so one pair of
# thresholds reads the same for every customer and every model version.
BANDS = {
    CHURN_RISK: (0.2, 0.5),
    PAYMENT_RISK: (0.2, 0.5),
}
PROPENSITY_BANDS = (0.1, 0.3)


def propensity_kind(action_key: str) -> str:
    """The score kind of an action's propensity, e.g. ``propensity:upsell``."""
    return f"{PROPENSITY_PREFIX}{action_key}"


def outcome_kind(outcome_key: str) -> str:
    """The score kind of an outcome defined in the app, e.g. ``outcome:term_deposit``."""
    return f"{OUTCOME_PREFIX}{outcome_key}"


def band_of(kind: str, value: float) -> str:
    medium, high = BANDS.get(kind, PROPENSITY_BANDS)
    if value >= high:
        return ScoreBand.HIGH
    if value >= medium:
        return ScoreBand.MEDIUM
    return ScoreBand.LOW


def score_for(customer, kind: str) -> Score | None:
    """The customer's current score of ``kind`` (a Customer or its id), or None when unknown."""
    customer_id = getattr(customer, "pk", customer)
    return Score.objects.filter(customer_id=customer_id, kind=kind).first()


def risks_for(customer) -> list[Score]:
    """The customer's risk scores (churn, payment) in a fixed order, for the 360 header."""
    customer_id = getattr(customer, "pk", customer)
    found = {s.kind: s for s in Score.objects.filter(customer_id=customer_id, kind__in=RISK_KINDS)}
    return [found[kind] for kind in RISK_KINDS if kind in found]


def risk_of(customer_ids, kind: str) -> dict[int, Score]:
    """``{customer_id: score}`` of many customers at once (one query), e.g. for a dunning run."""
    return {s.customer_id: s for s in Score.objects.filter(customer_id__in=list(customer_ids), kind=kind)}


def admitted(kind: str, op: str, value: float) -> QuerySet:
    """The ids of the customers whose score of ``kind`` compares with ``value`` (a probability 0..1),
    read from the scores' index of (kind, value) alone."""
    return (
        Score.objects.filter(compare("value", op, value), kind=kind)
        .order_by()
        .values_list("customer_id", flat=True)
    )


def matching(kind: str, op: str, value: float) -> Q:
    """``Q`` over Customer: a score of ``kind`` compared with ``value`` (a probability 0..1)."""
    return Q(pk__in=admitted(kind, op, value))


def with_score(customers: QuerySet, kind: str, name: str | None = None) -> QuerySet:
    """The customers annotated with their score of ``kind`` (``score_<kind>``, None when unknown),
    for lists and exports; ``.order_by(F(name).desc(nulls_last=True))`` gives "top N by kind"."""
    name = name or f"score_{kind.replace(':', '_')}"
    value = Score.objects.filter(customer_id=OuterRef("pk"), kind=kind).values("value")[:1]
    return customers.annotate(**{name: Subquery(value)})


def top_customers(customers: QuerySet, kind: str, n: int = 50) -> QuerySet:
    """The ``n`` customers (of ``customers``, e.g. those visible to a user) most at risk / likeliest."""
    name = f"score_{kind.replace(':', '_')}"
    return (
        with_score(customers, kind, name)
        .filter(**{f"{name}__isnull": False})
        .order_by(F(name).desc(), "pk")[:n]
    )


# --- conditions: segments, NBA rules, list filters -------------------------------------------------
def _percent_condition(kind: str):
    def build(op: str, value) -> Q:
        return matching(kind, op, float(value) / 100)

    return build


def _percent_ids(kind: str, op: str):
    """A list filter's ``ids``: :func:`admitted` for its value in percent."""

    def ids(value) -> QuerySet:
        return admitted(kind, op, float(value) / 100)

    return ids


def _band_condition(kind: str):
    def build(op: str, value) -> Q:
        hit = Q(pk__in=Score.objects.filter(kind=kind, band=value).values("customer_id"))
        return negated(hit) if op == "ne" else hit

    return build


CONDITION_LABELS = {
    CHURN_RISK: (
        gettext_lazy("Churn risk, learned (%)"),
        gettext_lazy("Churn risk band"),
        gettext_lazy("Churn risk at least (%)"),
    ),
    PAYMENT_RISK: (
        gettext_lazy("Payment risk, learned (%)"),
        gettext_lazy("Payment risk band"),
        gettext_lazy("Payment risk at least (%)"),
    ),
}


#: The list filter on a score admits the customers at or above the percentage entered.
FILTER_OP = "gte"


def score_conditions(kind: str, name: str, labels: tuple, param: str, order: int = 12) -> list[Condition]:
    """``customer.score.<name>`` (percent, also a customer-list filter ``?<param>=``) and
    ``customer.score_band.<name>`` over the stored scores of ``kind``; ``labels`` = (label, band
    label, filter label). Used for the risks here and, by the app that learns them, for each
    action's propensity and each defined outcome (registered by key, without importing it)."""
    label, band_label, filter_label = labels
    return [
        Condition(
            f"customer.score.{name}",
            label,
            "system",
            "decimal",
            _percent_condition(kind),
            ("gt", "gte", "lt", "lte"),
            order=order,
            list_filter=ListFilter(param, FILTER_OP, filter_label, ids=_percent_ids(kind, FILTER_OP)),
        ),
        Condition(
            f"customer.score_band.{name}",
            band_label,
            "system",
            "choice",
            _band_condition(kind),
            ("eq", "ne"),
            choices=tuple(ScoreBand.choices),
            order=order,
        ),
    ]


def register_score_conditions() -> None:
    """The conditions of the risk scores (see :func:`score_conditions`)."""
    for kind in RISK_KINDS:
        for condition in score_conditions(kind, kind, CONDITION_LABELS[kind], f"{kind}_min"):
            conditions.register(condition)
