"""Next-best action: recommendations shown / accepted / dismissed / completed by action and by rep,
conversion and lift over the random hold-out (with a 95 % confidence interval), AUC per model version.

"Shown" = recommendations created in the period; the other series count them by their status now.
The charts read roll-ups (``analytics.rollups.SCORE_FAMILIES``, as of their last refresh); the
drill-downs list the rows themselves.
Conversion = customers with a success event (any action's ``success_kinds``) in the period, among
the scored customers of each group (the hold-out is drawn at random before any rule applies).
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q, Sum
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from analytics import kpis
from analytics.customer_rollups import success_kinds  # noqa: F401 - tests import it from here
from analytics.dashboards.charts import (
    ChartData,
    ChartDef,
    Dashboard,
    Drill,
    Series,
    dashboards,
    people_names,
)
from analytics.dashboards.filters import Filters
from analytics.models import DailyRollup
from customer360.models import Customer
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
    (gettext_lazy("Rep (customer owner)"), "customer__owner"),
    (gettext_lazy("Created"), "created_at"),
    (gettext_lazy("Decided"), "decided_at"),
]


def _recommendations(f: Filters):
    return Recommendation.objects.filter(f.scope(), f.in_period("created_at"))


def _rollup_rows(f: Filters, group: str) -> dict:
    """{action id or owner id: {"shown": n, "accepted": n, ...}} from the ``nba.recommendations``
    roll-up (recommendations created in the period, by their status now): a few thousand rows
    however many recommendations there are."""
    rows = (
        DailyRollup.objects.filter(
            f.rollup_q(), metric="nba.recommendations", day__gte=f.start, day__lte=f.end
        )
        .values("key", "owner_id")
        .annotate(n=Sum("count"))
        .order_by()
    )
    counts: dict = defaultdict(lambda: dict.fromkeys([k for k, _l in STATUSES], 0))
    for row in rows:
        action, status = row["key"].split(":", 1)
        bucket = counts[int(action) if group == "action" else row["owner_id"]]
        bucket["shown"] += row["n"]
        if status in bucket and status != "shown":
            bucket[status] += row["n"]
    return counts


def by_action(f: Filters) -> ChartData:
    rows = _rollup_rows(f, "action")
    actions = list(
        Action.objects.filter(pk__in=list(rows))
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
    """By the customer's owner (the rep who acts on the recommendation; 0: no owner)."""
    rows = _rollup_rows(f, "owner")
    owners = sorted(rows, key=lambda owner: (owner == 0, owner))
    names = people_names(owner for owner in owners if owner)
    return ChartData(
        key="nba.by_rep",
        title=_("Recommendations by rep"),
        categories=[(str(owner), names.get(owner, _("No owner"))) for owner in owners],
        series=[
            Series(str(label), [rows[owner][key] for owner in owners], key=key) for key, label in STATUSES
        ],
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


def _converted(f: Filters, holdout: bool):
    return _group(f, holdout).filter(pk__in=kpis.converted_customer_ids(f))


def lift(f: Filters) -> ChartData:
    """Conversion of customers who get recommendations vs the random hold-out, with the lift and
    its 95 % confidence interval (``kpis.lift``, the one definition the performance page shows too)."""
    result = kpis.lift(f)
    low, high = result.interval_points
    return ChartData(
        key="nba.lift",
        title=_("Conversion: recommendations vs hold-out"),
        categories=[("treated", _("With recommendations")), ("holdout", _("Hold-out"))],
        series=[
            Series(
                _("Conversion %"),
                [result.percent_treated, result.percent_holdout],
                key="rate",
                drill=False,
            ),
            Series(_("Converted customers"), [result.treated_converted, result.holdout_converted], key="converted"),
            Series(_("Customers"), [result.treated, result.holdout], key="customers", axis="y2"),
        ],
        x_title=_("Group"),
        y_title=_("% / customers"),
        y2_title=_("Customers"),
        note=_("Lift %(lift)+.2f points (95%% CI %(low)+.2f to %(high)+.2f)")
        % {"lift": result.points, "low": low, "high": high},
        extra={"lift": result.difference, "ci": result.interval, "kpi": result},
    )  # fmt: skip


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
        categories=[(str(v.pk), v.label) for v in versions],
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
