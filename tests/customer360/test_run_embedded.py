"""`make run` as a user meets it: `manage.py run_embedded` on a fresh var directory (SQLite, the
file-system broker) serves with gunicorn, DEBUG off, the app's 404 page and a favicon."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback only)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_run_embedded_serves_like_production(tmp_path):
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    }
    env.update(C360_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "run_embedded", "--addr", f"127.0.0.1:{port}", "--customers", "20"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    pytest.fail(f"run_embedded stopped: {log.read_text()[-2000:]}")
                try:
                    if _get(f"http://127.0.0.1:{port}/health/")[0] in (200, 503):
                        break
                except OSError:
                    pass
                time.sleep(1)
            else:
                pytest.fail(f"run_embedded did not answer in time: {log.read_text()[-2000:]}")
            status, html = _get(f"http://127.0.0.1:{port}/nonexistent/")
            # Not signed in: the sign-in page; the 404 page itself is checked with a login in
            # test_error_pages. Here: no debug page, whatever the path.
            assert "URLconf" not in html and "DEBUG = True" not in html
            assert _get(f"http://127.0.0.1:{port}/static/c360/favicon.svg")[0] == 200
            status, page = _get(f"http://127.0.0.1:{port}/accounts/login/")
            assert status == 200 and "c360/app.css" in page
            assert _get(f"http://127.0.0.1:{port}/static/c360/app.css")[0] == 200
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()
    assert "development server" not in output.lower()
    assert "Customer 360 runs at" in output and "Log in as one of" in output
