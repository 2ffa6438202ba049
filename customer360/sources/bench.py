"""Figures for ``manage.py bench``: bulk API events/s and the online_retail CSV import time.

``run_bench()`` writes into the configured database (use a scratch PostgreSQL database) and
returns a dict of figures; the data sources it creates are named ``bench-*``.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.test import Client

from customer360.models import DataSource
from customer360.sources import services
from customer360.sources.models import ImportRun

RETAIL = (
    Path(settings.BASE_DIR).parent
    / "shared"
    / "data"
    / "online_retail"
    / "online_retail_2010-2011_first50k.csv"
)
RETAIL_MAPPING = Path(settings.BASE_DIR) / "tests" / "fixtures" / "sources" / "online_retail_mapping.json"


def bench_api(*, requests: int = 5, rows: int = 10_000, customers: int = 2_000) -> dict:
    """POST ``requests`` x ``rows`` new events through the real endpoint (one client)."""
    run_id = secrets.token_hex(3)
    source = DataSource.objects.create(
        name=f"bench api {run_id}",
        slug=f"bench-api-{run_id}",
        kind="api",
        department="sales",
        target="events",
    )
    token = services.source_issue_token(source=source)
    client = Client(HTTP_HOST="localhost")
    # One warm-up record first: a running server has loaded its URLs and views before the load comes.
    client.post(
        f"/api/sources/{source.slug}/records",
        json.dumps({"records": [{"event_id": "warm-up", "external_id": "warm-up", "kind": "order.placed"}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    total, started = 0, time.perf_counter()
    for number in range(requests):
        records = [
            {
                "event_id": f"{number}-{i}",
                "external_id": f"c{i % customers}",
                "kind": "order.placed",
                "occurred_at": "2025-03-01T10:00:00+01:00",
                "payload": {"amount": 12.5},
            }
            for i in range(rows)
        ]
        response = client.post(
            f"/api/sources/{source.slug}/records",
            json.dumps({"records": records}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        total += response.json()["accepted"]
    seconds = time.perf_counter() - started
    return {
        "api_events": total,
        "api_seconds": round(seconds, 2),
        "api_events_per_second": int(total / seconds),
    }


def bench_csv() -> dict:
    """Import the online_retail file (50,000 lines) into a fresh events source."""
    if not RETAIL.exists():
        return {"csv_skipped": f"{RETAIL} is absent"}
    run_id = secrets.token_hex(3)
    source = DataSource.objects.create(
        name=f"bench retail {run_id}",
        slug=f"bench-retail-{run_id}",
        kind="csv",
        department="sales",
        target="events",
    )
    spec = json.loads(RETAIL_MAPPING.read_text())
    with RETAIL.open("rb") as handle:
        run = services.run_create(source=source, uploaded=File(handle, name=RETAIL.name))
    ImportRun.objects.filter(pk=run.pk).update(mapping=spec, status=ImportRun.Status.RUNNING)
    run.refresh_from_db()
    started = time.perf_counter()
    run = services.run_execute(run=run)
    seconds = time.perf_counter() - started
    return {
        "csv_rows": run.total,
        "csv_seconds": round(seconds, 2),
        **{f"csv_{k}": v for k, v in run.counts.items()},
    }


def bench_api_without_receivers(**kwargs) -> dict:
    """The same, with the receivers of ``customer_changed`` (NBA rescoring) detached, to show
    what the ingestion path itself costs."""
    from customer360.timeline import customer_changed

    receivers = customer_changed.receivers[:]
    customer_changed.receivers.clear()
    customer_changed.sender_receivers_cache.clear()
    try:
        figures = bench_api(**kwargs)
    finally:
        customer_changed.receivers[:] = receivers
        customer_changed.sender_receivers_cache.clear()
    return {f"{key}_ingest_only": value for key, value in figures.items()}


def run_bench() -> dict:
    return {**bench_api(), **bench_api_without_receivers(), **bench_csv()}
