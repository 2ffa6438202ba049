"""Fault injection on the real services: SIGKILL the Celery worker in the middle of an import of
200,000 rows, start a new one, and count what the database holds.

Needs PostgreSQL (the worker process shares the test database) and Redis (the broker); both run on
loopback in CI. The test prints what it killed and what it counted.
"""

import os
import signal
import uuid

import pytest
from django.core.files import File
from django.db.models import Sum

from customer360.models import Customer, TimelineEvent
from customer360.sources import chunks, services
from customer360.sources.models import ImportChunk, ImportRun
from tests.sources.factories import DataSourceFactory
from tests.worker_process import celery_worker, wait_for, worker_env

ROWS = 200_000
CUSTOMERS = 2_000
CHUNK_ROWS = 5_000

MAPPING = {
    "fields": [
        {"field": "event_id", "column": "event"},
        {"field": "external_id", "column": "customer"},
        {"field": "kind", "column": "kind"},
        {"field": "occurred_at", "column": "when"},
        {"field": "payload.amount", "column": "amount", "type": "decimal"},
    ],
    "options": {},
}


def _write_file(path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("event;customer;kind;when;amount\n")
        for number in range(ROWS):
            handle.write(f"e{number};k{number % CUSTOMERS};order.placed;2025-03-01 10:00;{number % 97},50\n")


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sigkill_of_the_worker_mid_import_loses_and_doubles_nothing(tmp_path, settings):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set (.ci/run sets it)")
    queue = f"import-{uuid.uuid4().hex[:8]}"
    settings.C360_IMPORT_QUEUE = queue
    settings.C360_IMPORT_CHUNK_ROWS = CHUNK_ROWS
    settings.MEDIA_ROOT = tmp_path / "media"
    env = worker_env(
        redis_url,
        tmp_path,
        MEDIA_ROOT=str(tmp_path / "media"),
        C360_IMPORT_QUEUE=queue,
        C360_IMPORT_CHUNK_ROWS=str(CHUNK_ROWS),
        C360_IMPORT_TASK_SECONDS="20",
    )
    source = DataSourceFactory(target="events", locale="de_AT")
    path = tmp_path / "orders.csv"
    _write_file(path)
    with path.open("rb") as handle:
        run = services.run_create(source=source, uploaded=File(handle, name="orders.csv"))

    with celery_worker(env, queue, log=tmp_path / "worker-1.log") as first:
        services.run_start(run=run, mapping=MAPPING)  # autocommit: the task is queued at once
        progressed = wait_for(
            lambda: ImportRun.objects.filter(pk=run.pk, chunks_done__gte=3).exists(), timeout=300
        )
        assert progressed, (tmp_path / "worker-1.log").read_text(errors="replace")[-3000:]
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    run.refresh_from_db()
    print(
        f"\nkilled worker pid {first.pid} (SIGKILL) at {run.chunks_done}/{run.chunk_count} chunks, "
        f"{run.done} of {run.total} rows committed, status {run.status}"
    )
    assert run.status == ImportRun.Status.RUNNING
    assert 0 < run.chunks_done < run.chunk_count

    with celery_worker(env, queue, log=tmp_path / "worker-2.log"):
        # What the beat task does for a run whose worker vanished (here without the 5 minutes' wait).
        reclaimed = wait_for(lambda: chunks.reclaim_stalled(minutes=0), timeout=60)
        assert reclaimed == [run.pk]
        finished = wait_for(
            lambda: ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.DONE).exists(), timeout=900
        )
        assert finished, (tmp_path / "worker-2.log").read_text(errors="replace")[-3000:]

    run.refresh_from_db()
    events = TimelineEvent.objects.filter(idempotency_key__startswith=f"{source.slug}:")
    keys = events.values("idempotency_key").distinct().count()
    customers = Customer.objects.filter(identities__source=source.slug).distinct().count()
    sums = ImportChunk.objects.filter(run=run).aggregate(
        created=Sum("created"), rows=Sum("rows"), unchanged=Sum("unchanged"), failed=Sum("failed")
    )
    print(
        f"counted: {events.count()} events ({keys} distinct keys) for {ROWS} rows, {customers} customers; "
        f"run says created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"failed {run.failed}, duplicate {run.duplicate}, done {run.done}/{run.total}, "
        f"chunks {run.chunks_done}/{run.chunk_count}, re-claimed {run.reclaims}x"
    )
    assert events.count() == keys == ROWS
    assert customers == CUSTOMERS
    assert run.total == run.done == ROWS
    assert (run.created, run.updated, run.unchanged, run.failed, run.duplicate) == (ROWS, 0, 0, 0, 0)
    assert sums == {"created": ROWS, "rows": ROWS, "unchanged": 0, "failed": 0}
    assert run.chunks_done == run.chunk_count == ROWS // CHUNK_ROWS
    assert run.reclaims == 1
    # The amounts were read as Austrian numbers ("12,50"), in every chunk.
    last = events.get(idempotency_key=f"{source.slug}:e{ROWS - 1}")
    assert last.payload["amount"] == (ROWS - 1) % 97 + 0.5
