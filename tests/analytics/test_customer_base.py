"""Customer base: the revenue concentration read from the per-customer revenue roll-up equals a
ranking of the invoices themselves (ties included), stays right after incremental refreshes, and the
churn-risk chart and its drill-down filter by the customer's dimensions."""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum

from analytics import services
from analytics.dashboards import dashboards
from analytics.dashboards.customers import TOP_SHARES
from analytics.dashboards.filters import Filters, period_bounds
from analytics.models import CustomerRevenue, CustomerRisk, DailyRollup, PeriodRevenue, YearRevenue
from billing.models import Invoice
from customer360 import timeline
from customer360.models import Customer
from tests.analytics.factories import TODAY, at
from tests.factories import CustomerFactory

AT_SME = {"country": "AT", "attributes": {"segment": "SME"}}
DE_ENTERPRISE = {"country": "DE", "attributes": {"segment": "Enterprise"}}
# name: (dimensions, [(days ago, gross, status)]). Revenues tie at 0.30 and 0.10, one of them as
# 0.10 + 0.20 on two days (not exactly 0.30 in binary floating point).
CUSTOMERS = {
    "c1": (AT_SME, [(3, "500", "paid")]),
    "c2": (AT_SME, [(10, "150", "paid"), (200, "250", "overdue")]),
    "c3": (AT_SME, [(20, "300", "paid"), (21, "1000", "cancelled"), (22, "1000", "draft")]),
    "c4": (AT_SME, [(40, "200", "paid"), (400, "5000", "paid")]),  # the 5000 is outside 12 months
    "c5": (AT_SME, [(50, "0.30", "paid")]),
    "c6": (AT_SME, [(60, "0.10", "paid"), (61, "0.20", "paid")]),
    "c7": (AT_SME, [(5, "0.05", "paid"), (90, "0.25", "paid")]),
    "c8": (AT_SME, [(100, "0.10", "paid")]),
    "c9": (AT_SME, [(110, "0.10", "paid")]),
    "c10": (AT_SME, [(120, "0.00", "paid")]),  # no revenue: not ranked
    "c11": (DE_ENTERPRISE, [(130, "0.10", "paid")]),
    "c12": (DE_ENTERPRISE, [(15, "600", "paid"), (16, "400", "paid")]),
    "c13": (
        DE_ENTERPRISE,
        [(30, "0.04", "paid"), (31, "0.03", "paid"), (33, "0.02", "paid"), (300, "0.01", "paid")],
    ),
}


def _invoice(customer: Customer, number: str, days_ago: int, gross: str, status: str) -> Invoice:
    issued = TODAY - datetime.timedelta(days=days_ago)
    return Invoice.objects.create(
        customer=customer, number=number, issue_date=issued, due_date=issued + datetime.timedelta(days=14),
        status=status, net_total=Decimal(gross), gross_total=Decimal(gross),
    )  # fmt: skip


@pytest.fixture
def revenue_world(db):
    with time_machine.travel(at(TODAY), tick=False):
        customers = {}
        for name, (dimensions, invoices) in CUSTOMERS.items():
            customers[name] = customer = CustomerFactory(last_name=name, **dimensions)
            for n, (days_ago, gross, status) in enumerate(invoices):
                _invoice(customer, f"{name}-{n}", days_ago, gross, status)
        services.rollups_refresh(full=True)
        yield customers


def filters(period: str = "12m", **kwargs) -> Filters:
    start, end = period_bounds(period, TODAY)
    return Filters(start=start, end=end, period=period, today=TODAY, **kwargs)


def custom(start_days_ago: int, end_days_ago: int, **kwargs) -> Filters:
    start, end = (TODAY - datetime.timedelta(days=d) for d in (start_days_ago, end_days_ago))
    return Filters(start=start, end=end, period="custom", today=TODAY, **kwargs)


def build(key: str, f: Filters):
    return dashboards.get("customers").chart(key).build(f)


def _revenues(f: Filters) -> dict[int, Decimal]:
    """Revenue per customer with any in the period, from the invoices in Decimal."""
    revenue = defaultdict(Decimal)
    invoices = Invoice.objects.filter(issue_date__gte=f.start, issue_date__lte=f.end).exclude(
        status__in=["draft", "cancelled"]
    )
    for invoice in invoices.select_related("customer"):
        customer = invoice.customer
        if f.country and customer.country != f.country:
            continue
        if f.segment and customer.attributes.get("segment") != f.segment:
            continue
        revenue[customer.pk] += invoice.gross_total
    return {pk: r for pk, r in revenue.items() if r > 0}


