"""Next-best action: recommendations shown / accepted / dismissed / completed by action and by rep,
conversion and lift over the random hold-out (with a 95 % confidence interval), AUC per model version.

"Shown" = recommendations created in the period; the other series count them by their status now.
Conversion = customers with a success event (any action's ``success_kinds``) in the period, among
the scored customers of each group (the hold-out is drawn at random before any rule applies).
"""

from __future__ import annotations

import math

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from customer360.models import Customer, TimelineEvent
from insights.analytics.dashboards.charts import ChartData, ChartDef, Dashboard, Drill, Series, dashboards
from insights.analytics.dashboards.filters import Filters
from insights.analytics.models import CustomerConversion
from insights.analytics.rollups import success_kinds
from insights.models import Action, CustomerScore, ModelVersion, Recommendation

STATUSES = [
    ("shown", gettext_lazy("Shown")),
    ("accepted", gettext_lazy("Accepted")),
    ("dismissed", gettext_lazy("Dismissed")),
    ("completed", gettext_lazy("Completed")),
]
REC_COLUMNS = [
    (gettext_lazy("Action"), "action__key"),
    (gettext_lazy("Status"), "status"),
    (gettext_lazy("Created"), "created_at"),
    (gettext_lazy("Decided"), "decided_at"),
]
Z95 = 1.96


def _recommendations(f: Filters):
    return Recommendation.objects.filter(f.scope(), f.in_period("created_at"))


def _status_counts() -> dict:
    return {
        "shown": Count("id"),
        **{key: Count("id", filter=Q(status=key)) for key, _label in STATUSES[1:]},
    }


def by_action(f: Filters) -> ChartData:
    rows = {
        r["action"]: r for r in _recommendations(f).values("action").annotate(**_status_counts()).order_by()
    }
    actions = list(
        Action.objects.filter(pk__in=rows)
        .order_by("order", "key")
        .values_list("pk", "key", "name_en", "name_de")
    )
    german = (get_language() or "en").startswith("de")
    return ChartData(
        key="nba.by_action",
        title=_("Recommendations by action"),
        categories=[(str(pk), (de if german else en) or key) for pk, key, en, de in actions],
        series=[
            Series(str(label), [rows[pk][key] for pk, *_r in actions], key=key) for key, label in STATUSES
        ],
        x_title=_("Action"),
        y_title=_("Recommendations"),
    )


def _status_drill(queryset, series: str):
    return queryset.filter(status=series) if series in {k for k, _l in STATUSES[1:]} else queryset


def drill_by_action(f: Filters, bucket: str, series: str) -> Drill:
    recs = _status_drill(_recommendations(f).filter(action_id=int(bucket)), series)
    return Drill(_("Recommendations"), recs, REC_COLUMNS)


def by_rep(f: Filters) -> ChartData:
    """By the customer's owner (the rep who acts on the recommendation)."""
    rows = list(
        _recommendations(f).values("customer__owner").annotate(**_status_counts()).order_by("customer__owner")
    )
    names = {
        u.pk: u.get_full_name() or u.username
        for u in get_user_model().objects.filter(
            pk__in=[r["customer__owner"] for r in rows if r["customer__owner"]]
        )
    }
    return ChartData(
        key="nba.by_rep",
        title=_("Recommendations by rep"),
        categories=[
            (str(r["customer__owner"] or 0), names.get(r["customer__owner"], _("No owner"))) for r in rows
        ],
        series=[Series(str(label), [r[key] for r in rows], key=key) for key, label in STATUSES],
        x_title=_("Rep (customer owner)"),
        y_title=_("Recommendations"),
    )


def drill_by_rep(f: Filters, bucket: str, series: str) -> Drill:
    owner = int(bucket)
    recs = _recommendations(f).filter(
        Q(customer__owner_id=owner) if owner else Q(customer__owner__isnull=True)
    )
    return Drill(_("Recommendations"), _status_drill(recs, series), REC_COLUMNS)


def _group(f: Filters, holdout: bool):
    return Customer.objects.filter(
        f.scope(customer_prefix="", owner_field="owner"),
        pk__in=CustomerScore.objects.filter(holdout=holdout).values("customer_id"),
    )


