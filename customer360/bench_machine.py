"""What machine a ``manage.py bench`` run measured, and how fast it was while it ran.

The same code gave a 360 page p95 of 61 ms on one 2-core machine and 147 ms on another, and the
same "AMD EPYC" ran one fixed Python loop in 0.56 s at one moment and 1.31 s an hour later (a shared
host). A figure means little without the machine it came from, so every run prints the CPU and
a speed check before the benchmarks and after them: fixed work in Python and in PostgreSQL, the
best of three, so that two runs' figures can be compared knowing how fast each machine was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connection

#: The fixed work: a loop of this many multiply-adds in Python, and the database counting up to this
#: number and summing (a recursive query: SQLite has no generate_series).
PYTHON_STEPS = 3_000_000
DATABASE_ROWS = 1_000_000


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's name with its family and model numbers where Linux gives them
    (``Intel Xeon @ 2.80GHz, family 6 model 106``); ``unknown`` elsewhere."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            if fields:  # the first processor is enough
                break
            continue
        fields.setdefault(name.strip(), value.strip())
    name = " ".join(fields.get("model name", "").split()) or "unknown"
    if fields.get("cpu family") and fields.get("model"):
        return f"{name}, family {fields['cpu family']} model {fields['model']}"
    return name


def description() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu_model()}, {os.cpu_count()} cores, {memory:.1f} GiB"


def _python_work() -> float:
    started = time.perf_counter()
    total = 0
    for step in range(PYTHON_STEPS):
        total += step * step
    return time.perf_counter() - started


def _database_work() -> float:
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) SELECT sum(n) FROM g",
            [DATABASE_ROWS],
        )
        cursor.fetchone()
        return time.perf_counter() - started


def speed(rounds: int = 3) -> dict[str, float]:
    """Seconds for the fixed work in Python and in the database, the best of ``rounds``."""
    return {
        "python": min(_python_work() for _ in range(rounds)),
        "database": min(_database_work() for _ in range(rounds)),
    }


def speed_line(when: str, seconds: dict[str, float]) -> str:
    return (
        f"machine speed {when:<6} Python {seconds['python']:.2f} s, database {seconds['database']:.2f} s "
        "for the fixed work (best of 3; lower is faster)"
    )
