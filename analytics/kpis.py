"""The one definition of each key figure. Every page, chart, drill-down and API that shows a KPI gets
it from here, so the NBA dashboard and the NBA performance page cannot disagree again.

The periods the figures are computed over are defined once too, in
``analytics.dashboards.filters`` (``period_bounds``: "last 12 months" = the 12 months ending
today).

- Lift: conversion of scored customers who get recommendations minus conversion of the random
  hold-out, in percentage points, with a 95 % Wald interval for the difference of two proportions.
  Conversion = a success event (any active action's ``success_kinds``) inside the period.
- Receivables at a day D: gross invoiced + dunning fees charged up to D - payments received up to D
  (drafts and cancelled invoices excluded); the same as the sum of the open amounts when D is today.
- DSO at D: receivables at D / gross invoiced in the 90 days up to D x 90.
- Win rate: won / (won + lost) deals closed in the period, in %.
- CSAT: the average satisfaction score (1-5) of the ratings given in the period.
- SLA attainment: tickets with an SLA opened in the period that breached neither their first
  response nor their resolution target (open ones count as breached once a target has passed), in %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Avg, Count, Sum

from analytics.customer_rollups import success_kinds
from analytics.dashboards.filters import Filters
from analytics.models import CustomerConversion, DailyRollup, RollupState, SuccessDay
from analytics.rollups import sla_breached  # noqa: F401 - a KPI too
from customer360.models import TimelineEvent
from insights.models import CustomerScore

Z95 = 1.96
DSO_DAYS = 90


def percent(part: float, whole: float, digits: int = 1) -> float | None:
    """``part`` of ``whole`` in %, rounded; None when there is nothing to divide by."""
    return round(100 * part / whole, digits) if whole else None


# --- Next-best action: lift over the random hold-out --------------------------------------------------
@dataclass(frozen=True)
class Lift:
    """Treated vs hold-out: customers and converted customers of each group."""

    treated: int
    treated_converted: int
    holdout: int
    holdout_converted: int

    @property
    def rate_treated(self) -> float | None:
        return self.treated_converted / self.treated if self.treated else None

    @property
    def rate_holdout(self) -> float | None:
        return self.holdout_converted / self.holdout if self.holdout else None

    @property
    def percent_treated(self) -> float | None:
        return percent(self.treated_converted, self.treated, 2)

    @property
    def percent_holdout(self) -> float | None:
        return percent(self.holdout_converted, self.holdout, 2)

    @property
    def known(self) -> bool:
        return bool(self.treated and self.holdout)

    @property
    def difference(self) -> float:
        """Lift as a fraction (0.1285 = +12.85 points); 0 while a group is empty."""
        return (self.rate_treated - self.rate_holdout) if self.known else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        if not self.known:
            return 0.0, 0.0
        p1, p0 = self.rate_treated, self.rate_holdout
        se = math.sqrt(p1 * (1 - p1) / self.treated + p0 * (1 - p0) / self.holdout)
        return self.difference - Z95 * se, self.difference + Z95 * se

    @property
    def points(self) -> float:
        """The lift in percentage points, rounded as every page shows it."""
        return round(100 * self.difference, 2)

    @property
    def interval_points(self) -> tuple[float, float]:
        low, high = self.interval
        return round(100 * low, 2), round(100 * high, 2)


#: The refresh state of ``SuccessDay`` (see :func:`first_successes`).
SUCCESS_DAYS = "nba.success_days"


#: The refresh state of ``SuccessDay.holdout`` (``customer_rollups.success_groups_sync``).
SUCCESS_GROUPS = "nba.success_groups"


def _success_days_filled(*metrics: str) -> bool:
    """``SuccessDay`` was filled (and, with ``metrics``, those refreshes ran too): its refresh ran
    since the table came (migration 0009)."""
    wanted = {SUCCESS_DAYS, *metrics}
    return RollupState.objects.filter(metric__in=wanted, watermark__isnull=False).count() == len(wanted)


def first_successes(f: Filters):
    """Each customer's first success day inside the filters' period (``SuccessDay`` rows, as of their
    last refresh): one row per converted customer."""
    return SuccessDay.objects.filter(day__gte=f.start, day__lte=f.end, previous_day__lt=f.start)


def converted_customer_ids(f: Filters):
    """Customers with a success event in the period (a subquery of customer ids). For periods ending
    today (every preset) the incrementally refreshed ``CustomerConversion`` answers, for a past period
    ``SuccessDay``: neither touches the timeline (unless ``SuccessDay`` was never filled)."""
    if f.end >= f.today:
        return CustomerConversion.objects.filter(last_success_at__gte=f.start_at).values("customer_id")
    if _success_days_filled():
        return first_successes(f).values("customer_id")
    return TimelineEvent.objects.filter(f.in_period("occurred_at"), kind__in=success_kinds()).values(
        "customer_id"
    )


def lift(f: Filters) -> Lift:
    """The lift of the recommendations over the hold-out for the filters' period and scope.

    Every period counts the scored customers of each group from the roll-up ``nba.scored``, as of its
    last refresh. The converted ones: for a period that ends today (every preset) from the roll-up
    ``nba.converted`` (a few hundred rows, however many customers); for a past period from each
    customer's first success day in it (``SuccessDay``), by the group of their score as of the last
    refresh."""
    scored = rollup_counts("nba.scored", f)
    if f.end >= f.today:
        converted = rollup_counts("nba.converted", f, since=f.start)
    elif _success_days_filled(SUCCESS_GROUPS):
        # Each row carries the group of the customer's score (as of the last refresh, like ``scored``):
        # no join of the period's first successes (777,000 in half a year at 1M) to a million scores.
        firsts = first_successes(f).filter(f.rollup_q(), holdout__isnull=False).values("holdout")
        by_group = dict(firsts.annotate(n=Count("*")).order_by().values_list("holdout", "n"))
        converted = {"treated": by_group.get(False, 0), "holdout": by_group.get(True, 0)}
    elif _success_days_filled():
        firsts = first_successes(f).filter(f.rollup_q()).values("customer_id")
        groups = CustomerScore.objects.filter(customer_id__in=firsts).values("holdout")
        by_group = dict(groups.annotate(n=Count("pk")).order_by().values_list("holdout", "n"))
        converted = {"treated": by_group.get(False, 0), "holdout": by_group.get(True, 0)}
    else:
        return _lift_from_the_timeline(f)
    return Lift(
        treated=scored.get("treated", 0),
        treated_converted=converted.get("treated", 0),
        holdout=scored.get("holdout", 0),
        holdout_converted=converted.get("holdout", 0),
    )


def _lift_from_the_timeline(f: Filters) -> Lift:
    """:func:`lift` of a past period before ``SuccessDay`` was filled: the customers in scope now."""
    converted = converted_customer_ids(f)
    scores = CustomerScore.objects.filter(
        f.scope(customer_prefix="customer__", owner_field="customer__owner")
    )

    # Two grouped counts. The converted ones filter in WHERE, where PostgreSQL joins the subquery (a
    # semi-join that spills to disk when big); inside COUNT ... FILTER it would be a SubPlan that is hashed
    # only while it fits in work_mem and rescanned per row once it does not (minutes at 300k customers).
    def per_group(rows) -> dict[bool, int]:
        return dict(rows.values("holdout").annotate(n=Count("pk")).order_by().values_list("holdout", "n"))

    totals, hits = per_group(scores), per_group(scores.filter(customer_id__in=converted))
    (n1, c1), (n0, c0) = (totals.get(False, 0), hits.get(False, 0)), (totals.get(True, 0), hits.get(True, 0))
    return Lift(treated=n1, treated_converted=c1, holdout=n0, holdout_converted=c0)


def rollup_counts(metric: str, f: Filters, *, since=None, until=None) -> dict[str, int]:
    """{key: count} of a ``DailyRollup`` family in the filters' scope (optionally from a day on and
    up to a day)."""
    rows = DailyRollup.objects.filter(f.rollup_q(), metric=metric)
    if since is not None:
        rows = rows.filter(day__gte=since)
    if until is not None:
        rows = rows.filter(day__lte=until)
    return dict(rows.values("key").annotate(n=Sum("count")).order_by().values_list("key", "n"))


# --- Receivables and DSO ------------------------------------------------------------------------------
def receivables(invoiced: float, fees: float, paid: float) -> float:
    """What customers owe at a day from the running totals up to that day."""
    return round(invoiced + fees - paid, 2)


def dso(receivables_amount: float, sales: float) -> float | None:
    """Days sales outstanding; None without sales in the 90 days before (no meaningful figure)."""
    return round(receivables_amount / sales * DSO_DAYS, 1) if sales > 0 else None


# --- Sales and service --------------------------------------------------------------------------------
def win_rate(won: int, lost: int) -> float | None:
    return percent(won, won + lost)


def sla_attainment(total: int, breached: int) -> float | None:
    return percent(total - breached, total)


CSAT_AVERAGE = Avg("score")  # over ``crm.Satisfaction`` rows


def csat(average: float | None) -> float | None:
    return round(average, 2) if average is not None else None
