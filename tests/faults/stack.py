"""A throwaway production-like stack for fault injection: its own PostgreSQL cluster and Redis
server on free loopback ports, gunicorn and Celery workers pointed at them.

Never the shared servers (5432/6379): everything here is started in a temporary directory, on
127.0.0.1 only, and stopped in ``finally`` blocks. PostgreSQL runs as the ``postgres`` OS user
(``initdb`` refuses root), with trust authentication on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 60, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


def _as_postgres(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        ["runuser", "-u", "postgres", "--", *args], check=check, capture_output=True, text=True, timeout=60
    )


def _stop_group(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Stack:
    """PostgreSQL + Redis of our own, and the environment of a production start against them."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="c360-faults-"))
        self.dir.chmod(0o777)
        self.pg_data = self.dir / "pg"
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None
        self.db_url = f"postgres://postgres@127.0.0.1:{self.pg_port}/c360"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "C360_", "CELERY_"))},
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "customer360.settings.base",
            "C360_ENV": "production",
            "DEBUG": "false",
            "SECRET_KEY": "fault-injection-" + "k" * 50,
            "DATABASE_URL": self.db_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "C360_TRUSTED_PROXY_COUNT": "0",
            "C360_VAR_DIR": str(self.dir / "var"),
            "STATIC_ROOT": str(self.dir / "static"),
            "C360_PENDING_CHANGES_INTERVAL": "2",
            "LOG_LEVEL": "WARNING",
        }

    # --- PostgreSQL -------------------------------------------------------------------------------
    def pg_init(self) -> None:
        _as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.pg_data), "-A", "trust", "-U", "postgres", "-E", "UTF8"
        )
        self.pg_start()
        _as_postgres(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "c360"
        )

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c max_connections=60"
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.pg_data),
            "-l",
            str(self.dir / "pg.log"),
            "-o",
            options,
            "-w",
            *args,
        )

    def pg_start(self) -> None:
        self._pg_ctl("start")

    def pg_stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def pg_restart(self) -> float:
        """A fast restart (sessions terminated, as in a real restart); returns its seconds."""
        started = time.monotonic()
        self._pg_ctl("restart", "-m", "fast")
        return time.monotonic() - started

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.db_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    # --- Redis ------------------------------------------------------------------------------------
    def redis_start(self) -> None:
        self.redis = subprocess.Popen(  # noqa: S603
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert wait_for(lambda: _listening(self.redis_port), timeout=10), "redis did not start"

    def redis_stop(self) -> None:
        if self.redis is not None:
            _stop_group(self.redis)
            self.redis = None

    # --- the application --------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def script(self, code: str, timeout: float = 300) -> dict:
        """Run ``code`` in a Django shell against the stack; it prints one JSON line last."""
        out = self.manage("shell", "-c", code, timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])

    @contextmanager
    def gunicorn(self, workers: int = 2):
        port = free_port()
        log = open(self.dir / f"gunicorn-{port}.log", "ab")  # noqa: SIM115 - closed below
        process = subprocess.Popen(  # noqa: S603
            [
                PYTHON,
                "-m",
                "gunicorn",
                "customer360.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(workers),
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert wait_for(lambda: _listening(port), timeout=60), self.log(f"gunicorn-{port}.log")
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop_group(process)
            log.close()

    def worker(self, name: str, *, beat: bool = False, concurrency: int = 1) -> subprocess.Popen:
        log = open(self.dir / f"worker-{name}.log", "ab")  # noqa: SIM115 - the process owns it
        args = [PYTHON, "-m", "celery", "-A", "customer360", "worker", "-Q", "default,ml"]
        args += [
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        args += ["--hostname", f"{name}@faults"]
        if beat:
            args += ["--beat", "--schedule", str(self.dir / f"beat-{name}")]
        return subprocess.Popen(  # noqa: S603
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @staticmethod
    def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
        _stop_group(process, sig)

    def log(self, name: str) -> str:
        path = self.dir / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        self.redis_stop()
        if (self.pg_data / "postmaster.pid").exists():
            _as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.pg_data), "stop", "-m", "immediate", check=False
            )
        shutil.rmtree(self.dir, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def available() -> str | None:
    """Why the stack cannot run here, or None."""
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return "needs root (to run PostgreSQL as the postgres user)"
    if not (PG_BIN / "initdb").exists() or not shutil.which("redis-server"):
        return "needs PostgreSQL 15 binaries and redis-server"
    return None


@pytest.fixture(scope="session")
def stack():
    reason = available()
    if reason:
        pytest.skip(reason)
    stack = Stack()
    try:
        stack.pg_init()
        stack.redis_start()
        stack.manage("migrate", "--noinput")
        stack.manage("collectstatic", "--noinput")
        yield stack
    finally:
        stack.close()
