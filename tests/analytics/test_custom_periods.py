"""The revenue concentration of a custom period read from the customers' final days: the customers
whose revenue days all lie in the period are counted from one index entry each (their final day's
running total), the others from their rows as before, and the figures equal a ranking of the
invoices. PostgreSQL only (elsewhere a custom period is ranked customer by customer)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.db import connection, transaction

from analytics.dashboards import custom_periods
from analytics.models import CustomerRevenue
from tests.analytics import test_customer_base as base
from tests.analytics.test_customer_base import (
    PAIRED,
    PAIRED_IDS,
    _answered_revenues,
    _grouped_rows,
    _revenues,
    assert_concentration_equals_the_invoices,
    assert_parts_add_up,
    custom,
)

revenue_world, with_doubling = base.revenue_world, base.with_doubling  # the fixtures

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="custom periods are counted by PostgreSQL only"
)


def _within(f) -> dict[int, float]:
    """The customers whose revenue days (in the filters' dimensions) all lie in the period, with
    their revenue, from the revenue rows themselves."""
    days, revenue = defaultdict(list), defaultdict(float)
    for row in CustomerRevenue.objects.filter(f.rollup_q()):
        days[row.customer_id].append(row.day)
        revenue[row.customer_id] += row.amount
    return {pk: round(revenue[pk], 2) for pk, d in days.items() if f.start <= min(d) and max(d) <= f.end}


@pytest.mark.parametrize(
    ("f", "paired"),
    PAIRED,
    ids=PAIRED_IDS,
)
def test_customers_whose_days_all_lie_in_the_period_are_counted_from_their_final_day(
    with_doubling, f, paired
):
    within = _within(f)
    final, answered, _several = custom_periods.period_parts(f, final_days=True)
    # One entry per customer whose days all lie in the period: its final day's running total.
    assert _answered_revenues(final) == sorted(r for r in within.values() if r > 0)
    # The other rows answer for every other customer, the paired ones from two rows each.
    paired = {with_doubling[name].pk for name in paired}
    assert not paired & set(within)
    others = sorted(float(r) for pk, r in _revenues(f).items() if pk not in within and pk not in paired)
    assert _answered_revenues(answered) == others
    assert _grouped_rows(answered) == 2 * len(paired)
    assert_parts_add_up(f, paired, final_days=True)


@pytest.mark.parametrize(
    ("f", "paired"),
    PAIRED,
    ids=PAIRED_IDS,
)
def test_a_period_read_from_the_final_days_ranks_like_the_invoices(with_doubling, f, paired, monkeypatch):
    monkeypatch.setattr(custom_periods, "reads_final_days", lambda _f: True)
    assert_concentration_equals_the_invoices(f)


def test_without_running_totals_no_customer_is_counted_from_its_final_day(revenue_world):
    # As after the migration that added the running totals, until the customer's next refresh: the
    # first day is not known (date.min), so every customer's rows are read.
    import datetime

    CustomerRevenue.objects.update(first_day=datetime.date.min, last_day=datetime.date.max, running=0, rest=0)
    f = custom(500, 0)
    final, _answered, _several = custom_periods.period_parts(f, final_days=True)
    assert list(final) == []
    assert_parts_add_up(f, {revenue_world["c13"].pk}, final_days=True)  # its four days are grouped
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(custom_periods, "reads_final_days", lambda _f: True)
        assert_concentration_equals_the_invoices(f)


def test_the_final_days_answer_when_few_customers_have_days_outside_the_period(revenue_world, monkeypatch):
    # A handful of customers: PostgreSQL estimates each count at one row or more, so the share allowed
    # outside is raised to a quarter (3.5 of 14 customers) here.
    monkeypatch.setattr(custom_periods, "OUTSIDE_SHARE", 0.25)
    # Before PostgreSQL counted the final days (no ANALYZE yet), the period's rows answer.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'analytics_revenue_final'")
        if cursor.fetchone()[0] <= 0:
            assert not custom_periods.reads_final_days(custom(500, 0))
        cursor.execute("ANALYZE analytics_customerrevenue")
    # Every customer's days lie in the last 500 days.
    assert custom_periods.reads_final_days(custom(500, 0))
    # Most customers have days before the last 61 days (and the estimate says so).
    assert not custom_periods.reads_final_days(custom(61, 0))
    # Most have days after 61 to 60 days ago.
    assert not custom_periods.reads_final_days(custom(61, 60))


def test_the_final_days_are_read_from_their_index_alone(revenue_world):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_customerrevenue")
    final, _answered, _several = custom_periods.period_parts(custom(500, 0, country="AT"), final_days=True)
    sql, params = final.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows would be read from the table, or by their day: ask for the final days'
        # index as at a million customers (the statement's columns must all be in it).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("DROP INDEX analytics_revenue_day")  # rolled back
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    assert "Index Only Scan using analytics_revenue_final" in plan, plan


@pytest.mark.parametrize("final_days", [True, False])
def test_only_a_period_read_from_the_final_days_is_planned_without_table_scans(
    revenue_world, monkeypatch, final_days
):
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(custom_periods, "reads_final_days", lambda _f: final_days)
    with CaptureQueriesContext(connection) as captured:
        custom_periods.period_bands(custom(500, 0), [1, 5, 10, 20, 50, 100])
    planning = [q["sql"] for q in captured.captured_queries if "set_config('jit'" in q["sql"]]
    assert len(planning) == 1
    assert ("set_config('enable_seqscan', 'off', true)" in planning[0]) == final_days
    assert_concentration_equals_the_invoices(custom(500, 0))