def expected_concentration(f: Filters) -> dict[int, tuple[int, float, set[int]]]:
    """Per top share: (customers, % of revenue, their ids), ranked from the invoices in Decimal."""
    revenue = _revenues(f)
    ranked = sorted(revenue.values(), reverse=True)
    total = sum(ranked)
    result = {}
    for p in TOP_SHARES:
        threshold = ranked[math.ceil(len(ranked) * p / 100) - 1]
        top = {pk for pk, r in revenue.items() if r >= threshold}
        result[p] = (len(top), float(100 * sum(revenue[pk] for pk in top) / total), top)
    return result


def assert_concentration_equals_the_invoices(f: Filters) -> None:
    chart = build("customers.concentration", f)
    definition = dashboards.get("customers").chart("customers.concentration")
    for p, (count, share, ids) in expected_concentration(f).items():
        assert chart.value(str(p), "customers") == count, (f, p)
        assert chart.value(str(p), "share") == pytest.approx(share, abs=0.05), (f, p)
        drilled = definition.drill(f, str(p), "customers").queryset
        assert set(drilled.values_list("pk", flat=True)) == ids, (f, p)


@pytest.mark.parametrize(
    "f",
    [
        filters(),
        filters("30d"),
        filters("90d"),
        filters("ytd"),
        filters(country="AT"),
        filters(segment="Enterprise"),
        custom(500, 10),
        custom(61, 15, country="DE"),
    ],  # fmt: skip
    ids=["12m", "30d", "90d", "ytd", "AT", "Enterprise", "custom", "custom-DE"],
)
def test_concentration_ranks_customers_like_the_invoices(revenue_world, f):
    assert_concentration_equals_the_invoices(f)


@pytest.mark.parametrize("f", [custom(500, 10), custom(61, 15, country="DE"), custom(200, 0, segment="SME")])
def test_a_custom_period_is_banded_in_the_database_not_ranked_here(revenue_world, f, monkeypatch):
    # No snapshot answers a custom period: PostgreSQL counts the bands and sends only the revenues of
    # the bands the ranks fall in, never every customer's revenue.
    from django.db import connection

    from analytics.dashboards import custom_periods, customers

    if connection.vendor != "postgresql":
        pytest.skip("the custom period's bands are counted by PostgreSQL; elsewhere every revenue is ranked")

    def every_revenue(_f):
        raise AssertionError("every customer's revenue was read")

    monkeypatch.setattr(customers, "_revenues_descending", every_revenue)
    assert_concentration_equals_the_invoices(f)
    per_band, in_bands, lowest = custom_periods.period_bands(f, TOP_SHARES)
    everyone = expected_concentration(f)[100][2]
    assert sum(n for _band, n, _total in per_band) == len(everyone)
    assert all(sum(c for _r, c in in_bands[band]) == n for band, n, _total in per_band if band in in_bands)
    assert lowest == min(float(r) for r in _revenues(f).values())
    assert all(len({r for r, _c in h}) == len(h) for h in in_bands.values())  # one row per revenue
    # The lowest band is read only when a share below 100 % ranks in it.
    ranks = {max(1, math.ceil(len(everyone) * p / 100)) for p in TOP_SHARES if p < 100}
    if len(everyone) not in ranks:
        assert per_band[-1][0] not in in_bands


def test_ties_at_the_threshold_are_all_in_the_top_share(revenue_world):
    chart = build("customers.concentration", filters())
    # 12 customers with revenue; rank 6 has 0.30, as do two more (one of them 0.10 + 0.20).
    assert chart.value("50", "customers") == 8
    assert chart.value("20", "customers") == 3  # rank 3: c2's 400
    assert chart.value("100", "customers") == 12 and chart.value("100", "share") == 100.0
    assert build("customers.concentration", filters(country="AT")).value("50", "customers") == 7


def test_no_revenue_gives_an_empty_chart(revenue_world):
    chart = build("customers.concentration", filters(country="CH"))
    assert chart.is_empty
    drill = dashboards.get("customers").chart("customers.concentration").drill(filters(country="CH"), "1", "")
    assert drill.queryset.count() == 0


