"""A real Celery worker on Redis is killed (SIGKILL) in the middle of a batch rescoring and
restarted: in the end every customer is scored exactly once for that run, nothing is duplicated.

The broker gives the dead worker's tasks back after the visibility timeout; a task it lost (a
worker killed between taking it and recording it as unacknowledged, or while it held the broker's
restore lock) is sent again by beat's reclaim, which the test calls as beat would."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from customer360.models import Customer, Job
from insights.models import CustomerScore, Recommendation, ScoringChunk
from insights.services import scoring_reclaim_stalled, scoring_run_start

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis broker)"),
]
CUSTOMERS = 3000
CHUNK = 200


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _start_worker(queue: str, var_dir: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "customer360.settings.base",
        "DATABASE_URL": _database_url(),
        "C360_VAR_DIR": str(var_dir),
        # Unacknowledged tasks of the dead worker come back soon; the time limits shrink with the
        # visibility timeout, which settings keep above every limit.
        "CELERY_VISIBILITY_TIMEOUT": "8",
        "CELERY_TASK_SOFT_TIME_LIMIT": "5",
        "CELERY_TASK_TIME_LIMIT": "6",
        "C360_LONG_TASK_SOFT_TIME_LIMIT": "6",
        "C360_LONG_TASK_TIME_LIMIT": "7",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "customer360", "worker", "-Q", queue, "-c", "2",
               "-n", f"{queue}-{uuid.uuid4().hex[:6]}@%h", "-l", "WARNING",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(worker: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _lose_unacknowledged(queue: str) -> int:
    """The broker loses the dead worker's unacknowledged tasks of ``queue``; how many it lost."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    lost = 0
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == queue:  # [message, exchange, routing key]
            lost += client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    return lost


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redelivers", "loses-the-tasks"])
def test_batch_survives_a_killed_worker(tmp_path, broker):
    if connection.vendor != "postgresql":
        pytest.skip("the worker needs a database it can share with the test (PostgreSQL)")
    Customer.objects.bulk_create(
        [Customer(customer_number=f"K-{i:06d}", last_name=f"Kill {i}") for i in range(CUSTOMERS)],
        batch_size=1000,
    )
    queue = f"nba-kill-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    worker = _start_worker(queue, tmp_path, log)
    try:
        run = scoring_run_start(chunk_size=CHUNK, queue=queue)
        job = run.job
        started = _wait(lambda: Job.objects.get(pk=job.pk).done >= CHUNK, 60)
        assert started, log.read_text()[-3000:]
        _kill(worker)
        done_at_kill = Job.objects.get(pk=job.pk).done
        assert done_at_kill < CUSTOMERS, "the batch finished before the worker could be killed"
        # (A worker killed between two tasks holds none: then nothing is lost and nothing reclaimed.)
        lost = _lose_unacknowledged(queue) if broker == "loses-the-tasks" else 0
        worker = _start_worker(queue, tmp_path, log)

        def finished_or_reclaimed() -> bool:
            scoring_reclaim_stalled(seconds=20)  # beat, every minute; no chunk finished for 20 s
            return Job.objects.get(pk=job.pk).status == Job.Status.DONE

        finished = _wait(finished_or_reclaimed, 120)
        assert finished, f"done {Job.objects.get(pk=job.pk).done}/{CUSTOMERS}\n{log.read_text()[-3000:]}"
    finally:
        _kill(worker)
    job.refresh_from_db()
    run.refresh_from_db()
    assert run.reclaims >= (1 if lost else 0)
    assert job.done == CUSTOMERS  # each chunk counted once, although some ran twice
    assert not ScoringChunk.objects.filter(run=run, done=False).exists()
    assert CustomerScore.objects.filter(run=run).count() == CUSTOMERS
    scored = set(CustomerScore.objects.filter(run=run).values_list("customer_id", flat=True))
    assert scored == set(Customer.objects.values_list("pk", flat=True))
    open_recs = Recommendation.objects.filter(status="open")
    assert open_recs.count() == open_recs.values("customer_id", "action_id").distinct().count()
    held = CustomerScore.objects.filter(run=run, holdout=True).count()
    assert open_recs.values("customer_id").distinct().count() == CUSTOMERS - held
