"""The revenue concentration of a custom period on PostgreSQL: every customer's revenue in the period,
counted per band in the database from the revenue days (``CustomerRevenue``) without grouping most
customers' days (issue #18).

Two ways to read the period, chosen per request (:func:`reads_final_days`):
- **the period's rows**: each row knows its customer's neighbouring days, first and last day and
  running totals, so most customers are answered by one of their rows (:func:`period_parts`);
- **the customers' final days**: when few customers have revenue days outside the period (a period
  of more than a year, say), those whose days all lie in it are counted from one index entry each
  (their final day's running total, ``analytics_revenue_final``), and only the other customers' rows
  are read as above.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import date
from typing import NamedTuple

from django.db import connections, transaction
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Sum, When

from analytics.customer_rollups import BAND_RATIO, RoundFloat
from analytics.dashboards.filters import Filters
from analytics.models import CustomerRevenue

#: How PostgreSQL plans the statement of :func:`period_bands` (for its transaction only), measured
#: at 1M customers on the same database, each setting in turn:
#: - the cost of a parallel tuple: the workers send the leader a few thousand counts per revenue or
#:   one row per paired customer, far less than the rows they read. At the default (0.1) half a
#:   year's days were read without workers (median 174 ms instead of 158); at 0.01 the workers sent
#:   twelve months' 920,000 rows to be counted by the leader (median 426 ms instead of 350).
#: - no sorts: a revenue computed per row (a CASE over nine columns) is estimated at about 230,000
#:   groups where a million customers have a few thousand revenues, and PostgreSQL sorted 920,000
#:   rows on disk to group them (twelve months 0.65-0.76 s instead of 0.57-0.64 s). Without sorts it
#:   hashes them within the default memory: a hash table that outgrows it is written to disk in
#:   parts, so the time stays linear.
#: - no JIT: compiling the statement (above the default cost of 100,000) took 40 ms and saved nothing.
PERIOD_BANDS_PLANNING = (
    "SELECT set_config('jit', 'off', true), set_config('parallel_tuple_cost', '0.03', true),"
    " set_config('enable_sort', 'off', true)"
)
#: Read from the final days, every table access is by an index: the final days' index-only scan and
#: the few other customers' rows by their first or last day. After some ANALYZE PostgreSQL estimated
#: a parallel scan of the whole table cheaper than the index-only scan (the bench's two years took
#: 193-197 ms that way, 131-142 ms from the index).
FINAL_DAYS_PLANNING = ", set_config('enable_seqscan', 'off', true)"


#: A period is read from the customers' final days (:func:`period_parts`) when at most this share of
#: the customers with revenue may have revenue days outside it. Then the others' days are few enough
#: to be found by the indexes on the first and last day; when more customers cut through the period,
#: reading its rows answers as fast or faster. At a million customers on an Intel Xeon (2 cores), the
#: bench's two years (nobody outside) took 131-142 ms from the final days and 254-270 ms from the rows;
#: from 2025-02-10 (19 % of the customers started before it, estimated at 23 %) 207-221 and 259-264
#: ms in one state of the table, 348-368 and 253 ms in another (after a refresh and a new ANALYZE).
OUTSIDE_SHARE = 0.1
FINAL_DAYS_INDEX = "analytics_revenue_final"


def reads_final_days(f: Filters) -> bool:
    """Whether the customers' final days answer the period: when the customers who started before it
    and the revenue days after it (together at least as many as the customers with days outside the
    period, whatever the filters) are at most ``OUTSIDE_SHARE`` of the customers with revenue. All
    three are PostgreSQL's estimates from its statistics (the customers with revenue: the entries of
    the final days' index), which cost a plan each instead of counting up to a few hundred thousand
    index entries (16 ms at a million customers); without statistics the period's rows answer."""
    with connections[CustomerRevenue.objects.db].cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [FINAL_DAYS_INDEX])
        row = cursor.fetchone()
    if row is None or row[0] <= 0:  # not migrated, or not counted since its build
        return False
    started_before = CustomerRevenue.objects.filter(next_day=date.max, first_day__lt=f.start)
    days_after = CustomerRevenue.objects.filter(day__gt=f.end)
    return _estimated_rows(started_before) + _estimated_rows(days_after) <= row[0] * OUTSIDE_SHARE


def _estimated_rows(queryset: QuerySet) -> float:
    """How many rows PostgreSQL expects ``queryset`` to return (its plan, not run)."""
    return json.loads(queryset.explain(format="json"))[0]["Plan"]["Plan Rows"]