def test_customer_revenue_refresh_touches_only_customers_with_invoice_events(revenue_world):
    c = revenue_world
    untouched = set(CustomerRevenue.objects.filter(customer=c["c1"]).values_list("pk", flat=True))
    snapshot = set(
        PeriodRevenue.objects.exclude(customer__in=[c["c9"], c["c12"]]).values_list("pk", flat=True)
    )
    with time_machine.travel(at(TODAY, 12), tick=False):
        issued = _invoice(c["c9"], "c9-new", 0, "2000", "paid")
        timeline.record(customer=c["c9"], department="accounting", kind="invoice.issued", title="issued",
                        idempotency_key="t:issued:c9-new", source=issued)  # fmt: skip
        cancelled = Invoice.objects.get(number="c12-0")
        cancelled.status = Invoice.Status.CANCELLED
        cancelled.save()
        timeline.record(customer=c["c12"], department="accounting", kind="invoice.cancelled",
                        title="cancelled", idempotency_key="t:cancelled:c12-0", source=cancelled)  # fmt: skip
    with time_machine.travel(at(TODAY, 13), tick=False):
        written = services.rollups_refresh()
    # c9: its old day and today; c12: its remaining invoice.
    assert written["billing.customer_revenue"] == 3
    assert set(CustomerRevenue.objects.filter(customer=c["c1"]).values_list("pk", flat=True)) == untouched
    # The same day, the preset periods' snapshot is rewritten for c9 and c12 only.
    assert (
        set(PeriodRevenue.objects.exclude(customer__in=[c["c9"], c["c12"]]).values_list("pk", flat=True))
        == snapshot
    )
    assert PeriodRevenue.objects.get(period="30d", customer=c["c9"]).revenue == 2000.0
    chart = build("customers.concentration", filters())
    assert chart.value("1", "customers") == 1
    for f in (
        filters(),
        filters(country="DE"),
        filters("30d"),
        filters("ytd"),
        filters("90d", segment="SME"),
    ):
        assert_concentration_equals_the_invoices(f)


def test_preset_periods_are_read_from_todays_revenue_bands(revenue_world):
    # The bands answer the preset periods without the per-customer revenue rows; a custom period
    # ranks those rows, and finds none now.
    expected = {p: build("customers.concentration", filters(p)).series for p in ("12m", "30d", "ytd")}
    expected_at = build("customers.concentration", filters(country="AT")).series
    CustomerRevenue.objects.all().delete()
    for period, series in expected.items():
        assert build("customers.concentration", filters(period)).series == series, period
    assert build("customers.concentration", filters(country="AT")).series == expected_at
    assert build("customers.concentration", custom(500, 10)).is_empty
    bands = DailyRollup.objects.filter(metric="customers.revenue_band")
    assert set(bands.values_list("day", flat=True)) == {TODAY}
    # 12 customers with revenue in the last 12 months: c12's 1000 alone in its band, the three
    # 0.30s (one of them 0.10 + 0.20) together in theirs.
    twelve = bands.filter(key__startswith="12m:")
    assert sum(twelve.values_list("count", flat=True)) == 12
    assert PeriodRevenue.objects.get(period="12m", customer=revenue_world["c12"]).revenue == 1000.0
    tied = PeriodRevenue.objects.filter(period="12m", revenue=0.3)
    assert tied.count() == 3 and len(set(tied.values_list("band", flat=True))) == 1


def test_the_next_day_the_preset_periods_are_ranked_again_until_the_refresh(revenue_world):
    tomorrow = TODAY + datetime.timedelta(days=1)
    start, end = period_bounds("30d", tomorrow)
    f = Filters(start=start, end=end, period="30d", today=tomorrow)
    # Yesterday's bands would still count c3's 300 from 20 days ago and c4's 200 from 40 days ago.
    assert_concentration_equals_the_invoices(f)
    with time_machine.travel(at(tomorrow, 9), tick=False):
        written = services.rollups_refresh()
    assert written["customers.revenue_band"] > 0
    assert set(DailyRollup.objects.filter(metric="customers.revenue_band").values_list("day", flat=True)) == {
        tomorrow
    }
    assert_concentration_equals_the_invoices(f)


