"""A real Celery worker process records a timeline event: on Redis (production) and on the
file-system broker of the embedded mode."""

import os
import uuid

import pytest
from kombu import Connection

from customer360.celery import app
from customer360.models import TimelineEvent, WorkerHeartbeat
from tests.factories import CustomerFactory
from tests.worker_process import celery_worker, wait_for, worker_env


def _broker(kind: str, tmp_path):
    if kind == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("REDIS_URL is not set (.ci/run sets it)")
        return url, Connection(url)
    folder = tmp_path / "broker" / "queue"
    folder.mkdir(parents=True)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    for sub in ("processed", "control"):
        (tmp_path / "broker" / sub).mkdir()
        options[f"{sub}_folder"] = str(tmp_path / "broker" / sub)
    return "filesystem://", Connection("filesystem://", transport_options=options)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_real_worker_records_a_timeline_event(broker, tmp_path):
    url, connection = _broker(broker, tmp_path)
    env = worker_env(url, tmp_path)
    customer = CustomerFactory()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    key = f"worker-test:{queue}"
    with celery_worker(env, queue, log=tmp_path / "worker.log"), connection:
        app.send_task(
            "customer360.tasks.record_event",
            args=[customer.pk, "service", "ticket.opened", "Ticket opened by the worker", key],
            queue=queue,
            connection=connection,
        )
        event = wait_for(lambda: TimelineEvent.objects.filter(idempotency_key=key).first(), timeout=60)
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert event is not None, log[-3000:]
        assert event.customer_id == customer.pk
        assert event.title == "Ticket opened by the worker"
        assert event.actor_label == "worker"
        # The worker announced itself, which is what /health/ reads.
        assert WorkerHeartbeat.objects.filter(name__startswith=queue).exists()