def _converted_ids(f: Filters):
    """Customers with a success event in the period. For periods ending today (every preset) the
    incrementally refreshed ``CustomerConversion`` answers without touching the timeline."""
    if f.end >= f.today:
        return CustomerConversion.objects.filter(last_success_at__gte=f.start_at).values("customer_id")
    return TimelineEvent.objects.filter(f.in_period("occurred_at"), kind__in=success_kinds()).values(
        "customer_id"
    )


def _converted(f: Filters, holdout: bool):
    return _group(f, holdout).filter(pk__in=_converted_ids(f))


def lift(f: Filters) -> ChartData:
    """Conversion of customers who get recommendations vs the random hold-out, with the lift and
    its 95 % confidence interval (normal approximation of the difference of two proportions)."""
    converted = _converted_ids(f)
    scores = CustomerScore.objects.filter(
        f.scope(customer_prefix="customer__", owner_field="customer__owner")
    )
    # One pass over the scored customers, grouped by group, so the converted subquery is hashed once
    # (a FILTER per group evaluated it twice).
    totals = {
        row["holdout"]: (row["n"], row["converted"])
        for row in scores.values("holdout")
        .annotate(n=Count("pk"), converted=Count("pk", filter=Q(customer_id__in=converted)))
        .order_by()
    }
    counts = {name: totals.get(holdout, (0, 0)) for name, holdout in (("treated", False), ("holdout", True))}
    rates = {k: (c / n if n else 0.0) for k, (n, c) in counts.items()}
    (n1, _c1), (n0, _c0) = counts["treated"], counts["holdout"]
    p1, p0 = rates["treated"], rates["holdout"]
    difference = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) if n1 and n0 else 0.0
    low, high = difference - Z95 * se, difference + Z95 * se
    return ChartData(
        key="nba.lift",
        title=_("Conversion: recommendations vs hold-out"),
        categories=[("treated", _("With recommendations")), ("holdout", _("Hold-out"))],
        series=[
            Series(_("Conversion %"), [round(100 * p1, 2), round(100 * p0, 2)], key="rate", drill=False),
            Series(_("Converted customers"), [counts["treated"][1], counts["holdout"][1]], key="converted"),
            Series(_("Customers"), [n1, n0], key="customers", axis="y2"),
        ],
        x_title=_("Group"),
        y_title=_("% / customers"),
        y2_title=_("Customers"),
        note=_("Lift %(lift)+.2f points (95%% CI %(low)+.2f to %(high)+.2f)")
        % {"lift": 100 * difference, "low": 100 * low, "high": 100 * high},
        extra={"lift": difference, "ci": (low, high)},
    )


def drill_lift(f: Filters, bucket: str, series: str) -> Drill:
    holdout = {"treated": False, "holdout": True}[bucket]
    customers = _converted(f, holdout) if series == "converted" else _group(f, holdout)
    return Drill(
        _("Customers"), customers, [(gettext_lazy("Number"), "customer_number"), (gettext_lazy("Lifecycle"), "lifecycle")],
        customer_path="",
    )  # fmt: skip


def auc(f: Filters) -> ChartData:
    versions = list(ModelVersion.objects.select_related("action").order_by("action__key", "version")[:40])
    return ChartData(
        key="nba.auc",
        title=_("AUC per model version"),
        categories=[(str(v.pk), f"{v.action.key} v{v.version}") for v in versions],
        series=[
            Series(
                _("AUC"),
                [round(v.auc, 3) if v.auc is not None else None for v in versions],
                key="auc",
                drill=False,
            ),
            Series(_("Training rows"), [v.n for v in versions], key="n", axis="y2", drill=False),
        ],
        x_title=_("Model version"),
        y_title=_("AUC"),
        y2_title=_("Rows"),
    )


def drill_auc(f: Filters, bucket: str, series: str) -> Drill:
    recs = _recommendations(f).filter(model_version_id=int(bucket))
    return Drill(_("Recommendations scored by this model"), recs, REC_COLUMNS)


dashboards.register(
    Dashboard(
        key="nba",
        title=gettext_lazy("Next-best action"),
        order=50,
        description=gettext_lazy("Recommendations by action and rep, lift over the hold-out, model AUC."),
        charts=(
            ChartDef("nba.by_action", by_action, drill_by_action),
            ChartDef("nba.by_rep", by_rep, drill_by_rep),
            ChartDef("nba.lift", lift, drill_lift),
            ChartDef("nba.auc", auc, drill_auc),
        ),
    )
)
