"""The next-best-action lift of a past period counts each customer's first success day in it
(``SuccessDay``) and equals counting the timeline's success events."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import kpis, services
from analytics.customer_rollups import success_groups_sync, success_kinds
from analytics.dashboards.filters import Filters
from analytics.models import RollupState, SuccessDay
from customer360 import timeline
from customer360.models import TimelineEvent
from insights.models import CustomerScore
from tests.analytics.factories import TODAY, ago, at
from tests.factories import CustomerFactory

SUCCESS = "payment.promised"
# name: (country, scored: None / "treated" / "holdout", success events days ago (two on one day: 30))
PEOPLE = {
    "ann": ("AT", "treated", [200, 100, 30, 30]),
    "ben": ("DE", "holdout", [95, 50]),
    "cid": ("AT", "holdout", [300]),
    "dan": ("AT", None, [40]),  # not scored: never counted
    "eve": ("AT", "treated", [10]),
    "fay": ("DE", "treated", []),
}


def _promise(customer, n: int, days: int, hour: int = 12) -> None:
    timeline.record(
        customer=customer, department="accounting", kind=SUCCESS, title="promised",
        idempotency_key=f"t:success:{customer.pk}:{n}", occurred_at=ago(days, hour),
        payload={"promised_date": TODAY.isoformat(), "open_amount": "10.00"},
    )  # fmt: skip


@pytest.fixture
def people(db):
    assert SUCCESS in success_kinds()
    with time_machine.travel(at(TODAY), tick=False):
        made = {}
        for name, (country, group, days) in PEOPLE.items():
            made[name] = customer = CustomerFactory(last_name=name, country=country)
            if group:
                CustomerScore.objects.create(customer=customer, scored_at=ago(1), holdout=group == "holdout")
            for n, day in enumerate(days):
                _promise(customer, n, day, hour=8 + n)
        services.rollups_refresh(full=True)
        yield made


def past(start_days_ago: int, end_days_ago: int, **kwargs) -> Filters:
    start, end = (TODAY - datetime.timedelta(days=d) for d in (start_days_ago, end_days_ago))
    return Filters(start=start, end=end, period="custom", today=TODAY, **kwargs)


def from_the_timeline(f: Filters) -> dict[str, int]:
    """Converted scored customers per group, counted from the success events themselves."""
    events = TimelineEvent.objects.filter(f.in_period("occurred_at"), kind__in=success_kinds())
    if f.country:
        events = events.filter(customer__country=f.country)
    converted = set(events.values_list("customer_id", flat=True))
    groups = {"treated": 0, "holdout": 0}
    for customer_id, holdout in CustomerScore.objects.values_list("customer_id", "holdout"):
        groups["holdout" if holdout else "treated"] += customer_id in converted
    return groups


def test_each_success_day_knows_the_one_before(people):
    rows = SuccessDay.objects.filter(customer=people["ann"]).order_by("day")
    day = {d: TODAY - datetime.timedelta(days=d) for d in (200, 100, 30)}
    assert [(r.day, r.previous_day) for r in rows] == [
        (day[200], datetime.date.min),
        (day[100], day[200]),
        (day[30], day[100]),  # two successes that day: one row
    ]
    assert not SuccessDay.objects.filter(customer=people["fay"]).exists()
    assert set(SuccessDay.objects.values_list("country", flat=True)) == {"AT", "DE"}


PERIODS = [
    past(365, 1),  # everyone with a success
    past(99, 31),  # ann's 30 out, ben's 95 and 50 in (counted once)
    past(100, 100),  # one day: ann's second success
    past(50, 30, country="AT"),  # ann only (ben is in DE, dan is not scored)
    past(30, 10),  # ann's two on one day and eve's on the last day
    past(29, 11),  # nobody
]


@pytest.mark.parametrize("f", PERIODS, ids=["year", "99-31", "100", "50-30-AT", "30-10", "none"])
def test_the_lift_of_a_past_period_counts_each_converted_customer_once(people, f):
    lift = kpis.lift(f)
    expected = from_the_timeline(f)
    assert (lift.treated_converted, lift.holdout_converted) == (expected["treated"], expected["holdout"])
    scored = CustomerScore.objects.filter(**({"customer__country": f.country} if f.country else {}))
    assert (lift.treated, lift.holdout) == (
        scored.filter(holdout=False).count(),
        scored.filter(holdout=True).count(),
    )
    # The drill-down's customers (it applies the filters itself).
    converted = set(kpis.converted_customer_ids(f).values_list("customer_id", flat=True))
    events = TimelineEvent.objects.filter(f.in_period("occurred_at"), kind=SUCCESS)
    assert converted == set(events.values_list("customer_id", flat=True))


def test_the_figures_of_the_year(people):
    lift = kpis.lift(PERIODS[0])
    # Scored: ann, eve, fay treated; ben, cid holdout. Converted in the year: ann, eve; ben, cid.
    assert (lift.treated, lift.treated_converted, lift.holdout, lift.holdout_converted) == (3, 2, 2, 2)


def test_a_new_success_is_counted_after_the_next_refresh(people):
    f = past(29, 11)
    assert kpis.lift(f).treated_converted == 0
    with time_machine.travel(at(TODAY), tick=False):
        _promise(people["fay"], 0, 20)
        services.rollups_refresh()
    assert kpis.lift(f).treated_converted == 1
    fay = SuccessDay.objects.get(customer=people["fay"])
    assert (fay.day, fay.previous_day) == (TODAY - datetime.timedelta(days=20), datetime.date.min)


def test_until_the_success_days_are_filled_a_past_period_counts_the_timeline(people):
    SuccessDay.objects.all().delete()
    RollupState.objects.filter(metric=kpis.SUCCESS_DAYS).update(watermark=None)
    f = PERIODS[1]
    lift = kpis.lift(f)
    assert (lift.treated_converted, lift.holdout_converted) == (0, 1)  # ben, from the timeline


def test_each_success_day_carries_the_group_of_its_customers_score(people):
    groups = dict(SuccessDay.objects.values_list("customer__last_name", "holdout").distinct())
    assert groups == {"ann": False, "ben": True, "cid": True, "dan": None, "eve": False}


def test_the_lift_of_a_past_period_reads_no_scores(people):
    with CaptureQueriesContext(connection) as queries:
        lift = kpis.lift(PERIODS[0])
    assert (lift.treated_converted, lift.holdout_converted) == (2, 2)
    assert not [q["sql"] for q in queries if CustomerScore._meta.db_table in q["sql"]]


def test_a_changed_group_and_a_first_score_count_after_the_next_refresh(people):
    f = PERIODS[0]
    with time_machine.travel(at(TODAY), tick=False):
        # The hold-out policy changed and the next rescoring moved ben to the treated; dan is scored.
        CustomerScore.objects.filter(customer=people["ben"]).update(holdout=False, scored_at=ago(0))
        CustomerScore.objects.create(customer=people["dan"], scored_at=ago(0), holdout=True)
        before = kpis.lift(f)
        services.rollups_refresh()
    assert (before.treated_converted, before.holdout_converted) == (2, 2)  # as of the last refresh
    lift = kpis.lift(f)
    # Treated: ann, ben, eve converted (fay not); hold-out: cid, dan.
    assert (lift.treated, lift.treated_converted, lift.holdout, lift.holdout_converted) == (4, 3, 2, 2)
    assert lift.treated_converted == from_the_timeline(f)["treated"]
    assert lift.holdout_converted == from_the_timeline(f)["holdout"]


def test_a_full_sync_clears_the_group_of_a_customer_without_a_score(people):
    CustomerScore.objects.filter(customer=people["ann"]).delete()
    assert success_groups_sync(None) == 3  # ann's three success days
    assert set(SuccessDay.objects.filter(customer=people["ann"]).values_list("holdout", flat=True)) == {None}
    assert success_groups_sync(None) == 0  # nothing left to change


def test_until_the_groups_are_synced_a_past_period_joins_the_scores(people):
    RollupState.objects.filter(metric=kpis.SUCCESS_GROUPS).update(watermark=None)
    SuccessDay.objects.update(holdout=None)
    lift = kpis.lift(PERIODS[0])
    assert (lift.treated_converted, lift.holdout_converted) == (2, 2)


def test_after_the_migration_the_next_refresh_writes_every_success_day_with_its_group(people):
    from types import SimpleNamespace

    from django.apps import apps

    migration = __import__("analytics.migrations.0010_success_day_holdout", fromlist=["x"])
    SuccessDay.objects.update(holdout=None)  # rows written before the column came
    migration.rebuild_success_days_next(apps, SimpleNamespace(connection=connection))
    assert not kpis._success_days_filled()  # a past period counts from the timeline meanwhile
    assert (kpis.lift(PERIODS[0]).treated_converted, kpis.lift(PERIODS[0]).holdout_converted) == (2, 2)
    with time_machine.travel(at(TODAY), tick=False):
        written = services.rollups_refresh()
    assert written["nba.success_days"] == SuccessDay.objects.count() == 8  # rebuilt, not updated
    assert written["nba.success_groups"] == 0
    assert not SuccessDay.objects.filter(holdout__isnull=True).exclude(customer=people["dan"]).exists()
