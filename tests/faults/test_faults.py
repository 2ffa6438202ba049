"""Fault injection on the real services (issue #15, Build 5): SIGKILL a Celery worker during a full
rescoring, restart PostgreSQL under page load and while the bulk API is fed, stop Redis while users
work. Each test prints what it killed and what it counted.

Everything runs against the throwaway stack of ``stack.py`` (own PostgreSQL and Redis on free
loopback ports, gunicorn and workers in production mode), never the shared servers.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import pytest
import requests

from tests.faults.stack import wait_for
from tests.faults.world import world_code

pytestmark = pytest.mark.slow
CUSTOMERS = 1200


@pytest.fixture(scope="module")
def world(stack):
    return stack.script(world_code(CUSTOMERS))


def _session(base: str, world: dict) -> requests.Session:
    """A signed-in browser: the session cookie sent by hand (it is Secure, we talk plain HTTP on
    loopback), HTTPS as a TLS proxy would announce it."""
    http = requests.Session()
    http.headers.update({"Cookie": f"sessionid={world['session']}", "X-Forwarded-Proto": "https"})
    return http


def _api(world: dict) -> dict:
    return {"Authorization": f"Bearer {world['token']}", "X-Forwarded-Proto": "https"}


def _pages(world: dict) -> list[str]:
    first = world["customers"][0]
    return ["/customers/", f"/customers/{first}/", "/api/customers/?page_size=5", "/insights/"]


def _get(http: requests.Session, url: str) -> requests.Response | None:
    try:
        return http.get(url, timeout=30, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout):
        return None


def _warm_up(base: str, world: dict) -> None:
    """Each gunicorn worker loads its views on the first requests: not part of what is measured."""
    http = _session(base, world)
    for _round in range(2):
        for page in _pages(world):
            http.get(base + page, timeout=120, allow_redirects=False)


def test_sigkill_worker_during_full_rescoring(stack, world):
    """Kill -9 the whole worker (pool and parent) mid-run; a new worker finishes it."""
    short = {
        # Shortened for the test only, keeping the rule (visibility timeout > every time limit), so
        # the task of the dead worker comes back within seconds instead of the production 30 minutes.
        "CELERY_TASK_SOFT_TIME_LIMIT": "8",
        "CELERY_TASK_TIME_LIMIT": "10",
        "C360_LONG_TASK_SOFT_TIME_LIMIT": "8",
        "C360_LONG_TASK_TIME_LIMIT": "10",
        "CELERY_VISIBILITY_TIMEOUT": "12",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    saved = dict(stack.env)
    stack.env.update(short)
    first = second = None
    try:
        first = stack.worker("rescore-1")
        started = stack.script(
            "import json\nfrom insights.services import scoring_run_start\n"
            "run = scoring_run_start(chunk_size=100)\n"
            "print(json.dumps({'run': run.pk, 'job': run.job_id}))"
        )
        run, job = started["run"], started["job"]

        def done():
            return stack.sql("SELECT count(*) FROM insights_scoringchunk WHERE run_id=%s AND done", (run,))[
                0
            ][0]  # noqa: E731

        assert wait_for(lambda: done() >= 3, timeout=90), stack.log("worker-rescore-1.log")
        chunks_before = done()
        stack.stop(first, signal.SIGKILL)
        print(
            f"\nKILLED worker rescore-1 (SIGKILL to pid group {first.pid}) after {chunks_before} of {CUSTOMERS // 100} chunks"
        )
        second = stack.worker("rescore-2")
        finished = wait_for(
            lambda: stack.sql("SELECT status FROM customer360_job WHERE id=%s", (job,))[0][0] == "done",
            timeout=120,
        )
        assert finished, stack.log("worker-rescore-2.log")
    finally:
        stack.env.clear()
        stack.env.update(saved)
        for worker in (first, second):
            if worker is not None:
                stack.stop(worker)
    total, progress = stack.sql("SELECT total, done FROM customer360_job WHERE id=%s", (job,))[0]
    scored = stack.sql("SELECT count(*) FROM insights_customerscore WHERE run_id=%s", (run,))[0][0]
    customers = stack.sql("SELECT count(*) FROM customer360_customer")[0][0]
    doubled = stack.sql(
        "SELECT count(*) FROM (SELECT customer_id, action_id FROM insights_recommendation "
        "WHERE status='open' GROUP BY 1, 2 HAVING count(*) > 1) d"
    )[0][0]
    open_recs = stack.sql("SELECT count(*) FROM insights_recommendation WHERE status='open'")[0][0]
    print(
        f"COUNTED customers={customers} scored_by_run={scored} job_progress={progress}/{total} "
        f"open_recommendations={open_recs} doubled_open={doubled}"
    )
    assert scored == customers == total
    assert progress == total  # a chunk scored twice would count twice
    assert doubled == 0


class _Load(threading.Thread):
    """GETs pages in a loop and counts the answers until stopped."""

    def __init__(self, base: str, world: dict) -> None:
        super().__init__(daemon=True)
        self.http, self.urls = _session(base, world), [base + p for p in _pages(world)]
        self.statuses: Counter = Counter()
        self.missing_retry_after = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for url in self.urls:
                response = _get(self.http, url)
                code = response.status_code if response is not None else "refused"
                self.statuses[code] += 1
                if code == 503 and not response.headers.get("Retry-After"):
                    self.missing_retry_after += 1


def test_postgres_restart_under_page_load_answers_503_never_500(stack, world):
    with stack.gunicorn() as base:
        _warm_up(base, world)
        load = _Load(base, world)
        load.start()
        time.sleep(2)
        seconds = stack.pg_restart()
        time.sleep(3)
        load.halt.set()
        load.join(timeout=30)
        after = _get(_session(base, world), base + "/customers/")
    print(
        f"\nKILLED PostgreSQL (fast restart, {seconds:.1f} s) under page load; COUNTED answers {dict(load.statuses)}"
    )
    assert sum(load.statuses.values()) > 20
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert load.missing_retry_after == 0
    assert after is not None and after.status_code == 200


def _feed(base: str, world: dict, batches: int, size: int, stats: Counter) -> None:
    """The bulk API client: each batch until it is accepted, waiting Retry-After on a 503."""
    url = f"{base}/api/sources/{world['source']}/records"
    headers = {"Authorization": f"Bearer {world['source_token']}", "X-Forwarded-Proto": "https"}
    customers = world["customers"]
    for number in range(batches):
        records = [
            {
                "event_id": f"fault-{number}-{i}",
                "external_id": f"faultc{i % 50}",
                "kind": "order.placed",
                "occurred_at": "2025-03-01T10:00:00+01:00",
                "payload": {"amount": 12.5, "n": customers[i % len(customers)]},
            }
            for i in range(size)
        ]
        while True:
            try:
                response = requests.post(url, json={"records": records}, headers=headers, timeout=30)
            except requests.ConnectionError:
                stats["refused"] += 1
                time.sleep(0.5)
                continue
            stats[response.status_code] += 1
            if response.status_code == 200:
                break
            if response.status_code == 503:
                stats["retry_after_missing"] += 0 if response.headers.get("Retry-After") else 1
                time.sleep(min(float(response.headers.get("Retry-After", 1)), 1.0))
                continue
            raise AssertionError(f"bulk API answered {response.status_code}: {response.text[:300]}")


def test_postgres_restart_while_the_bulk_api_is_fed(stack, world):
    batches, size = 30, 500
    stats: Counter = Counter()
    with stack.gunicorn() as base:
        client = threading.Thread(target=_feed, args=(base, world, batches, size, stats), daemon=True)
        client.start()
        assert wait_for(lambda: stats[200] >= 5, timeout=60)
        seconds = stack.pg_restart()
        client.join(timeout=180)
        assert not client.is_alive()
    stored, distinct = stack.sql(
        "SELECT count(*), count(DISTINCT e.idempotency_key) FROM customer360_timelineevent e "
        "WHERE e.idempotency_key LIKE %s",
        ("%fault-%",),
    )[0]
    print(
        f"\nKILLED PostgreSQL (fast restart, {seconds:.1f} s) while feeding {batches} x {size} records; "
        f"COUNTED answers {dict(stats)}, events stored {stored}, distinct {distinct}"
    )
    assert stats["retry_after_missing"] == 0
    assert set(stats) <= {200, 503, "refused", "retry_after_missing"}
    assert stored == distinct == batches * size


def test_redis_stopped_while_users_work(stack, world):
    """Redis down for 20 s (the issue says a minute; 20 s keeps CI short and shows the same)."""
    outage_seconds = 20
    pages: Counter = Counter()
    health: Counter = Counter()
    calls: dict[int, float] = {}
    worker = stack.worker("redis", beat=True)
    try:
        with stack.gunicorn() as base:
            _warm_up(base, world)
            http = _session(base, world)
            urls = [base + p for p in _pages(world)]
            stack.redis_stop()
            began = time.monotonic()
            customers = iter(world["customers"][100:])
            while time.monotonic() - began < outage_seconds:
                for url in urls:
                    response = _get(http, url)
                    pages[response.status_code if response is not None else "refused"] += 1
                answer = requests.get(base + "/health/?format=json", timeout=15)
                health[(answer.status_code, "Redis unreachable" in answer.text)] += 1
                customer = next(customers)
                logged = requests.post(
                    f"{base}/api/crm/activities/",
                    json={"customer": customer, "kind": "call", "subject": "Call during the outage"},
                    headers=_api(world),
                    timeout=15,
                )
                pages[f"call {logged.status_code}"] += 1
                if logged.status_code == 201:
                    calls[customer] = time.time()
            stack.redis_start()
            print(
                f"\nKILLED Redis for {outage_seconds} s; COUNTED pages {dict(pages)}, health {dict(health)}"
            )
            saved = stack.sql(
                "SELECT count(*) FROM crm_activity WHERE subject='Call during the outage' AND customer_id = ANY(%s)",
                (list(calls),),
            )[0][0]

            def rescored() -> int:
                return stack.sql(
                    "SELECT count(*) FROM insights_customerscore s JOIN crm_activity a ON a.customer_id = s.customer_id "
                    "WHERE a.subject='Call during the outage' AND s.scored_at > a.created_at",
                )[0][0]

            wait_for(lambda: rescored() >= len(calls), timeout=90)
            count = rescored()
            print(f"COUNTED calls logged {len(calls)}, saved {saved}, rescored after Redis returned {count}")
    finally:
        stack.stop(worker)
        if stack.redis is None:
            stack.redis_start()
    assert calls and saved == len(calls)
    assert all(isinstance(code, int) and code < 500 for code in pages if not str(code).startswith("call"))
    assert {k for k in pages if str(k).startswith("call")} == {"call 201"}
    assert health and set(health) == {(503, True)}
    assert count == len(calls), stack.log("worker-redis.log")
