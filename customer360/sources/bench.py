"""Figures for ``manage.py bench``: bulk API events/s and the online_retail CSV import time.

``run_bench()`` writes into the configured database (use a scratch PostgreSQL database) and
returns a dict of figures; the data sources it creates are named ``bench-*``.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
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


def backend_cpu_seconds() -> float | None:
    """CPU seconds used so far by the PostgreSQL backend of this connection, read from /proc when
    the server runs on this machine (None otherwise). With the process's own CPU time it measures
    the work of a request independently of what else runs on a shared machine."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _api_body(number: int, rows: int, customers: int) -> str:
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
    return json.dumps({"records": records})


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
    # The client's own work (building and encoding its records) happens before the clock starts: a
    # real client does it on its own machine while the server ingests the previous request.
    client_started = time.perf_counter()
    bodies = [_api_body(number, rows, customers) for number in range(requests)]
    client_seconds = time.perf_counter() - client_started
    total, started = 0, time.perf_counter()
    cpu_started, backend_started = time.process_time(), backend_cpu_seconds()
    for body in bodies:
        response = client.post(
            f"/api/sources/{source.slug}/records",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        total += response.json()["accepted"]
    seconds = time.perf_counter() - started
    backend = backend_cpu_seconds()
    cpu = time.process_time() - cpu_started
    return {
        "api_events": total,
        "api_seconds": round(seconds, 2),
        "api_process_cpu_seconds": round(cpu, 2),
        "api_client_seconds": round(client_seconds, 2),
        "api_events_per_second": int(total / seconds),
        # CPU of this process (the web request) and of its database backend: the work, not the wait.
        "api_cpu_seconds": round(cpu + (backend - backend_started), 2) if backend is not None else None,
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


RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
_PRODUCTS = [
    ("85123A", "WHITE HEART T-LIGHT", "2.55"),
    ("71053", "WHITE METAL LANTERN", "3.39"),
    ("84406B", "CUPID COAT HANGER", "2.75"),
    ("22752", "BABUSHKA BOXES", "7.65"),
    ("21730", "GLASS STAR HOLDER", "4.25"),
    ("22633", "HAND WARMER", "1.85"),
    ("84879", "BIRD ORNAMENT", "1.69"),
    ("22745", "PLAYHOUSE BEDROOM", "2.1"),
]
_COUNTRIES = ("United Kingdom", "Germany", "France", "Austria", "Netherlands", "Spain")


def generate_retail(path: Path, *, lines: int, customers: int = 20_000, seed: int = 7) -> int:
    """A CSV like online_retail (customers + purchase events) with ``lines`` data lines, every line
    a distinct purchase of a known customer; returns the file size in bytes."""
    import random

    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(RETAIL_HEADER)
        invoice, line = 536365, 0
        while line < lines:
            invoice += 1
            customer = 12346 + rng.randrange(customers)
            country = _COUNTRIES[customer % len(_COUNTRIES)]
            when = f"2011-{1 + invoice % 12:02d}-{1 + invoice % 28:02d} {8 + invoice % 10:02d}:{invoice % 60:02d}:00"
            prefix = "C" if rng.random() < 0.02 else ""
            for _ in range(min(rng.randint(1, 12), lines - line)):
                code, name, price = rng.choice(_PRODUCTS)
                quantity = rng.randint(1, 48) * (-1 if prefix else 1)
                handle.write(
                    f"{prefix}{invoice},{code},{name},{quantity},{when},{price},{customer},{country}\n"
                )
                line += 1
    return path.stat().st_size


def bench_large_import(*, lines: int = 700_000) -> dict:
    """The 700,000-line (~50 MB) retail file through the upload path (run_create, the saved mapping,
    chunked run), then the same file again: the rerun must create nothing."""
    import tempfile

    from customer360.celery import app

    app.loader.import_default_modules()  # as a worker does at start, not inside the timed run
    spec = json.loads(RETAIL_MAPPING.read_text())
    figures: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"retail_{lines}.csv"
        figures["large_bytes"] = generate_retail(path, lines=lines)
        run_id = secrets.token_hex(3)
        source = DataSource.objects.create(
            name=f"bench large {run_id}",
            slug=f"bench-large-{run_id}",
            kind="csv",
            department="sales",
            target="events",
            locale="en",
        )
        figures.update(_bench_mapping_page(source, path, spec))
        for label in ("first", "rerun"):
            with path.open("rb") as handle:
                run = services.run_create(source=source, uploaded=File(handle, name=path.name))
            ImportRun.objects.filter(pk=run.pk).update(mapping=spec, status=ImportRun.Status.QUEUED)
            run.refresh_from_db()
            started, cpu = time.perf_counter(), time.process_time()
            run = services.run_execute(run=run)
            seconds = time.perf_counter() - started
            figures[f"large_{label}_worker_cpu_seconds"] = round(time.process_time() - cpu, 2)
            figures[f"large_{label}_seconds"] = round(seconds, 2)
            # The machine may be shared: the 1-minute load average says how much it was.
            figures[f"large_{label}_load"] = round(os.getloadavg()[0], 2)
            figures[f"large_{label}_lines_per_second"] = int(run.total / seconds) if seconds else 0
            figures[f"large_{label}_status"] = run.status
            figures.update({f"large_{label}_{k}": v for k, v in run.counts.items()})
            figures[f"large_{label}_total"] = run.total
            figures[f"large_{label}_chunks"] = run.chunk_count
    return figures


def _admin_client() -> Client:
    """A client signed in as the bench's admin (created once, without a usable password), the second
    factor confirmed as after a real sign-in: the mapping page is for admins only."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user, created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"first_name": "Bench", "last_name": "Admin"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name="Admin"))
    device, _created = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _timed(call, times: int = 3) -> tuple[float, set[int], str]:
    """The slowest of ``times`` calls (seconds), the status codes, and the last answer's text."""
    slowest, statuses, text = 0.0, set(), ""
    for _round in range(times):
        started = time.perf_counter()
        response = call()
        slowest = max(slowest, time.perf_counter() - started)
        statuses.add(response.status_code)
        text = response.content.decode()
    return slowest, statuses, text


def _bench_mapping_page(source: DataSource, path: Path, spec: dict) -> dict:
    """The real pages for the large file, as an admin through the test client: the mapping page
    (GET: the head read, a mapping and the row key suggested), the preview (POST: the first rows
    mapped and the whole-file check queued) and one poll of the check (GET), each the slowest of
    three after a warm-up of the source's page; then the check itself, run here as the worker does."""
    from unittest import mock

    from customer360.models import Job
    from customer360.sources import tasks

    with path.open("rb") as handle:
        run = services.run_create(source=source, uploaded=File(handle, name=path.name))
    client = _admin_client()
    client.get(f"/sources/{source.slug}/")  # URLs, middleware, session and templates loaded
    url = f"/sources/runs/{run.pk}/mapping/"
    form = {
        "delimiter": spec.get("options", {}).get("delimiter", ""),
        "encoding": spec.get("options", {}).get("encoding", ""),
        "use_advanced": "1",
        "advanced": json.dumps({"fields": spec["fields"]}),
        "action": "preview",
    }
    queued: list = []
    # the check is not sent to a broker here (a worker there would disturb the import timed next)
    with mock.patch.object(tasks.check_file, "apply_async", lambda args, **kw: queued.append(args)):
        page, page_statuses, _html = _timed(lambda: client.get(url))
        preview, preview_statuses, html = _timed(lambda: client.post(url, form, HTTP_HX_REQUEST="true"))
        run.refresh_from_db()
        poll_url = f"/sources/runs/{run.pk}/check/?job={run.check_job_id}"
        poll, poll_statuses, _html = _timed(lambda: client.get(poll_url))
    answered = page_statuses | preview_statuses | poll_statuses == {200} and 'id="preview-table"' in html
    started, cpu = time.perf_counter(), time.process_time()
    outcome = tasks.check_file.run(*queued[0]) if queued else "not queued"
    check_seconds = time.perf_counter() - started
    check_cpu = time.process_time() - cpu
    job = Job.objects.get(pk=run.check_job_id)
    result = job.result.get("check", {})
    run.delete()
    job.delete()
    return {
        "large_mapping_page_seconds": round(page, 3),
        "large_preview_seconds": round(preview, 3),
        "large_check_poll_seconds": round(poll, 3),
        "large_pages_answered": answered,
        "large_preview_checks_queued": len(queued),  # 1: the same mapping again reuses its check
        "large_check_outcome": outcome,
        "large_check_seconds": round(check_seconds, 2),
        "large_check_cpu_seconds": round(check_cpu, 2),
        "large_check_rows": result.get("rows", 0),
        "large_check_complete": result.get("complete", False),
        "large_check_refused": result.get("refused", 0),
        "large_check_load": round(os.getloadavg()[0], 2),
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


#: The sources the benchmarks create (``bench-api-1a2b3c``, ``bench-retail-...``, ``bench-large-...``).
BENCH_SOURCE = r"^bench-(api|retail|large)-[0-9a-f]{6}$"


def remove_bench_sources() -> dict[str, int]:
    """Remove the sources the benchmarks created, with the customers they created (and so those
    customers' events, identities and scores) and their import runs.

    The bulk API and CSV benchmarks create customers without a name: the newest customers, which
    an empty name sorts first. Left in the database, they made a later run's customer list walk
    26,955 of them to fill a page with a score filter (188 ms instead of about 110). A customer
    counts as the benchmark's when a benchmark source identified it and it was created after that
    source; the demo's customers are never among them.
    """
    from customer360.audit import history
    from customer360.models import Customer
    from customer360.sources.undo import customers_delete

    sources = list(DataSource.objects.filter(slug__regex=BENCH_SOURCE))
    removed = {"sources": len(sources), "customers": 0}
    for source in sources:
        ids = list(
            Customer.objects.filter(identities__source=source.slug, created_at__gte=source.created_at)
            .values_list("pk", flat=True)
            .distinct()
            .order_by("pk")
        )
        with history.paused():
            for start in range(0, len(ids), 2_000):
                with transaction.atomic():
                    customers_delete(ids[start : start + 2_000])
            source.delete()  # its import runs go with it
        removed["customers"] += len(ids)
    if removed["customers"]:
        from customer360.bulk import vacuum_analyze
        from customer360.models import CustomerIdentity

        vacuum_analyze(Customer, CustomerIdentity)
    return removed


def run_bench() -> dict:
    return {**bench_api(), **bench_api_without_receivers(), **bench_csv()}


# --- Identity across sources: matching and the duplicate scan -------------------------------------
def bench_duplicate_scan() -> dict:
    """A full duplicate scan (identifiers and names) over every customer of the database; the
    pairs it proposes are removed again, so the figure repeats."""
    from customer360.models import Customer
    from customer360.sources import duplicates
    from customer360.sources.models import DuplicateCandidate

    customers = Customer.objects.count()
    before = set(DuplicateCandidate.objects.values_list("pk", flat=True))
    started = time.perf_counter()
    proposed = duplicates.duplicates_find()
    seconds = time.perf_counter() - started
    DuplicateCandidate.objects.exclude(pk__in=before).delete()
    return {"dup_customers": customers, "dup_seconds": round(seconds, 1), "dup_proposed": proposed}


def _bench_customers(slug: str, start: int, count: int) -> None:
    """``count`` customers with an external id of ``slug`` and an e-mail each (no history)."""
    from customer360.audit import history
    from customer360.bulk import bulk_insert
    from customer360.models import CustomerIdentity
    from customer360.sources import identity

    with history.paused(), transaction.atomic():
        customers = [
            identity.new_customer(
                {"first_name": "Bench", "last_name": f"Match{i}", "postcode": f"{i % 9000 + 1000}"}
            )
            for i in range(start, start + count)
        ]
        identity._create_customers(customers)
        bulk_insert(
            (
                CustomerIdentity(customer_id=c.pk, kind=kind, source=source, value=value)
                for i, c in zip(range(start, start + count), customers, strict=True)
                for kind, source, value in (
                    ("external_id", slug, f"m{i}"),
                    ("email", "", f"match{i}@bench.example"),
                )
            ),
            ignore_conflicts=True,
        )


def bench_matching(*, existing: int = 1_000_000, incoming: int = 100_000, batch: int = 10_000) -> dict:
    """``incoming`` rows resolved against ``existing`` customers, in import-sized batches: half
    known by external id, a quarter by e-mail (another source, other spelling), a quarter new.
    Rolled back afterwards, so the figure repeats; the existing customers stay for the next time."""
    from customer360.models import CustomerIdentity
    from customer360.sources import identity

    slug = "bench-match"
    have = CustomerIdentity.objects.filter(kind="external_id", source=slug).count()
    setup_started = time.perf_counter()
    for start in range(have, existing, 50_000):
        _bench_customers(slug, start, min(50_000, existing - start))
    setup = time.perf_counter() - setup_started
    rng = random.Random(21)
    rows = []
    for n in range(incoming):
        i = rng.randrange(existing)
        if n % 4 in (0, 1):
            rows.append({"external_id": f"m{i}", "last_name": f"Match{i}"})
        elif n % 4 == 2:
            rows.append({"email": f"Match{i}@Bench.example".lower(), "external_id": f"other{n}"})
        else:
            rows.append({"external_id": f"new{n}", "email": f"new{n}@bench.example"})
    matched = created = 0
    started = time.perf_counter()
    with transaction.atomic():
        for first in range(0, incoming, batch):
            for customer_id, was_created in identity.resolve(rows[first : first + batch], source_slug=slug):
                created += was_created
                matched += bool(customer_id) and not was_created
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return {
        "match_existing": existing,
        "match_incoming": incoming,
        "match_seconds": round(seconds, 1),
        "match_matched": matched,
        "match_created": created,
        "match_setup_seconds": round(setup, 1),
    }
