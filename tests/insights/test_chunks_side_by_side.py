"""The chunks of one full rescoring run side by side (issue #18): a chunk being scored holds its own
row only, so a second worker process scores the next chunk meanwhile (before, the chunk's lock took
the run's job row too, and two worker processes scored one chunk at a time). Whichever chunk ends
last marks the job done, whatever the order."""

import threading

import pytest
from django.db import connection, connections

from customer360.models import Customer, Job
from insights import engine, services
from insights.models import CustomerScore, ScoringChunk

pytestmark = pytest.mark.django_db(transaction=True)


def _customers(n: int) -> None:
    Customer.objects.bulk_create(
        Customer(customer_number=f"S-{i:04d}", last_name=f"Side {i}") for i in range(n)
    )


def _in_thread(fn, errors: list):
    def target():
        try:
            fn()
        except Exception as exc:  # reported to the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@pytest.mark.parametrize("held", [0, 1], ids=["first-chunk-held", "last-chunk-held"])
def test_a_second_chunk_is_scored_while_the_first_is_still_open(monkeypatch, held):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE OF) need PostgreSQL")
    _customers(40)
    run, chunk_ids = services.scoring_run_create(chunk_size=20)
    assert len(chunk_ids) == 2
    held_chunk = ScoringChunk.objects.get(pk=chunk_ids[held])
    other_id = chunk_ids[1 - held]
    inside, release = threading.Event(), threading.Event()
    real = engine.score_customers

    def score_and_wait(*args, id_range=None, **kwargs):
        result = real(*args, id_range=id_range, **kwargs)
        if id_range and id_range[0] == held_chunk.first_id:
            inside.set()  # scored, its transaction still open (the chunk's lock is held)
            release.wait(20)
        return result

    monkeypatch.setattr(engine, "score_customers", score_and_wait)
    errors: list = []
    first = _in_thread(lambda: services.scoring_chunk_run(chunk_id=held_chunk.pk), errors)
    assert inside.wait(20), errors
    second = _in_thread(lambda: services.scoring_chunk_run(chunk_id=other_id), errors)
    second.join(15)
    finished_alongside = not second.is_alive()
    release.set()
    first.join(20)
    second.join(20)
    assert not errors, errors
    assert finished_alongside, "the second chunk waited for the first one's transaction"
    job = Job.objects.get(pk=run.job_id)
    assert job.status == Job.Status.DONE and job.done == 40 == job.total
    assert not ScoringChunk.objects.filter(run=run, done=False).exists()
    assert CustomerScore.objects.filter(run=run).count() == 40


def test_a_chunk_runs_once_and_counts_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    _customers(30)
    run, chunk_ids = services.scoring_run_create(chunk_size=20)
    assert [services.scoring_chunk_run(chunk_id=c) for c in chunk_ids] == [True, True]
    assert services.scoring_chunk_run(chunk_id=chunk_ids[0]) is False  # a redelivered task
    job = Job.objects.get(pk=run.job_id)
    assert (job.status, job.done, job.total) == (Job.Status.DONE, 30, 30)
    assert job.started_at is not None and job.finished_at >= job.started_at


def test_a_chunk_does_not_write_over_a_newer_rescoring_of_its_customers():
    """A new event's rescoring does not wait for a chunk that began before it: what it wrote (its
    scores, its open recommendations) stands, and the chunk's older result skips that customer."""
    from datetime import timedelta

    from django.utils import timezone

    from insights.models import Recommendation

    _customers(12)
    run, _chunk_ids = services.scoring_run_create(chunk_size=20)
    fresh = Customer.objects.order_by("pk")[5]
    engine.score_customers([fresh.pk])  # the event's rescoring: now
    mark = CustomerScore.objects.get(customer_id=fresh.pk)
    open_before = set(
        Recommendation.objects.filter(customer_id=fresh.pk, status="open").values_list("pk", "scored_at")
    )
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    # the chunk's pass began a minute before the event's rescoring
    result = engine.score_customers(
        id_range=(ids[0], ids[-1]), run=run, now=timezone.now() - timedelta(minutes=1)
    )
    assert result.customers == 11
    assert CustomerScore.objects.get(customer_id=fresh.pk) == mark
    kept = CustomerScore.objects.get(customer_id=fresh.pk)
    assert (kept.run_id, kept.scored_at) == (None, mark.scored_at)
    assert CustomerScore.objects.filter(run=run).count() == 11
    after = set(
        Recommendation.objects.filter(customer_id=fresh.pk, status="open").values_list("pk", "scored_at")
    )
    assert after == open_before


def test_the_last_chunk_sends_the_vacuum_of_what_the_run_rewrote(monkeypatch):
    sent = []

    class Recorder:
        def __init__(self, name):
            self.name = name

        def delay(self, *args):
            sent.append(self.name)

    monkeypatch.setattr(services, "task", Recorder)
    _customers(30)
    run, chunk_ids = services.scoring_run_create(chunk_size=20)
    services.scoring_chunk_run(chunk_id=chunk_ids[0])
    assert sent == []  # a chunk remains
    services.scoring_chunk_run(chunk_id=chunk_ids[1])
    assert sent == ["insights.tasks.vacuum_scores"]


def test_the_vacuum_runs_on_every_table_a_run_rewrote():
    if connection.vendor != "postgresql":
        pytest.skip("VACUUM is PostgreSQL's")
    _customers(30)
    services.scoring_run_inline(chunk_size=20)  # a second run rewrites every score
    tables = ["customer360_score", "insights_customerscore", "insights_recommendation"]

    def vacuums() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname = ANY(%s)", [tables]
            )
            return dict(cursor.fetchall())

    before = vacuums()
    assert services.scores_vacuum() == tables
    after = vacuums()
    assert all(after[t] == before[t] + 1 for t in tables), (before, after)
