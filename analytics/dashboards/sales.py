"""Sales: pipeline by stage, forecast by month, win rate and cycle time by owner."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Sum
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import kpis
from analytics.dashboards.charts import (
    ChartData,
    ChartDef,
    Dashboard,
    Drill,
    Series,
    dashboards,
    number,
    people_names,
)
from analytics.dashboards.filters import Filters
from analytics.models import DailyRollup
from analytics.periods import add_months, month_start
from crm.models import Deal, Stage

DEAL_COLUMNS = [
    (gettext_lazy("Deal"), "title"),
    (gettext_lazy("Stage"), "stage__name"),
    (gettext_lazy("Amount (EUR)"), "amount"),
    (gettext_lazy("Expected close"), "expected_close"),
    (gettext_lazy("Owner"), "owner"),
    (gettext_lazy("Status"), "status"),
]
FORECAST_MONTHS = 6


def _deals(f: Filters):
    return Deal.objects.filter(f.scope(owner_field="owner"))


def _open_stages() -> list[Stage]:
    return list(
        Stage.objects.filter(is_won=False, is_lost=False)
        .select_related("pipeline")
        .order_by("pipeline__name", "order", "id")
    )


def _open_deals(f: Filters) -> list[tuple[tuple[int, str], int, float]]:
    """Open deals now from the roll-up ``sales.open`` (as of its refresh): ((stage id, expected
    close month "2026-12" or ""), count, value) in the filters' scope."""
    rows = DailyRollup.objects.filter(f.rollup_q(), metric="sales.open").values("key")
    result = []
    for key, n, value in rows.annotate(n=Sum("count"), value=Sum("amount")).values_list("key", "n", "value"):
        stage, _sep, month = key.partition(":")
        result.append(((int(stage), month), n, number(value)))
    return result


def pipeline_by_stage(f: Filters) -> ChartData:
    """Open deals now (a snapshot: the period does not apply), per stage: count, value, weighted."""
    stages = _open_stages()
    several = len({s.pipeline_id for s in stages}) > 1
    totals: dict[int, dict] = defaultdict(lambda: {"n": 0, "value": 0.0})
    for (stage, _month), n, value in _open_deals(f):
        totals[stage]["n"] += n
        totals[stage]["value"] += value
    categories, counts, values, weighted = [], [], [], []
    for stage in stages:
        row = totals.get(stage.pk, {})
        value = row.get("value", 0.0)
        categories.append((str(stage.pk), f"{stage.pipeline.name}: {stage}" if several else str(stage)))
        counts.append(row.get("n", 0))
        values.append(round(value, 2))
        weighted.append(round(value * stage.probability / 100, 2))
    return ChartData(
        key="sales.pipeline",
        title=_("Pipeline by stage (open deals now)"),
        categories=categories,
        series=[
            Series(_("Value (EUR)"), values, key="value"),
            Series(_("Weighted value (EUR)"), weighted, key="weighted"),
            Series(_("Deals"), counts, key="count", axis="y2"),
        ],
        x_title=_("Stage"),
        y_title=_("EUR"),
        y2_title=_("Deals"),
    )


def drill_pipeline(f: Filters, bucket: str, series: str) -> Drill:
    return Drill(
        _("Open deals in this stage"),
        _deals(f).open().filter(stage_id=int(bucket)),
        DEAL_COLUMNS,
        url_name="crm:deal_detail",
    )


def _forecast_months(f: Filters) -> list[date]:
    first = month_start(f.today)
    return [add_months(first, i) for i in range(FORECAST_MONTHS)]