def test_the_bands_are_kept_while_no_revenue_changes_the_same_day(revenue_world):
    before = set(DailyRollup.objects.filter(metric="customers.revenue_band").values_list("pk", flat=True))
    with time_machine.travel(at(TODAY, 14), tick=False):
        assert services.rollups_refresh()["customers.revenue_band"] == 0
    assert (
        set(DailyRollup.objects.filter(metric="customers.revenue_band").values_list("pk", flat=True))
        == before
    )
    assert_concentration_equals_the_invoices(filters())


# --- churn risk ------------------------------------------------------------------------------------------
@pytest.fixture
def risk_world(db, rep, rep2):
    CustomerFactory(owner=rep, country="AT", attributes={"segment": "SME"})
    CustomerFactory(
        owner=rep, country="AT", attributes={"segment": "SME"}, lifecycle=Customer.Lifecycle.AT_RISK
    )
    CustomerFactory(owner=rep2, country="DE", attributes={"segment": "Enterprise"})
    CustomerFactory(owner=None, country="AT", attributes={"segment": "Private"},
                    lifecycle=Customer.Lifecycle.AT_RISK)  # fmt: skip
    CustomerFactory(owner=rep, country="AT", lifecycle=Customer.Lifecycle.CHURNED)  # not scored
    services.customer_risk_refresh()


def test_churn_risk_filters_by_the_customers_dimensions(risk_world, rep):
    definition = dashboards.get("customers").chart("customers.churn_risk")
    cases = [
        (filters(), {}),
        (filters(country="AT"), {"country": "AT"}),
        (filters(segment="SME"), {"attributes__segment": "SME"}),
        (filters(owner=rep.pk), {"owner": rep}),
    ]
    for f, condition in cases:
        chart = build("customers.churn_risk", f)
        scored = CustomerRisk.objects.filter(customer__in=Customer.objects.filter(**condition))
        assert sum(chart.series[0].values) == scored.count(), condition
        for band, value in zip(chart.categories, chart.series[0].values, strict=True):
            drilled = definition.drill(f, band[0], "n").queryset
            assert drilled.count() == value, (condition, band)
            assert set(drilled.values_list("pk", flat=True)) <= set(
                scored.values_list("customer_id", flat=True)
            )
    assert sum(build("customers.churn_risk", filters(country="AT")).series[0].values) == 3


def test_churn_risk_counts_come_from_the_roll_up_written_with_the_scores(risk_world, rep):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.models import RollupState
    from analytics.rollups import RISK_POINTS

    f = filters(country="AT")
    with CaptureQueriesContext(connection) as read:
        counted = build("customers.churn_risk", f).series[0].values
    assert not any("analytics_customerrisk" in q["sql"] for q in read.captured_queries)
    assert sum(counted) == 3
    # The same counts as the scores themselves (the path of an installation before its first count).
    RollupState.objects.filter(metric=RISK_POINTS.metric).delete()
    assert build("customers.churn_risk", f).series[0].values == counted
    # A new computation of the scores counts them again: a churned customer is not scored.
    Customer.objects.filter(country="AT", owner=rep).update(lifecycle=Customer.Lifecycle.CHURNED)
    services.customer_risk_refresh()
    assert sum(build("customers.churn_risk", f).series[0].values) == 1
    assert RollupState.objects.get(metric=RISK_POINTS.metric).refreshed_at is not None


def test_a_refresh_that_rewrites_the_revenue_snapshot_vacuums_it(revenue_world, monkeypatch):
    # Every snapshot row is written anew: the refresh vacuums the table after its commit (where a
    # transaction is open, as in this test, bulk.vacuum_analyze itself does nothing).
    vacuumed = []
    monkeypatch.setattr(services, "vacuum_analyze", lambda *models: vacuumed.extend(models) or [])
    with time_machine.travel(at(TODAY, 15), tick=False):
        services.rollups_refresh(full=True)
    assert vacuumed == [PeriodRevenue]
    vacuumed.clear()
    with time_machine.travel(at(TODAY, 16), tick=False):
        assert services.rollups_refresh()["customers.revenue_band"] == 0  # nothing changed: kept
    assert vacuumed == []


