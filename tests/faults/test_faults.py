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
        return http.get(url, timeout=15, allow_redirects=False)
    except requests.ConnectionError:
        return None


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
        done = lambda: stack.sql("SELECT count(*) FROM insights_scoringchunk WHERE run_id=%s AND done", (run,))[0][0]  # noqa: E731
        assert wait_for(lambda: done() >= 3, timeout=90), stack.log("worker-rescore-1.log")
        chunks_before = done()
        stack.stop(first, signal.SIGKILL)
        print(f"\nKILLED worker rescore-1 (SIGKILL to pid group {first.pid}) after {chunks_before} of {CUSTOMERS // 100} chunks")
        second = stack.worker("rescore-2")
        finished = wait_for(
            lambda: stack.sql("SELECT status FROM customer360_job WHERE id=%s", (job,))[0][0] == "done", timeout=120
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
