"""A 60 MB webhook body against a real gunicorn: 413 before the body is read, memory stays flat.

The server is the production one (gunicorn, one sync worker) in embedded mode; the refusal needs no
database (it comes before the source is looked up). The client streams the body the way a sender
would and stops once the answer arrives; the worker's resident memory is read from /proc.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SIXTY_MB = 60 * 1024 * 1024
LIMIT = 10 * 1024 * 1024

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc (Linux)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_kb(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        key: int(value.split()[0])
        for key, _, value in (line.partition(":") for line in lines)
        if key in {"VmRSS", "VmHWM"}
    }


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn on 127.0.0.1 with one sync worker; yields (port, worker pid)."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="customer360.settings.base",
        C360_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        C360_WEBHOOK_MAX_BYTES=str(LIMIT),
        PYTHONUNBUFFERED="1",
    )
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "customer360.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            workers = _children(server.pid)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.2)
                continue
            if workers:
                break
        assert workers, "gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()
        yield port, workers[0]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _post_streaming(port: int, size: int, *, chunked: bool = False) -> tuple[int, dict, int]:
    """POST ``size`` bytes in 64 KiB pieces (with Content-Length, or chunked without it), stopping
    when the server answers.

    Returns the status, the JSON body and how many body bytes were sent.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    timestamp = str(int(time.time()))
    sock.sendall(
        (
            "POST /api/sources/newsletter/webhook HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n")
            + f"X-C360-Timestamp: {timestamp}\r\n"
            f"X-C360-Signature: {'0' * 64}\r\n"
            "\r\n"
        ).encode()
    )
    piece = b"[" + b" " * 65535
    if chunked:
        piece = b"10000\r\n" + piece + b"\r\n"  # one 64 KiB chunk, again and again
    sent, answer = 0, b""
    sock.setblocking(False)
    deadline = time.monotonic() + 60
    while not answer and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < size else [], [], 1)
        if readable:
            answer = sock.recv(65536)
        elif writable:
            try:
                sent += sock.send(piece[: size - sent])
            except (BrokenPipeError, ConnectionResetError):
                break
    sock.setblocking(True)
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass  # the server closed without reading the rest: that is the point
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body), sent


def test_a_60_mb_body_is_refused_with_413_and_the_server_memory_stays_flat(gunicorn):
    port, worker = gunicorn
    # Warm up: the worker imports the URLconf and views on its first request.
    assert _post_streaming(port, LIMIT + 1)[0] == 413
    before = _memory_kb(worker)
    try:
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM starts again from the current RSS
        baseline = before["VmRSS"]
    except OSError:
        baseline = before["VmHWM"]  # the peak of the warm-up; growth past it still shows
    status, body, sent = _post_streaming(port, SIXTY_MB)
    after = _memory_kb(worker)
    assert status == 413
    assert body == {"detail": f"The request body is {SIXTY_MB} bytes; the limit is {LIMIT} bytes."}
    assert sent < SIXTY_MB  # the server stopped taking it
    growth_mb = (after["VmHWM"] - baseline) / 1024
    assert growth_mb < 8, f"worker peak memory grew by {growth_mb:.1f} MB for a refused 60 MB body"


def test_a_chunked_60_mb_body_without_length_is_refused_unread(gunicorn):
    port, worker = gunicorn
    assert _post_streaming(port, LIMIT, chunked=True)[0] == 411  # warm-up
    before = _memory_kb(worker)
    status, body, sent = _post_streaming(port, SIXTY_MB, chunked=True)
    after = _memory_kb(worker)
    assert (status, body) == (411, {"detail": "Send the body with a Content-Length header."})
    assert sent < SIXTY_MB
    assert (after["VmRSS"] - before["VmRSS"]) / 1024 < 8