def test_a_refresh_vacuums_every_roll_up_table_it_rewrote_many_rows_of(revenue_world, monkeypatch):
    from analytics.models import CustomerConversion, SuccessDay

    vacuumed = []
    monkeypatch.setattr(services, "vacuum_analyze", lambda *models: vacuumed.append(set(models)) or [])
    # A full refresh of this small world writes a few rows of each table: below the threshold, only
    # the revenue snapshot (rewritten whole) is vacuumed.
    with time_machine.travel(at(TODAY, 15), tick=False):
        written = services.rollups_refresh(full=True)
    assert vacuumed == [{PeriodRevenue}, set()]
    assert 0 < written["billing.customer_revenue"] < services.VACUUM_AFTER_ROWS
    vacuumed.clear()
    monkeypatch.setattr(services, "VACUUM_AFTER_ROWS", written["billing.customer_revenue"])
    with time_machine.travel(at(TODAY, 16), tick=False):
        services.rollups_refresh(full=True)
    # The revenue days reach the threshold; the daily roll-ups' many families together do too; the
    # conversions and success days of a world without campaigns stay empty.
    assert vacuumed[-1] >= {CustomerRevenue, DailyRollup}
    assert not vacuumed[-1] & {CustomerConversion, SuccessDay}


def test_each_revenue_day_knows_the_customers_days_around_it(revenue_world):
    from analytics.models import CustomerRevenue

    def rows(name):
        revenue = CustomerRevenue.objects.filter(customer=revenue_world[name]).order_by("day")
        return [(r.day, r.previous_day, r.next_day, r.amount) for r in revenue]

    day = {d: TODAY - datetime.timedelta(days=d) for d in (3, 10, 200, 120)}
    assert rows("c1") == [(day[3], datetime.date.min, datetime.date.max, 500.0)]
    assert rows("c2") == [
        (day[200], datetime.date.min, day[10], 250.0),
        (day[10], day[200], datetime.date.max, 150.0),
    ]
    # Cancelled and draft invoices are no revenue days; a paid invoice of 0.00 is one.
    assert [r[0] for r in rows("c3")] == [TODAY - datetime.timedelta(days=20)]
    assert rows("c10") == [(day[120], datetime.date.min, datetime.date.max, 0.0)]


#: The running totals' columns as before they were known (migration analytics 0014).
UNKNOWN_TOTALS = {"first_day": datetime.date.min, "last_day": datetime.date.max, "running": 0, "rest": 0}

CUTTING_PERIODS = [
    custom(15, 0),  # c12's 600 in, its 400 (a day earlier) out; c2's 150 in, its 250 out
    custom(16, 15),  # both of c12's days
    custom(61, 60),  # c6's 0.10 + 0.20 on two days: a tie with c5's 0.30 only if grouped right
    custom(90, 5, country="AT"),  # c7's first and last day on the bounds
    custom(400, 40),  # c4's both days on the bounds
]


@pytest.mark.parametrize("f", CUTTING_PERIODS, ids=["15-0", "16-15", "61-60", "90-5-AT", "400-40"])
def test_custom_periods_that_cut_between_a_customers_days_rank_like_the_invoices(revenue_world, f):
    assert_concentration_equals_the_invoices(f)


@pytest.mark.parametrize("f", CUTTING_PERIODS[:3], ids=["15-0", "16-15", "61-60"])
def test_rows_whose_neighbours_are_not_known_yet_are_grouped(revenue_world, f):
    # As after the migration that added the columns, until the next full refresh.
    from analytics.models import CustomerRevenue

    CustomerRevenue.objects.update(
        previous_day=datetime.date.max, next_day=datetime.date.min, **UNKNOWN_TOTALS
    )
    assert_concentration_equals_the_invoices(f)


def test_each_revenue_day_knows_the_amount_before_it_and_the_days_two_steps_away(revenue_world):
    revenue = CustomerRevenue.objects.filter(customer=revenue_world["c13"]).order_by("day")
    day = {d: TODAY - datetime.timedelta(days=d) for d in (30, 31, 33, 300)}
    low, high = datetime.date.min, datetime.date.max
    assert [(r.day, r.previous_amount, r.second_previous_day, r.second_next_day) for r in revenue] == [
        (day[300], 0.0, low, day[31]),
        (day[33], 0.01, low, day[30]),
        (day[31], 0.02, day[300], high),
        (day[30], 0.03, day[33], high),
    ]


#: (period, the customers with three revenue days or more in it, who alone are grouped without the
#: running totals).
GROUPED = [
    (custom(31, 30), set()),  # c13's two last days: the later row answers for both
    (custom(33, 31), set()),  # c13's two middle days, between others outside
    (custom(33, 30), {"c13"}),
    (custom(300, 31), {"c13"}),
    (custom(61, 60), set()),  # c6's 0.10 + 0.20, a tie with c5's 0.30
    (custom(500, 0), {"c13"}),  # c2, c4, c6, c7 and c12 with two days each
]


