"""A full rescoring whose chunk tasks the broker lost goes on (beat's ``reclaim_stalled_scoring``):
the open chunks are sent again once the run has made no progress for a while, each chunk is still
scored once, and runs that progress, or are done, are left alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customer360.celery import app as celery_app
from customer360.models import Customer, Job
from insights import services
from insights.models import CustomerScore, ScoringChunk, ScoringRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(django_capture_on_commit_callbacks):
    """The chunk tasks a reclaim sends run when its transaction commits, at once (as a worker would)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True

    def reclaim(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.scoring_reclaim_stalled(**kwargs)

    yield reclaim
    celery_app.conf.task_always_eager = before


def _customers(n: int) -> None:
    Customer.objects.bulk_create(
        Customer(customer_number=f"L-{i:04d}", last_name=f"Lost {i}") for i in range(n)
    )


def _lost_run(minutes_ago: float) -> ScoringRun:
    """A run whose chunk tasks never reached a worker (created, never dispatched)."""
    run, _chunk_ids = services.scoring_run_create(chunk_size=10)
    ScoringRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return run


def test_a_run_without_progress_gets_its_open_chunks_again_and_finishes(eager):
    _customers(35)
    run = _lost_run(minutes_ago=40)
    first = ScoringChunk.objects.filter(run=run).order_by("index").first()
    services.scoring_chunk_run(chunk_id=first.pk)  # one chunk was scored before the tasks were lost
    ScoringRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=35))

    assert eager(seconds=30 * 60) == [run.pk]

    run.refresh_from_db()
    job = Job.objects.get(pk=run.job_id)
    assert job.status == Job.Status.DONE
    assert (job.done, job.total) == (35, 35)  # the chunk scored before counts once
    assert run.reclaims == 1
    assert not ScoringChunk.objects.filter(run=run, done=False).exists()
    assert CustomerScore.objects.filter(run=run).count() == 35
    assert eager(seconds=30 * 60) == []  # done: nothing to send again


def test_runs_that_progress_or_are_young_or_done_are_left_alone(eager):
    _customers(20)
    young = _lost_run(minutes_ago=5)
    progressing = _lost_run(minutes_ago=120)
    ScoringRun.objects.filter(pk=progressing.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=2))
    done = _lost_run(minutes_ago=120)
    Job.objects.filter(pk=done.job_id).update(status=Job.Status.DONE)
    failed = _lost_run(minutes_ago=120)
    Job.objects.filter(pk=failed.job_id).update(status=Job.Status.FAILED)

    assert eager(seconds=30 * 60) == []
    for run in (young, progressing, done, failed):
        run.refresh_from_db()
        assert run.reclaims == 0
        assert not CustomerScore.objects.filter(run=run).exists()


def test_a_run_whose_chunks_are_all_scored_is_marked_done():
    _customers(10)
    run = _lost_run(minutes_ago=60)
    ScoringChunk.objects.filter(run=run).update(done=True)
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.RUNNING)

    assert services.scoring_reclaim_stalled(seconds=60) == [run.pk]
    job = Job.objects.get(pk=run.job_id)
    assert job.status == Job.Status.DONE and job.finished_at is not None


def test_a_finished_chunk_is_the_runs_heartbeat_and_the_queue_is_kept(django_capture_on_commit_callbacks):
    _customers(20)
    with django_capture_on_commit_callbacks(execute=False):  # the tasks are not sent
        run = services.scoring_run_start(chunk_size=10, queue="nba-elsewhere")
    run.refresh_from_db()
    assert (run.queue, run.heartbeat_at) == ("nba-elsewhere", None)
    services.scoring_chunk_run(chunk_id=ScoringChunk.objects.filter(run=run).order_by("index")[0].pk)
    run.refresh_from_db()
    assert run.heartbeat_at is not None and timezone.now() - run.heartbeat_at < timedelta(minutes=1)
    assert services.scoring_reclaim_stalled(seconds=60) == []  # it just progressed


def test_beat_runs_the_reclaim_every_minute():
    entry = celery_app.conf.beat_schedule["nba-reclaim-stalled-scoring"]
    assert entry["task"] == "insights.tasks.reclaim_stalled_scoring" and entry["schedule"] == 60.0
    assert entry["task"] in celery_app.tasks