def _row_kinds(s: date, e: date) -> dict[str, Q]:
    """What a revenue row of the period [s, e] is to its customer, each as comparisons of the row's
    own columns, all positive (cheaper per row than negations). The defaults of "not known" fail
    them: first_day (date.min) >= s, last_day (date.max) <= e."""
    alone = Q(previous_day__lt=s, next_day__gt=e)
    later = Q(next_day__gt=e, previous_day__gte=s, second_previous_day__lt=s)
    earlier = Q(previous_day__lt=s, next_day__lte=e, second_next_day__gt=e)
    return {
        "alone": alone,
        "later": later,
        # No day before the period: its last day in it answers.
        "opened": Q(first_day__gte=s),
        # None after it: its first day in it answers.
        "closed": Q(first_day__lt=s, last_day__lte=e),
        # Days on both sides and three days or more in the period: its first and its last day in it.
        "paired": Q(first_day__gt=date.min, first_day__lt=s, last_day__gt=e)
        & (Q(previous_day__lt=s, second_next_day__lte=e) | Q(next_day__gt=e, second_previous_day__gte=s)),
        # Running totals not known: every day not answered by the days around it.
        "unknown": Q(first_day=date.min) & ~(alone | later | earlier),
    }


class Parts(NamedTuple):
    """The parts of a period (:func:`period_parts`), each a queryset of (revenue, ...) rows."""

    #: Per running total, how many customers whose revenue days all lie in the period have it on
    #: their last day; None when the period's rows answer for them too.
    final_days: QuerySet | None
    #: Per revenue, how many rows answer for their customer alone (NULL: the rows of ``several``).
    answered: QuerySet
    #: The revenue of each customer that takes two rows or more.
    several: QuerySet


def period_parts(f: Filters, final_days: bool = False) -> Parts:
    """The period's revenues in parts. ``answered``: per revenue, how many rows answer for their
    customer alone (the revenue is NULL for the rows of the next part). ``several``: the revenues
    of the customers that take two rows or more (the running totals of their last day in the period
    and of the day before their first) or whose running totals are not known (every day).

    A row answers for its customer alone when it is the customer's only day in the period (its
    amount), the later of its two days in it (its amount and the one before), the last of three or
    more when the customer has no day before the period (its running total), or the first when the
    customer has none after it (its rest). Every other row of those customers is left out.

    ``final_days``: the customers whose days all lie in the period are counted from their last day
    (``Parts.final_days``, one entry each of the partial index ``analytics_revenue_final``, with the
    dimensions), and only the other customers' rows are read (through the indexes on their first
    and last day when they are few)."""
    s, e = f.start, f.end
    rows = CustomerRevenue.objects.filter(f.rollup_q(), day__gte=s, day__lte=e).order_by()
    if final_days:
        rows = rows.filter(Q(first_day__lt=s) | Q(last_day__gt=e))
    kind = _row_kinds(s, e)
    alone, later, opened, closed = kind["alone"], kind["later"], kind["opened"], kind["closed"]
    paired, unknown = kind["paired"], kind["unknown"]
    kept = (
        alone
        | later
        | (opened & Q(next_day__gt=e))
        | (closed & Q(previous_day__lt=s, second_next_day__lte=e))
        | paired
        | unknown
    )
    answered = (
        rows.filter(kept)
        .values(
            revenue=Case(
                When(alone, then=F("amount")),
                When(later, then=F("amount") + F("previous_amount")),
                When(opened, then=F("running")),
                When(closed, then=F("rest")),
                output_field=FloatField(),
            )
        )
        .annotate(n=Count("pk"))
        .values_list("revenue", "n")
    )
    several = _several(rows.filter(paired | unknown), e)
    return Parts(_final_days(f) if final_days else None, answered, several)


def _final_days(f: Filters) -> QuerySet:
    """Per running total, the customers whose revenue days all lie in the period with that revenue:
    the final day of each (``next_day`` date.max) if its first day is in the period too."""
    return (
        CustomerRevenue.objects.filter(
            f.rollup_q(), next_day=date.max, first_day__gte=f.start, day__lte=f.end
        )
        .order_by()
        .values(revenue=F("running"))
        .annotate(n=Count("*"))  # not the id: the index holds what is read
        .values_list("revenue", "n")
    )


def _several(rows: QuerySet, e: date) -> QuerySet:
    """The revenue of each customer of ``rows`` in the period ending ``e``: from its running totals
    (its last day in the period minus the day before its first) or, not known, from its amounts."""
    return (
        rows.values("customer")
        .annotate(
            revenue=RoundFloat(
                Sum(
                    Case(
                        When(first_day=date.min, then=F("amount")),
                        When(next_day__gt=e, then=F("running")),
                        default=F("amount") - F("running"),
                        output_field=FloatField(),
                    )
                )
                * 100
            )
            / 100
        )
        .filter(revenue__gt=0)
        .values_list("revenue")
    )


