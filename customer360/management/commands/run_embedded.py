"""``manage.py run_embedded``: the whole app on one machine with no services.

Migrates, seeds demo data on first start, then runs the web server (gunicorn, the production WSGI
server, with DEBUG off unless DEBUG=true is set) and a real Celery worker (with beat) on the
file-system broker. Ctrl-C stops all of them.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from customer360.demo import DEMO_PASSWORD, DEMO_USERS


def _stop(signum, frame):
    raise KeyboardInterrupt


def _web_command(addr: str) -> list[str]:
    """gunicorn, as in production; the access log shows the path without its query (no search terms)."""
    return [
        sys.executable, "-m", "gunicorn", "customer360.wsgi", "--bind", addr, "--workers", "2", "--threads", "4",
        "--access-logfile", "-", "--access-logformat", '%(t)s "%(m)s %(U)s" %(s)s %(M)sms',
    ]  # fmt: skip


def _worker_command(beat_schedule: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "customer360", "worker", "--beat", "--schedule", beat_schedule,
        "--loglevel", "WARNING", "--concurrency", "2", "-Q", "default,ml", "--hostname", "embedded@%h",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Run web server, Celery worker and beat on embedded defaults (SQLite, file-system broker)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--customers", type=int, default=300)

    def handle(self, *args, addr, customers, **options):
        # A SIGTERM (e.g. from a process manager) stops the children like Ctrl-C does.
        signal.signal(signal.SIGTERM, _stop)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", customers=customers, if_empty=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes = [
            subprocess.Popen(_web_command(addr), env=env),  # noqa: S603
            subprocess.Popen(_worker_command(str(settings.VAR_DIR / "celerybeat-schedule")), env=env),  # noqa: S603
        ]
        self.stdout.write(self.style.SUCCESS(f"\nCustomer 360 runs at http://{addr}/"))
        self.stdout.write(
            f"Log in as one of {', '.join(u[0] for u in DEMO_USERS)} with password '{DEMO_PASSWORD}'"
        )
        self.stdout.write("(e.g. rep / demo). Health: /health/. Press Ctrl-C to stop.\n")
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