def forecast_by_month(f: Filters) -> ChartData:
    """Open deals by expected close month (this month and the next five): value and weighted value."""
    months = _forecast_months(f)
    wanted = {m.strftime("%Y-%m"): m for m in months}
    probability = dict(Stage.objects.values_list("pk", "probability"))
    value, weighted = defaultdict(float), defaultdict(float)
    for (stage, month), _n, amount in _open_deals(f):
        if month in wanted:
            value[wanted[month]] += amount
            weighted[wanted[month]] += amount * probability.get(stage, 0) / 100
    return ChartData(
        key="sales.forecast",
        title=_("Forecast by expected close month"),
        categories=[(m.strftime("%Y-%m"), date_format(m, "YEAR_MONTH_FORMAT")) for m in months],
        series=[
            Series(_("Value (EUR)"), [round(value[m], 2) for m in months], key="value"),
            Series(_("Weighted value (EUR)"), [round(weighted[m], 2) for m in months], key="weighted"),
        ],
        x_title=_("Month"),
        y_title=_("EUR"),
        note=_("Open deals now; weighted by the stage's win probability."),
    )


def _month_range(bucket: str) -> tuple[date, date]:
    year, month = (int(p) for p in bucket.split("-"))
    first = date(year, month, 1)
    return first, add_months(first, 1)


def drill_forecast(f: Filters, bucket: str, series: str) -> Drill:
    first, after = _month_range(bucket)
    return Drill(
        _("Open deals expected to close in this month"),
        _deals(f).open().filter(expected_close__gte=first, expected_close__lt=after),
        DEAL_COLUMNS,
        url_name="crm:deal_detail",
    )


def _closed(f: Filters):
    return _deals(f).filter(f.in_period("closed_at"), status__in=[Deal.Status.WON, Deal.Status.LOST])


def win_rate_by_owner(f: Filters) -> ChartData:
    """Deals closed in the period, per owner: won, lost, win rate and average cycle time (days)."""
    closed = DailyRollup.objects.filter(f.rollup_q(), metric="sales.closed", day__gte=f.start, day__lte=f.end)
    per_owner: dict[int, dict] = defaultdict(lambda: {"won": 0, "lost": 0, "days": 0.0})
    sums = closed.values("owner_id", "key").annotate(n=Sum("count"), days=Sum("amount"))
    for owner, status, n, days in sums.values_list("owner_id", "key", "n", "days"):
        per_owner[owner][status] = n
        per_owner[owner]["days"] += number(days)
    # By owner id, deals without an owner last.
    rows = [
        {"owner": owner or None, **per_owner[owner]} for owner in sorted(per_owner, key=lambda o: (o == 0, o))
    ]
    names = people_names(r["owner"] for r in rows)
    categories, won, lost, rate, days = [], [], [], [], []
    for row in rows:
        categories.append((str(row["owner"] or 0), names.get(row["owner"], _("No owner"))))
        won.append(row["won"])
        lost.append(row["lost"])
        rate.append(kpis.win_rate(row["won"], row["lost"]))
        closed_n = row["won"] + row["lost"]
        days.append(round(row["days"] / closed_n, 1) if closed_n else 0.0)
    return ChartData(
        key="sales.win_rate",
        title=_("Win rate and cycle time by owner"),
        categories=categories,
        series=[
            Series(_("Won"), won, key="won"),
            Series(_("Lost"), lost, key="lost"),
            Series(_("Win rate %"), rate, key="rate", axis="y2", drill=False),
            Series(_("Cycle time (days)"), days, key="cycle", axis="y2", drill=False),
        ],
        kind="stack",
        x_title=_("Owner"),
        y_title=_("Deals closed"),
        y2_title=_("% / days"),
    )


def drill_win_rate(f: Filters, bucket: str, series: str) -> Drill:
    deals = _closed(f)
    owner = int(bucket)
    deals = deals.filter(owner_id=owner) if owner else deals.filter(owner__isnull=True)
    if series in ("won", "lost"):
        deals = deals.filter(status=series)
    return Drill(_("Deals closed in the period"), deals, DEAL_COLUMNS, url_name="crm:deal_detail")


dashboards.register(
    Dashboard(
        key="sales",
        title=gettext_lazy("Sales"),
        order=10,
        description=gettext_lazy("Pipeline, forecast, win rate and cycle time."),
        charts=(
            ChartDef("sales.pipeline", pipeline_by_stage, drill_pipeline),
            ChartDef("sales.forecast", forecast_by_month, drill_forecast),
            ChartDef("sales.win_rate", win_rate_by_owner, drill_win_rate),
        ),
    )
)
