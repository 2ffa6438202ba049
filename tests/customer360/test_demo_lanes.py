"""The seed's department writers side by side, one process per lane (issue #18): the same data as
one after the other, and a failed lane leaves neither records nor missing indexes behind.

The seed forks only from a process with no other thread (``demo_lanes.can_fork``); earlier tests
leave threads behind (a live server), so ``make test`` runs this file in a pytest process of its
own (``FORKING_TESTS`` in the Makefile)."""

import datetime

import pytest
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from billing.models import Invoice
from customer360 import demo, demo_lanes
from customer360.models import Customer, TimelineEvent
from marketing.models import Touch
from tests.customer360.test_bulk import _definitions as _indexes
from tests.customer360.test_demo_chunks import WRITERS, _snapshot

TODAY = datetime.date(2026, 11, 27)
pytestmark = pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="lanes only on PostgreSQL (DATABASE_URL=postgres://...)"
)


def _seed(only_also=(), **options):
    return demo.run_seeders(
        count=45,
        seed=7,
        today=TODAY,
        stdout=lambda *_: None,
        only=[*WRITERS, *only_also],
        chunk=20,
        **options,
    )


def test_the_departments_lanes():
    autodiscover_modules("demo")
    lanes = {key: demo.seeders.lanes[key] for key in WRITERS}
    assert lanes == {
        "sales": "departments",
        "service": "departments",
        "billing": "billing",
        "marketing": "marketing",
        "collab": "departments",
        "insights_history": "departments",
    }


@pytest.mark.django_db(transaction=True)
def test_lanes_write_what_one_transaction_writes():
    # One after the other, in a transaction that is rolled back: the database is empty again.
    with transaction.atomic():
        _seed(side_by_side=False)
        one_after_the_other = _snapshot()
        transaction.set_rollback(True)
    assert not Customer.objects.exists()

    ctx = _seed()
    # Three lanes ran, each in a process of its own, and reported their figures.
    assert set(ctx.extras["lane_peaks_mb"]) == {"departments", "billing", "marketing"}
    assert ctx.extras["past_recommendations"] > 0
    side_by_side = _snapshot()
    customers, events, invoices = side_by_side
    assert len(customers) == 45 and len(events) > 45 * 10 and invoices
    assert side_by_side == one_after_the_other
    # The big tables have their indexes and keys back.
    assert "c360_event_customer_newest" in " ".join(_indexes(TimelineEvent._meta.db_table))


@pytest.fixture
def failing_lane(monkeypatch):
    """A writer in the billing lane that fails on the second chunk."""
    autodiscover_modules("demo")

    def fail(ctx):
        if ctx.chunk == 1:
            raise RuntimeError("planted failure")

    monkeypatch.setattr(demo.seeders, "items", {**demo.seeders.items, "failing": (45, fail)})
    monkeypatch.setattr(demo.seeders, "lanes", {**demo.seeders.lanes, "failing": "billing"})


@pytest.mark.django_db(transaction=True)
def test_a_failed_lane_fails_the_seed_and_leaves_no_records_and_every_index(failing_lane):
    tables = [TimelineEvent._meta.db_table, Invoice._meta.db_table, Touch._meta.db_table]
    before = {table: _indexes(table) for table in tables}
    with pytest.raises(demo_lanes.LaneFailed, match="billing failed: RuntimeError: planted failure"):
        demo.run_seeders(
            count=45, seed=7, today=TODAY, stdout=lambda *_: None, only=[*WRITERS, "failing"], chunk=20
        )
    assert {table: _indexes(table) for table in tables} == before
    # What the other lanes and the customers' chunks had committed is gone again.
    assert not Customer.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert not Touch.objects.exists()
    assert not Invoice.objects.exists()


def _note_pid(folder, item):
    import os
    import time

    if item == "fail":
        raise ValueError("planted in a process")
    time.sleep(0.05)  # long enough for the other process to take the next item
    (folder / str(item)).write_text(str(os.getpid()))


def test_in_processes_shares_the_items_between_the_processes_and_passes_a_failure_on(tmp_path):
    import functools
    import os

    demo_lanes.in_processes(functools.partial(_note_pid, tmp_path), list(range(20)), processes=2)
    done = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert sorted(done, key=int) == [str(n) for n in range(20)]
    pids = set(done.values())
    assert len(pids) == 2 and str(os.getpid()) not in pids
    with pytest.raises(demo_lanes.LaneFailed, match="ValueError: planted in a process"):
        demo_lanes.in_processes(functools.partial(_note_pid, tmp_path), [1, "fail", 2], processes=2)


@pytest.fixture
def forks(monkeypatch):
    """The number of items each ``demo_lanes.in_processes`` call got (the processes still run)."""
    calls, original = [], demo_lanes.in_processes

    def counted(fn, items, processes=2):
        calls.append(len(items))
        return original(fn, items, processes)

    monkeypatch.setattr(demo_lanes, "in_processes", counted)
    return calls


@pytest.mark.django_db(transaction=True)
def test_the_seeds_scoring_commits_chunk_by_chunk_and_scores_every_customer(forks):
    from customer360.models import Job
    from insights.models import CustomerScore, ScoringChunk

    _seed(only_also=["insights", "insights_scoring"])
    assert forks == [1]  # the run's one chunk, taken by one of the two processes
    assert CustomerScore.objects.count() == Customer.objects.count() == 45
    assert not ScoringChunk.objects.filter(done=False).exists()
    assert Job.objects.get(kind="insights.rescore").status == Job.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_with_another_thread_running_the_seed_forks_nothing_and_scores_in_this_process(forks):
    import threading

    from insights.models import CustomerScore

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="a live server, say")
    other.start()
    try:
        ctx = _seed(only_also=["insights", "insights_scoring"])
    finally:
        stop.set()
        other.join()
    # A fork would copy only this thread and share the other's connections with the children.
    assert forks == [] and "lane_peaks_mb" not in ctx.extras
    assert CustomerScore.objects.count() == Customer.objects.count() == 45