def _answered_revenues(answered) -> list[float]:
    """The revenues the answered part counts, one per customer, as the statement reads them."""
    revenues = []
    for revenue, n in answered:
        if revenue is not None:
            revenues += [round(revenue * 100) / 100] * n
    return sorted(r for r in revenues if r > 0)


def assert_parts_add_up(f: Filters, grouped: set[int], final_days: bool = False):
    """The second part holds exactly the ``grouped`` customers with their revenues, the answered
    part (with the final days') everybody else's; return the answered part."""
    from analytics.dashboards import custom_periods

    final, answered, several = custom_periods.period_parts(f, final_days)
    assert (final is not None) == final_days
    everyone = _revenues(f)
    assert set(several.values_list("customer", flat=True)) == grouped
    answered_alone = _answered_revenues([*(final or []), *answered])
    assert answered_alone == sorted(float(r) for pk, r in everyone.items() if pk not in grouped)
    assert sorted(r for (r,) in several) == sorted(float(everyone[pk]) for pk in grouped)
    return answered


def _grouped_rows(answered) -> int:
    return sum(n for revenue, n in answered if revenue is None)


PERIODS = ["31-30", "33-31", "33-30", "300-31", "61-60", "500-0"]


@pytest.mark.parametrize(("f", "grouped"), GROUPED, ids=PERIODS)
def test_without_running_totals_only_customers_with_three_days_are_grouped(revenue_world, f, grouped):
    # As after the migration that added the running totals, until the customer's next refresh.
    CustomerRevenue.objects.update(**UNKNOWN_TOTALS)
    grouped = {revenue_world[name].pk for name in grouped}
    answered = assert_parts_add_up(f, grouped)
    in_period = CustomerRevenue.objects.filter(day__gte=f.start, day__lte=f.end)
    assert _grouped_rows(answered) == in_period.filter(customer__in=grouped).count()
    assert_concentration_equals_the_invoices(f)


def test_each_revenue_day_knows_the_customers_first_and_last_day_and_its_running_totals(revenue_world):
    revenue = CustomerRevenue.objects.filter(customer=revenue_world["c13"]).order_by("day")
    first, last = (TODAY - datetime.timedelta(days=d) for d in (300, 30))
    assert [(r.first_day, r.last_day) for r in revenue] == [(first, last)] * 4
    assert [(round(r.running, 2), round(r.rest, 2)) for r in revenue] == [
        (0.01, 0.10),
        (0.03, 0.09),
        (0.06, 0.07),
        (0.10, 0.04),
    ]


#: c15's revenue days, 74 to 70 days ago: 16 + 8 + 4 + 2 + 1.
DOUBLING = [(74, "16.00"), (73, "8.00"), (72, "4.00"), (71, "2.00"), (70, "1.00")]


@pytest.fixture
def with_doubling(revenue_world):
    with time_machine.travel(at(TODAY), tick=False):
        customer = CustomerFactory(last_name="c15", **DE_ENTERPRISE)
        for n, (days_ago, gross) in enumerate(DOUBLING):
            _invoice(customer, f"c15-{n}", days_ago, gross, "paid")
        services.rollups_refresh(full=True)
    return {**revenue_world, "c15": customer}


#: (period, the customers with three days or more and days on both sides of it: grouped from two rows).
PAIRED = [
    (custom(33, 30), set()),  # c13's last three days: the rest of the first answers
    (custom(300, 31), set()),  # c13's first three days: the running total of the last answers
    (custom(500, 0), set()),  # everybody's every day
    (custom(73, 71), {"c15"}),  # 8 + 4 + 2 between 16 and 1
    (custom(74, 71), set()),  # 16 + 8 + 4 + 2: c15's first day
    (custom(73, 70), set()),  # 8 + 4 + 2 + 1: c15's last day
    (custom(72, 71), set()),  # two days: the later row
    (custom(73, 31), set()),  # c15 from its second day on, c13's two days: the later row
    (custom(73, 71, country="DE"), {"c15"}),
    (custom(90, 60, country="AT"), set()),
]

PAIRED_IDS = ["33-30", "300-31", "500-0", "73-71", "74-71", "73-70", "72-71", "73-31", "DE", "AT"]


