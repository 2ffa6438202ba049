"""The seed's readers: the scoring and the record-based analytics side by side, the figures that
read the scores after them, and every dashboard figure filled when the seed ends (issue #18)."""

import datetime
import threading

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Sum
from django.utils.module_loading import autodiscover_modules

from analytics.models import CustomerSentiment, DailyRollup
from customer360 import demo
from customer360.models import Customer, Score
from customer360.scores import CHURN_RISK

TODAY = datetime.date(2026, 11, 27)


def test_the_learning_and_the_record_analytics_form_one_wave_then_the_scoring_then_the_score_roll_ups():
    autodiscover_modules("demo")
    waves = [[key for key, _fn in wave] for wave in demo.seeders.waves()]
    # The listening and the other roll-ups of the records, the departments' assignments and the
    # learning read only the records: one wave.
    assert waves == [
        ["analytics", "analytics_records", "assignments", "insights"],
        ["insights_scoring"],
        ["analytics_score_bands", "analytics_scores"],
    ]
    # The scoring commits chunk by chunk (in two processes where it can), not in the seed's transaction.
    assert demo.seeders.own_transactions == {"insights_scoring"}


@pytest.fixture
def two_readers(monkeypatch):
    """Two readers of one wave that each wait (at most 20 s) until the other has started."""
    autodiscover_modules("demo")  # the departments' seeders first: they register into the copy below
    barrier, ran = threading.Barrier(2, timeout=20), {}

    def reader(key):
        def read(ctx):
            ran[key] = (threading.current_thread().name, Customer.objects.count())
            barrier.wait()

        return read

    items = dict(demo.seeders.items)
    items["reader_a"] = (demo.READERS_FROM + 1, reader("reader_a"))
    items["reader_b"] = (demo.READERS_FROM + 1, reader("reader_b"))
    monkeypatch.setattr(demo.seeders, "items", items)
    return ran


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="side by side only on PostgreSQL (DATABASE_URL=postgres://...)"
)
def test_readers_of_one_wave_run_side_by_side_on_committed_records(two_readers):
    count = len(demo.NAMED_CUSTOMERS)
    demo.run_seeders(count=count, seed=3, today=TODAY, stdout=lambda *_: None, only=["reader_a", "reader_b"])
    # Each waited for the other (one after the other, the first would have timed out), each in its
    # own thread and connection, and each saw the committed customers.
    assert set(two_readers) == {"reader_a", "reader_b"}
    threads = {name for name, _seen in two_readers.values()}
    assert len(threads) == 2 and all(name.startswith("seed") for name in threads)
    assert {seen for _name, seen in two_readers.values()} == {count}


@pytest.mark.django_db
def test_inside_an_open_transaction_the_readers_run_one_after_the_other(two_readers):
    # The test's transaction is invisible to other connections: the wave runs in this thread, and
    # the barrier of the first reader times out because the second cannot start meanwhile.
    with pytest.raises(threading.BrokenBarrierError):
        demo.run_seeders(
            count=len(demo.NAMED_CUSTOMERS), seed=3, today=TODAY, stdout=lambda *_: None,
            only=["reader_a", "reader_b"],
        )  # fmt: skip
    assert two_readers["reader_a"][0] == threading.current_thread().name


def _rolled_up(metric: str) -> int:
    return DailyRollup.objects.filter(metric=metric).aggregate(n=Sum("count"))["n"] or 0


@pytest.mark.django_db
def test_after_the_seed_the_mood_and_churn_bands_count_every_customer_they_describe():
    call_command("seed_demo", customers=80, seed=5, today=TODAY.isoformat())
    # The mood snapshot is taken after the listening run, the churn bands after the scoring.
    sounded = CustomerSentiment.objects.count()
    assert sounded > 0 and _rolled_up("listening.mood") == sounded
    scored = Score.objects.filter(kind=CHURN_RISK).count()
    assert scored > 0 and _rolled_up("customers.churn_band") == scored
    assert _rolled_up("nba.recommendations") > 0


def _fill_factor(table: str):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.IS_POSTGRES, reason="bulk-load mode only on PostgreSQL")
def test_while_the_readers_run_the_listened_messages_keep_room_for_their_topics(monkeypatch):
    from analytics.models import ListenedMessage

    autodiscover_modules("demo")
    table = ListenedMessage._meta.db_table
    seen = {}
    items = dict(demo.seeders.items)
    items["look"] = (demo.READERS_FROM, lambda ctx: seen.setdefault("during", _fill_factor(table)))
    monkeypatch.setattr(demo.seeders, "items", items)
    demo.run_seeders(
        count=len(demo.NAMED_CUSTOMERS), seed=3, today=TODAY, stdout=lambda *_: None, only=["look"]
    )
    assert seen["during"] == [f"fillfactor={demo.ROOM}"]
    assert _fill_factor(table) is None  # reset: later rows fill their pages
    # The assignments, written by a reader, are in bulk-load mode with the readers' tables.
    assert "customer360.CustomerAssignment" in demo.seeders.reader_models


@pytest.mark.django_db
def test_the_first_refresh_after_the_seed_reads_only_what_was_recorded_since():
    from analytics import services
    from analytics.models import CustomerRevenue
    from billing.models import Invoice
    from customer360 import timeline

    call_command("seed_demo", customers=80, seed=5, today=TODAY.isoformat())
    revenue_rows = set(CustomerRevenue.objects.values_list("pk", flat=True))
    assert revenue_rows
    # The seed's refreshes read every record its writers wrote (its waves ran after them): the next
    # refresh reads none of them again, though they were recorded within WATERMARK_OVERLAP of it.
    written = services.rollups_refresh()
    for metric in ("billing.customer_revenue", "sales.closed", "service.volume", "service.csat"):
        assert written[metric] == 0, metric
    assert set(CustomerRevenue.objects.values_list("pk", flat=True)) == revenue_rows
    # What is recorded after the seed is still rolled up by the next refresh.
    customer = Customer.objects.exclude(pk__in=CustomerRevenue.objects.values("customer_id")).first()
    today = datetime.date.today()
    invoice = Invoice.objects.create(
        customer=customer, number="after-the-seed", issue_date=today, due_date=today,
        status=Invoice.Status.PAID, net_total=1234, gross_total=1234,
    )  # fmt: skip
    timeline.record(customer=customer, department="accounting", kind="invoice.issued", title="issued",
                    idempotency_key="t:issued:after-the-seed", source=invoice)  # fmt: skip
    written = services.rollups_refresh()
    assert written["billing.customer_revenue"] == 1
    assert CustomerRevenue.objects.get(customer=customer).amount == 1234