def statement(f: Filters, shares: list[int], final_days: bool = False) -> tuple[str, list]:
    """The statement of :func:`period_bands` and its parameters."""
    parts = period_parts(f, final_days)
    (answered_sql, answered_params), (several_sql, several_params) = (
        part.query.sql_with_params() for part in (parts.answered, parts.several)
    )
    if parts.final_days is not None:
        final_sql, final_params = parts.final_days.query.sql_with_params()
        answered_sql, answered_params = (
            f"({final_sql}) UNION ALL ({answered_sql})",
            [*final_params, *answered_params],
        )
    sql = (
        # The parts are the ORM's own SQL; the rest is constant. The final days (if read) and the
        # period's rows are read once for the answered part and counted per revenue where they are
        # read (in parallel workers).
        # The customers of the second part are grouped in a second read, only if there are any.
        # Revenues repeat (prices), so the histogram of a year of a million customers is about 1,400
        # (revenue, customers) rows; the bands and the ranked bands' revenues both come from it.
        "WITH answered (revenue, n) AS MATERIALIZED"  # noqa: S608
        f" ({answered_sql}),"
        " histogram AS MATERIALIZED (SELECT FLOOR(LN(revenue) / %s)::integer AS band, revenue,"
        " SUM(n)::bigint AS n FROM (SELECT ROUND(revenue * 100) / 100 AS revenue, n"
        " FROM answered WHERE revenue IS NOT NULL"
        f" UNION ALL SELECT revenue, COUNT(*) FROM ({several_sql}) AS g(revenue)"
        " WHERE EXISTS (SELECT FROM answered WHERE revenue IS NULL) GROUP BY revenue) AS parts"
        " WHERE revenue > 0 GROUP BY revenue),"
        " bands AS (SELECT band, SUM(n)::bigint AS n, SUM(revenue * n) AS total, MIN(revenue) AS lowest"
        " FROM histogram GROUP BY band),"
        " placed AS (SELECT band, n, SUM(n) OVER (ORDER BY band DESC) AS through, SUM(n) OVER () AS everyone"
        " FROM bands),"
        " wanted AS (SELECT DISTINCT band FROM placed, UNNEST(%s::integer[]) AS share(p)"
        " WHERE GREATEST(1, CEIL(everyone * p / 100.0)) BETWEEN through - n + 1 AND through)"
        " SELECT band, n, total, lowest FROM bands"
        # The ranked bands as (revenue, customers), as the histogram holds them.
        " UNION ALL SELECT band, n, NULL, revenue FROM histogram WHERE band IN (SELECT band FROM wanted)"
    )
    # The top 100 % is everyone down to the lowest revenue: its band (often the largest) is not read.
    ranked = [p for p in shares if p < 100]
    params = [*answered_params, math.log(BAND_RATIO), *several_params, ranked]
    return sql, params


def period_bands(
    f: Filters, shares: list[int]
) -> tuple[list[tuple[int, int, float]], dict[int, list[float]], float | None]:
    """Every customer's revenue in the period grouped in bands of ``BAND_RATIO`` (as the snapshot's):
    (band, customers, revenue) with the highest band first, the revenues (descending) of the bands
    that hold the rank of a top share below 100 %, and the lowest revenue (None: nobody has any).
    One statement: the per-customer revenues stay in the database (sending a million of them to be
    sorted here took 0.74 s).

    Most customers are answered by one row (:func:`period_parts`); only customers with three days
    or more in the period and days on both sides of it are grouped, from two rows each. At a million
    customers (AMD EPYC, 2 cores, the twelfth run's machine, both versions one right after the other),
    the bench's two years (2.36M revenue days) took 0.48-0.54 s, and 1.45-1.75 s when every customer
    with three days or more was grouped; twelve months that start mid-month 0.36-0.39 s (0.36-0.42 s).
    Read from the customers' final days (:func:`reads_final_days`), the two years took 0.10-0.14 s
    instead of 0.25-0.28 s on an Intel Xeon (2 cores, the thirteenth run's machine)."""
    final_days = reads_final_days(f)
    sql, params = statement(f, shares, final_days)
    per_band, in_bands, lowest = [], defaultdict(list), None
    db = CustomerRevenue.objects.db
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        cursor.execute(PERIOD_BANDS_PLANNING + (FINAL_DAYS_PLANNING if final_days else ""))
        cursor.execute(sql, params)
        for band, n, total, revenue in cursor.fetchall():
            if total is None:
                in_bands[band].append((revenue, n))
            else:
                per_band.append((band, n, total))
                lowest = revenue if lowest is None else min(lowest, revenue)
    per_band.sort(reverse=True)
    for revenues in in_bands.values():
        revenues.sort(reverse=True)
    return per_band, in_bands, lowest
