"""Scores published into the core: what a model learned about a customer, readable by every app.

Insights writes them (churn risk, payment risk, each action's propensity) on every scoring run;
departments read them through :mod:`customer360.scores` without importing insights.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

__all__ = ["Score", "ScoreBand", "ScoreQuerySet"]

CHURN_RISK = "churn_risk"
PAYMENT_RISK = "payment_risk"
PROPENSITY_PREFIX = "propensity:"
OUTCOME_PREFIX = "outcome:"  # an outcome an admin defined in the app (insights.OutcomeDefinition)
RISK_KINDS = (CHURN_RISK, PAYMENT_RISK)
LABELS = {
    CHURN_RISK: _("Churn risk"),
    PAYMENT_RISK: _("Payment risk"),
}


def label_of(kind: str) -> str:
    """How people call a score kind (an action's propensity by the action's key)."""
    if kind in LABELS:
        return str(LABELS[kind])
    for prefix in (PROPENSITY_PREFIX, OUTCOME_PREFIX):
        if kind.startswith(prefix):
            return kind.removeprefix(prefix)
    return kind


class ScoreBand(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class ScoreQuerySet(models.QuerySet):
    def of_kind(self, kind: str) -> ScoreQuerySet:
        return self.filter(kind=kind)

    def visible_to(self, user) -> ScoreQuerySet:
        customers = apps.get_model("customer360", "Customer").objects.visible_to(user)
        return self.filter(customer__in=customers)

    def top(self, kind: str, n: int = 50) -> ScoreQuerySet:
        """The ``n`` highest scores of a kind (served by the kind/value index)."""
        return self.filter(kind=kind).order_by("-value", "customer_id")[:n]


class Score(models.Model):
    """One customer's current score of one kind: a calibrated probability (0..1) with its band,
    the model version that computed it and the reasons in plain words (English and German).

    Derived data, rewritten for every customer on every scoring run: the change history would grow
    by millions of rows a night and hold nothing a person decided, so it is not ``@tracked``; the
    model versions and their training data are what explain a score.
    """

    customer = models.ForeignKey(
        "customer360.Customer", on_delete=models.CASCADE, related_name="scores", verbose_name=_("customer")
    )
    kind = models.CharField(_("score"), max_length=80)
    value = models.FloatField(_("value"))
    band = models.CharField(_("band"), max_length=10, choices=ScoreBand.choices)
    model_version = models.CharField(_("model version"), max_length=80, blank=True)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    objects = ScoreQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        constraints = [models.UniqueConstraint(fields=["customer", "kind"], name="c360_score_unique")]
        # The top customers of a kind, and the ids a list filter on a score admits (customer_list.FEW),
        # from the index alone.
        indexes = [
            models.Index(fields=["kind", "-value"], include=["customer"], name="c360_score_kind_value")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of customer {self.customer_id}: {self.value:.3f}"

    @property
    def percent(self) -> float:
        return round(self.value * 100, 1)

    @property
    def label(self) -> str:
        return label_of(self.kind)

    @property
    def reason_list(self) -> list[str]:
        """The reasons in the reader's language."""
        return self.reason_texts(get_language() or "en")

    def reason_texts(self, language: str = "en") -> list[str]:
        key = "de" if language.startswith("de") else "en"
        return [r.get(key) or r.get("en", "") for r in self.reasons if isinstance(r, dict)]