@pytest.mark.parametrize(
    ("f", "paired"),
    PAIRED,
    ids=PAIRED_IDS,
)
def test_three_days_or_more_are_answered_by_one_row_unless_the_customer_has_days_on_both_sides(
    with_doubling, f, paired
):
    paired = {with_doubling[name].pk for name in paired}
    answered = assert_parts_add_up(f, paired)
    # The paired customers are read from two rows each: their last day in the period and their first.
    assert _grouped_rows(answered) == 2 * len(paired)
    assert_concentration_equals_the_invoices(f)


@pytest.mark.parametrize("f", [f for f, _grouped in GROUPED], ids=PERIODS)
def test_rows_written_before_the_days_two_steps_away_were_known_are_grouped(revenue_world, f):
    # As after the migration that added the columns, until the customer's next refresh.
    from analytics.dashboards import custom_periods

    CustomerRevenue.objects.update(
        previous_amount=0,
        second_previous_day=datetime.date.max,
        second_next_day=datetime.date.min,
        **UNKNOWN_TOTALS,
    )
    _final, _answered, several = custom_periods.period_parts(f)
    # Only the customers with one day in the period are answered row by row.
    in_period = CustomerRevenue.objects.filter(day__gte=f.start, day__lte=f.end)
    several_days = [pk for pk in _revenues(f) if in_period.filter(customer=pk).count() > 1]
    assert set(several.values_list("customer", flat=True)) == set(several_days)
    assert_concentration_equals_the_invoices(f)


def year(number: int, **kwargs) -> Filters:
    return Filters(
        start=datetime.date(number, 1, 1),
        end=datetime.date(number, 12, 31),
        period="custom",
        today=TODAY,
        **kwargs,
    )


@pytest.mark.parametrize(
    "f",
    [
        year(TODAY.year),
        year(TODAY.year, country="AT"),
        year(TODAY.year, segment="Enterprise"),
        year(TODAY.year - 1),
    ],
    ids=["this year", "AT", "Enterprise", "last year"],
)
def test_a_calendar_year_is_read_from_its_revenues_without_the_revenue_days(revenue_world, f, monkeypatch):
    from analytics.dashboards import custom_periods, customers

    def the_days(*_args):
        raise AssertionError("the year's revenue days were grouped per customer")

    monkeypatch.setattr(custom_periods, "period_bands", the_days)
    monkeypatch.setattr(customers, "_revenues_descending", the_days)
    assert_concentration_equals_the_invoices(f)
    # Counted per revenue: the three 0.30s of this year (one of them 0.10 + 0.20) are one row of 3.
    if f == year(TODAY.year):
        assert (
            YearRevenue.objects.filter(year=TODAY.year, revenue=0.3).aggregate(n=Sum("customers"))["n"] == 3
        )


def test_a_calendar_year_follows_new_invoices_and_is_read_from_the_days_until_written(revenue_world):
    c = revenue_world
    last_year = year(TODAY.year - 1)
    assert set(YearRevenue.objects.values_list("year", flat=True)) == {TODAY.year - 1, TODAY.year}
    with time_machine.travel(at(TODAY, 12), tick=False):
        issued = _invoice(c["c9"], "c9-last-year", 360, "5000", "paid")  # ties c4's 5000 of last year
        timeline.record(customer=c["c9"], department="accounting", kind="invoice.issued", title="issued",
                        idempotency_key="t:issued:c9-last-year", source=issued)  # fmt: skip
    with time_machine.travel(at(TODAY, 13), tick=False):
        written = services.rollups_refresh()
    # The same day: the years c9 has revenue in are written again (last year's two 5000s, this
    # year's revenues of every customer), no other.
    assert written[services.YEAR_REVENUE] == YearRevenue.objects.count()
    assert YearRevenue.objects.get(year=TODAY.year - 1).customers == 2
    assert build("customers.concentration", last_year).value("50", "customers") == 2
    assert_concentration_equals_the_invoices(last_year)
    # Before its rows are written (an installation upgraded, not refreshed yet), the year is read
    # from the revenue days, with the same figures.
    before = build("customers.concentration", year(TODAY.year, country="AT")).series
    YearRevenue.objects.all().delete()
    assert build("customers.concentration", year(TODAY.year, country="AT")).series == before
    assert_concentration_equals_the_invoices(year(TODAY.year))
