"""Start a real Celery worker process against the test database (for integration tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A URL for the database the test run uses, so a worker process writes where the test reads."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "a worker process needs a database it can share (PostgreSQL); the SQLite test DB is in memory"
        )
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker_env(broker_url: str, var_dir: Path, **extra: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=test_database_url(),
        CELERY_BROKER_URL=broker_url,
        C360_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="customer360.settings.base",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    if broker_url.startswith("redis"):
        env["REDIS_URL"] = broker_url
    return env


@contextmanager
def celery_worker(env: dict, queue: str, *, concurrency: int = 1, log: Path | None = None):
    """A worker process consuming ``queue``; stopped (or killed) when the block ends."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "customer360",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if log:
            out.close()


def wait_for(predicate, timeout: float = 60, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()
