"""An event's rescoring never waits behind a full rescoring (#18): the full run's chunks have a queue
of their own (``rescoring``, a compose worker of its own), what one event sets off stays on
``default``. With real workers on Redis: while a chunk of a full run holds its worker, an event
still gets its customer a new recommendation."""

import os
import uuid

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection, transaction

from crm.events import TICKET_OPENED
from customer360 import timeline
from customer360.celery import app
from customer360.management.commands.run_embedded import _worker_command
from customer360.models import Customer, Job
from insights import services
from insights.models import ContactPolicy, CustomerScore, Recommendation, ScoringChunk
from tests import worker_process
from tests.worker_process import celery_worker, wait_for, worker_env


def _queue(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_an_events_rescoring_and_a_full_rescoring_go_to_different_queues():
    # What one event sets off: the debounced drain (Redis) or one customer (no Redis).
    assert _queue("insights.tasks.rescore_pending") == "default"
    assert _queue("insights.tasks.rescore_customer") == "default"
    # Whole-population work: the nightly run, its chunks, and the chunks of a bulk change.
    assert _queue("insights.tasks.rescore_all") == "rescoring"
    assert _queue("insights.tasks.score_chunk") == "rescoring"
    assert _queue("insights.tasks.rescore_customers") == "rescoring"


def test_the_embedded_worker_consumes_every_routed_queue(tmp_path):
    command = _worker_command(str(tmp_path / "beat"))
    consumed = set(command[command.index("-Q") + 1].split(","))
    routed = {route["queue"] for route in app.conf.task_routes.values()}
    assert routed | {app.conf.task_default_queue} <= consumed


def _hold_chunk(chunk_id: int) -> psycopg.Connection:
    """Another session locks the chunk's row, as a chunk being scored does: the run's worker is busy."""
    holder = psycopg.connect(worker_process.test_database_url())
    holder.execute("SELECT id FROM insights_scoringchunk WHERE id = %s FOR UPDATE", [chunk_id])
    return holder


def _record_event(pk: int) -> None:
    with transaction.atomic():
        timeline.record(
            customer=pk,
            department="service",
            kind=TICKET_OPENED.kind,
            title="Routing test ticket",
            idempotency_key=f"test:routing:{uuid.uuid4().hex}",
            payload={"ticket_id": 4711, "category": "question", "priority": "normal"},
        )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_event_gets_its_recommendation_while_a_full_rescoring_holds_its_worker(tmp_path):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set (a real Redis broker)")
    if connection.vendor != "postgresql":
        pytest.skip("the workers need a database they can share with the test (PostgreSQL)")
    ContactPolicy.objects.update(holdout_share=0.0)
    Customer.objects.bulk_create(
        [Customer(customer_number=f"R-{i:05d}", last_name=f"Routing {i}") for i in range(600)], batch_size=600
    )
    customer = Customer.objects.order_by("pk").last()  # in the run's last chunk
    for key in (services.PENDING_SET, services.DRAIN_FLAG):
        cache.delete(key)
    # The workers share the test process's cache key prefix (the pending set lives in Redis).
    env = {**worker_env(url, tmp_path), "DJANGO_SETTINGS_MODULE": "customer360.settings.test"}
    run = services.scoring_run_start(chunk_size=100)
    first = ScoringChunk.objects.filter(run=run).order_by("index").first()
    holder = _hold_chunk(first.pk)
    try:
        with (
            celery_worker(env, "rescoring", log=tmp_path / "rescoring.log"),
            celery_worker(env, "default", log=tmp_path / "default.log"),
        ):
            # The run's only worker process is stuck in the first chunk.
            assert wait_for(lambda: Job.objects.get(pk=run.job_id).status == Job.Status.RUNNING, timeout=60)
            _record_event(customer.pk)
            rescored = wait_for(lambda: CustomerScore.objects.filter(customer=customer).first(), timeout=60)
            logs = (tmp_path / "default.log").read_text(errors="replace")[-3000:]
            assert rescored is not None, logs
            assert rescored.run_id is None  # the event's own rescoring, not the run's chunk
            assert Recommendation.objects.filter(customer=customer, status="open").exists()
            assert Job.objects.get(pk=run.job_id).status == Job.Status.RUNNING
            assert not ScoringChunk.objects.filter(run=run, done=True).exists()
            holder.rollback()  # the long chunk ends: the run completes
            done = wait_for(lambda: Job.objects.get(pk=run.job_id).status == Job.Status.DONE, timeout=120)
            assert done, (tmp_path / "rescoring.log").read_text(errors="replace")[-3000:]
    finally:
        holder.close()
    assert Job.objects.get(pk=run.job_id).done == 600
    assert CustomerScore.objects.count() == 600
    open_recs = Recommendation.objects.filter(status="open")
    assert open_recs.count() == open_recs.values("customer_id", "action_id").distinct().count()
