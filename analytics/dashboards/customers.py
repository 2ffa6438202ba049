"""Customer base: new and lost customers by month, lifecycle mix, revenue concentration, churn risk."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from datetime import date, timedelta
from itertools import accumulate
from operator import neg

from django.db import connections
from django.db.models import Count, Sum
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import kpis, risk
from analytics.customer_rollups import RoundFloat
from analytics.dashboards import custom_periods
from analytics.dashboards.charts import (
    ChartData,
    ChartDef,
    Dashboard,
    Drill,
    Series,
    dashboards,
)
from analytics.dashboards.filters import Filters, customers_q
from analytics.models import (
    CustomerRevenue,
    CustomerRisk,
    DailyRollup,
    PeriodRevenue,
    RollupState,
    YearRevenue,
)
from analytics.periods import PRESETS, add_months, period_bounds
from analytics.rollups import REVENUE_BANDS, RISK_POINTS, lost_customers
from customer360 import scores
from customer360.formatting import number
from customer360.models import Customer, Score
from insights.features import features
from insights.models import ModelVersion

CUSTOMER_COLUMNS = [
    (gettext_lazy("Number"), "customer_number"),
    (gettext_lazy("Country"), "country"),
    (gettext_lazy("Lifecycle"), "lifecycle"),
    (gettext_lazy("Owner"), "owner"),
    (gettext_lazy("Created"), "created_at"),
]
TOP_SHARES = [1, 5, 10, 20, 50, 100]
BAND_LABELS = {
    "low": gettext_lazy("Low (0-24)"),
    "medium": gettext_lazy("Medium (25-49)"),
    "high": gettext_lazy("High (50-74)"),
    "very_high": gettext_lazy("Very high (75-100)"),
}


def _customers(f: Filters):
    return Customer.objects.filter(customers_q(f))


def new_and_lost(f: Filters) -> ChartData:
    """New customers (created) and lost customers (last contract cancelled, none active) per month."""
    counts = defaultdict(int)
    rows = DailyRollup.objects.filter(
        f.rollup_q(), metric__in=["customers.new", "customers.lost"], day__gte=f.start, day__lte=f.end
    )
    for day, metric, n in rows.values_list("day", "metric").annotate(n=Sum("count")).order_by():
        counts[day.replace(day=1), metric] += n
    months = f.months
    return ChartData(
        key="customers.new_lost",
        title=_("New and lost customers by month"),
        categories=[(m.strftime("%Y-%m"), date_format(m, "YEAR_MONTH_FORMAT")) for m in months],
        series=[
            Series(_("New"), [counts[m, "customers.new"] for m in months], key="new"),
            Series(_("Lost"), [counts[m, "customers.lost"] for m in months], key="lost"),
        ],
        x_title=_("Month"),
        y_title=_("Customers"),
    )


def _month_filters(f: Filters, bucket: str) -> Filters:
    year, month = (int(p) for p in bucket.split("-"))
    first = f.start.replace(year=year, month=month, day=1)
    return f.with_period(max(first, f.start), min(add_months(first, 1) - timedelta(days=1), f.end))


def drill_new_lost(f: Filters, bucket: str, series: str) -> Drill:
    month = _month_filters(f, bucket)
    if series == "lost":
        customers = lost_customers().filter(customers_q(f), month.in_period("lost_at"))
        return Drill(_("Customers lost in this month"), customers, CUSTOMER_COLUMNS, customer_path="")
    customers = _customers(f).filter(month.in_period("created_at"))
    return Drill(_("Customers new in this month"), customers, CUSTOMER_COLUMNS, customer_path="")


def lifecycle(f: Filters) -> ChartData:
    """Customers by lifecycle stage now (as of the roll-ups' last refresh)."""
    counts = kpis.rollup_counts("customers.lifecycle", f)
    return ChartData(
        key="customers.lifecycle",
        title=_("Lifecycle mix (now)"),
        categories=[(v, str(label)) for v, label in Customer.Lifecycle.choices],
        series=[Series(_("Customers"), [counts.get(v, 0) for v in Customer.Lifecycle.values], key="n")],
        x_title=_("Lifecycle"),
        y_title=_("Customers"),
    )


def drill_lifecycle(f: Filters, bucket: str, series: str) -> Drill:
    return Drill(
        _("Customers in this lifecycle stage"),
        _customers(f).filter(lifecycle=bucket),
        CUSTOMER_COLUMNS,
        customer_path="",
    )


def _revenue(f: Filters):
    """Gross invoiced per customer in the period (drafts and cancelled invoices excluded), from the
    ``CustomerRevenue`` roll-up. Sums are rounded to cents, so equal revenues compare equal."""
    return (
        CustomerRevenue.objects.filter(f.rollup_q(), day__gte=f.start, day__lte=f.end)
        .values("customer")
        .annotate(revenue=RoundFloat(Sum("amount") * 100) / 100)
        .filter(revenue__gt=0)
    )


def _revenues_descending(f: Filters) -> list[float]:
    # Up to one row per customer: read through a plain cursor, because Django's per-row converters
    # cost more than the query's transfer and the sort together (~60 ms at 100k customers).
    queryset = _revenue(f).values_list("revenue")
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return sorted((revenue for (revenue,) in cursor.fetchall()), reverse=True)


def _top_shares(f: Filters, day) -> tuple[dict[int, tuple[float, int, float]], float]:
    """Per top share p: the revenue of the customer at rank ceil(p% of N) (the threshold), how many
    customers have at least that revenue (ties are included) and their revenue; and the total.

    ``day``: the revenue snapshot's (:func:`_snapshot_day`), whose bands answer a preset period;
    None (a custom period): the bands are counted from every customer's revenue in the period, in
    the database (:func:`custom_periods.period_bands`). Either way only the band a rank falls in is
    ranked customer by customer."""
    if day is None:
        year = _year_bands(f)  # a whole calendar year: its revenues, counted at the refresh
        if year is None and connections[CustomerRevenue.objects.db].vendor != "postgresql":
            return _ranked_shares(_revenues_descending(f))
        per_band, in_bands, lowest = year or custom_periods.period_bands(f, TOP_SHARES)
        shares = _shares_of_bands(per_band, lambda band: in_bands.get(band, []), lowest)
        return shares or _ranked_shares(_revenues_descending(f))
    bands = (
        DailyRollup.objects.filter(
            f.rollup_q(), metric=REVENUE_BANDS.metric, day=day, key__startswith=f"{f.period}:"
        )
        .values("key")
        .annotate(n=Sum("count"), total=Sum("amount"))
        .order_by()
    )
    # (band, customers, revenue), the highest revenues first.
    per_band = sorted(
        ((int(r["key"].partition(":")[2]), r["n"], float(r["total"])) for r in bands), reverse=True
    )
    shares = _shares_of_bands(per_band, lambda band: _band_revenues(f, day, band))
    # None: a refresh committed between the two reads.
    return shares or _ranked_shares(_revenues_descending(f))


def _shares_of_bands(
    per_band: list[tuple[int, int, float]], revenues_of, lowest: float | None = None
) -> tuple[dict, float] | None:
    """:func:`_top_shares` from (band, customers, revenue) with the highest band first and
    ``revenues_of(band)``, that band's revenues in descending order; None when a band's revenues are
    not as many as its count. ``revenues_of(band)``: that band's (revenue, customers) with the
    highest revenue first. ``lowest``: the lowest revenue of all, if known; then the top 100 %
    (everyone, down to it) ranks no band."""
    customers, total = sum(n for _b, n, _t in per_band), sum(t for _b, _n, t in per_band)
    shares, counted = {}, {band: n for band, n, _t in per_band}
    for p in TOP_SHARES if customers else []:
        rank = max(1, math.ceil(customers * p / 100))
        if rank == customers and lowest is not None:
            shares[p] = (lowest, customers, total)
            continue
        band, above, above_revenue = _band_of(per_band, rank)
        histogram = revenues_of(band)
        if sum(n for _revenue, n in histogram) != counted[band]:
            return None
        threshold, at_least, their_revenue = _rank_in(histogram, rank - above)
        shares[p] = (threshold, above + at_least, above_revenue + their_revenue)
    return shares, total


def _year_bands(
    f: Filters,
) -> tuple[list[tuple[int, int, float]], dict[int, list[float]], float | None] | None:
    """:func:`custom_periods.period_bands` of a custom period that is one whole calendar year, from
    ``YearRevenue`` (every band's revenues, not only the ranked ones); None when the period is no
    calendar year or its year's rows are not written (before the first refresh since they exist)."""
    year = f.start.year
    if (f.start, f.end) != (date(year, 1, 1), date(year, 12, 31)):
        return None
    rows = list(
        YearRevenue.objects.filter(f.rollup_q(), year=year)
        .values("band", "revenue")
        .annotate(n=Sum("customers"))
        .order_by()
        .values_list("band", "revenue", "n")
    )
    if not rows and not YearRevenue.objects.filter(year=year).exists():
        return None
    totals, in_bands = defaultdict(lambda: [0, 0.0]), defaultdict(list)
    for band, revenue, n in rows:
        totals[band][0] += n
        totals[band][1] += revenue * n
        in_bands[band].append((revenue, n))
    for revenues in in_bands.values():
        revenues.sort(reverse=True)
    per_band = sorted(((band, n, total) for band, (n, total) in totals.items()), reverse=True)
    return per_band, in_bands, min((revenue for _band, revenue, _n in rows), default=None)


def _rank_in(histogram: list[tuple[float, int]], rank: int) -> tuple[float, int, float]:
    """The revenue at ``rank`` (from 1) of a (revenue, customers) histogram with the highest revenue
    first, how many customers have at least that revenue (ties included) and their revenue."""
    customers, revenue = 0, 0.0
    for value, n in histogram:
        customers, revenue = customers + n, revenue + value * n
        if customers >= rank:
            return value, customers, revenue
    raise ValueError(f"rank {rank} beyond {customers} customers")


def _band_of(per_band: list[tuple[int, int, float]], rank: int) -> tuple[int, int, float]:
    """The band that holds ``rank`` and the customers and revenue of the bands above it."""
    above, revenue = 0, 0.0
    for band, customers, band_revenue in per_band:
        if above + customers >= rank:
            return band, above, revenue
        above, revenue = above + customers, revenue + band_revenue
    raise ValueError(f"rank {rank} beyond {above} customers")


def _snapshot_day(f: Filters):
    """The day of the preset periods' revenue snapshot if it answers ``f`` (a preset period that
    ends on that day), else None."""
    if f.period not in PRESETS:
        return None
    # In the order of the index (metric, day): the first row by id lies behind every other metric's.
    snapshot = DailyRollup.objects.filter(metric=REVENUE_BANDS.metric).order_by("day")
    day = snapshot.values_list("day", flat=True).first()
    return day if day is not None and period_bounds(f.period, day) == (f.start, f.end) else None


def _band_revenues(f: Filters, day, band: int) -> list[tuple[float, int]]:
    """The band's (revenue, customers) in the snapshot, the highest revenue first."""
    revenues = PeriodRevenue.objects.filter(f.rollup_q(), period=f.period, day=day, band=band)
    return list(
        revenues.values("revenue").annotate(n=Count("pk")).order_by("-revenue").values_list("revenue", "n")
    )


def _ranked_shares(revenues: list[float], ranks: dict[int, int] | None = None):
    """(threshold, customers at or above it, their revenue) per top share of the descending
    ``revenues`` (``ranks``: the rank per share, default ceil(p% of them)); and the total."""
    running = list(accumulate(revenues))  # revenue of the top 1, 2, ... customers
    if ranks is None:
        ranks = {p: max(1, math.ceil(len(revenues) * p / 100)) for p in TOP_SHARES} if revenues else {}
    shares = {}
    for p, rank in ranks.items():
        threshold = revenues[rank - 1]
        # Descending list: the customers at or above the threshold end where revenues drop below it.
        customers = bisect_right(revenues, -threshold, key=neg)
        shares[p] = (threshold, customers, running[customers - 1])
    return shares, running[-1] if running else 0.0


def concentration(f: Filters) -> ChartData:
    """Share of the period's revenue that comes from the top 1 / 5 / 10 / 20 / 50 % of customers."""
    top, total = _top_shares(f, _snapshot_day(f))
    shares, counts = [], []
    for p in TOP_SHARES:
        _threshold, customers, revenue = top.get(p, (0.0, 0, 0.0))
        shares.append(round(100 * revenue / total, 1) if total else 0.0)
        counts.append(customers)
    return ChartData(
        key="customers.concentration",
        title=_("Revenue concentration"),
        categories=[(str(p), _("Top %(share)s%%") % {"share": p}) for p in TOP_SHARES],
        series=[
            Series(_("Share of revenue %"), shares, key="share"),
            Series(_("Customers"), counts, key="customers", axis="y2"),
        ],
        x_title=_("Customers ranked by revenue in the period"),
        y_title=_("% of revenue"),
        y2_title=_("Customers"),
    )


def drill_concentration(f: Filters, bucket: str, series: str) -> Drill:
    day = _snapshot_day(f)
    top, _total = _top_shares(f, day)
    threshold = top[int(bucket)][0] if int(bucket) in top else None
    if threshold is None:
        ids = []
    elif day is None:
        ids = _revenue(f).filter(revenue__gte=threshold).values("customer")
    else:
        ids = PeriodRevenue.objects.filter(f.rollup_q(), period=f.period, day=day, revenue__gte=threshold)
        ids = ids.values("customer")
    return Drill(
        _("Customers with the highest revenue"),
        Customer.objects.filter(pk__in=ids),
        CUSTOMER_COLUMNS,
        customer_path="",
    )


def churn_risk(f: Filters) -> ChartData:
    """Current customers by churn-risk band (score and the customer's dimensions from the nightly
    roll-up), counted per band when the scores were computed (``rollups.RISK_POINTS``); before its
    first count (an installation that has not computed the scores since), from the scores."""
    if RollupState.objects.filter(metric=RISK_POINTS.metric, refreshed_at__isnull=False).exists():
        counts = kpis.rollup_counts(RISK_POINTS.metric, f)
    else:
        counts = CustomerRisk.objects.filter(f.rollup_q()).aggregate(
            **{band: Count("pk", filter=risk.band_q(band)) for band, _l, _h in risk.BANDS}
        )
    return ChartData(
        key="customers.churn_risk",
        title=_("Churn-risk points"),
        categories=[(band, str(BAND_LABELS[band])) for band, _l, _h in risk.BANDS],
        series=[Series(_("Customers"), [counts.get(band, 0) for band, _l, _h in risk.BANDS], key="n")],
        x_title=_("Churn risk"),
        y_title=_("Customers"),
        note=_(
            "Points for: at risk, recent cancellation, no active contract, open complaint, dunning, negative tone."
        ),
    )


LEARNED_BANDS = (
    ("low", gettext_lazy("Low")),
    ("medium", gettext_lazy("Medium")),
    ("high", gettext_lazy("High")),
)


def _learned_note() -> str:
    """Which model, how good on its time-based hold-out, and what drives it (top features)."""
    version = ModelVersion.objects.filter(
        action__isnull=True, outcome=scores.CHURN_RISK, is_active=True
    ).first()
    if version is None:
        return _("No churn model learned yet: it needs customers who left (contracts cancelled or lapsed).")
    drivers = [str(getattr(features.get(name), "label", name)) for name, weight in version.metrics.get("top_features", [])[:4] if weight > 0]  # fmt: skip
    return _(
        "Learned from the company's own history (model %(version)s): hold-out AUC %(auc)s, Brier %(brier)s, "
        "time-based. Main drivers: %(drivers)s."
    ) % {
        "version": version.label,
        "auc": number(version.auc, 2),
        "brier": number(version.metrics.get("brier"), 3),
        "drivers": ", ".join(drivers) or "–",
    }


def learned_churn_risk(f: Filters) -> ChartData:
    """Current customers by the band of their learned churn risk (the core's score table, as of the
    roll-ups' last refresh)."""
    counts = kpis.rollup_counts("customers.churn_band", f)
    return ChartData(
        key="customers.learned_churn_risk",
        title=_("Learned churn risk"),
        categories=[(band, str(label)) for band, label in LEARNED_BANDS],
        series=[Series(_("Customers"), [counts.get(band, 0) for band, _label in LEARNED_BANDS], key="n")],
        x_title=_("Churn risk"),
        y_title=_("Customers"),
        note=_learned_note(),
    )


def drill_learned_churn_risk(f: Filters, bucket: str, series: str) -> Drill:
    ids = Score.objects.filter(kind=scores.CHURN_RISK, band=bucket).values("customer_id")
    return Drill(
        _("Customers in this risk band"),
        _customers(f).filter(pk__in=ids),
        CUSTOMER_COLUMNS,
        customer_path="",
    )


def drill_churn_risk(f: Filters, bucket: str, series: str) -> Drill:
    ids = CustomerRisk.objects.filter(f.rollup_q(), risk.band_q(bucket)).values("customer_id")
    return Drill(
        _("Customers in this risk band"),
        Customer.objects.filter(pk__in=ids),
        CUSTOMER_COLUMNS,
        customer_path="",
    )


dashboards.register(
    Dashboard(
        key="customers",
        title=gettext_lazy("Customer base"),
        order=60,
        description=gettext_lazy("New and lost customers, lifecycle, revenue concentration, churn risk."),
        charts=(
            ChartDef("customers.new_lost", new_and_lost, drill_new_lost),
            ChartDef("customers.lifecycle", lifecycle, drill_lifecycle),
            ChartDef("customers.concentration", concentration, drill_concentration),
            ChartDef("customers.learned_churn_risk", learned_churn_risk, drill_learned_churn_risk),
            ChartDef("customers.churn_risk", churn_risk, drill_churn_risk),
        ),
    )
)
