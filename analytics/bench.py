"""Dashboard server times for ``manage.py bench`` (target: p95 <= 500 ms at 100k customers)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from analytics import services
from analytics.dashboards import dashboards
from customer360.bench import BenchContext, benchmarks, format_timing, time_requests

PERIODS = ["30d", "90d", "12m", "ytd"]
TARGET_MS = 500


@benchmarks.register("analytics.dashboards", order=70)
def bench_dashboards(ctx: BenchContext) -> list[str]:
    """Each dashboard and the listening page as the demo manager, over several periods and filters."""
    manager = get_user_model().objects.filter(username="manager").first()
    if manager is None:
        return ["analytics.dashboards: no demo user 'manager' (run seed_demo first)"]
    client = Client(HTTP_HOST="localhost")
    client.force_login(manager)
    lines = []
    started = time.perf_counter()
    written = services.rollups_refresh()
    lines.append(
        f"{'roll-up refresh (incremental)':<34} {(time.perf_counter() - started) * 1000:7.1f} ms, rows {sum(written.values())}"
    )
    # Four custom periods (no snapshot answers them): the last half year up to a month ago, twelve
    # months up to a month ago (neither starts on the first of a month), a whole calendar year back,
    # and everything since the first of last year (more than a year: the bench's customers have three
    # revenue days or more in it).
    today = timezone.localdate()
    custom_periods = [
        f"period=custom&start={today - timedelta(days=212)}&end={today - timedelta(days=30)}",
        f"period=custom&start={today - timedelta(days=394)}&end={today - timedelta(days=30)}",
        f"period=custom&start={today.year - 1}-01-01&end={today.year - 1}-12-31",
        f"period=custom&start={today.year - 1}-01-01&end={today}",
    ]
    for board in dashboards.all():
        urls = [f"/dashboards/{board.key}/?period={p}" for p in PERIODS for _ in range(3)]
        urls += [
            f"/dashboards/{board.key}/?period=12m&country=AT",
            f"/dashboards/{board.key}/?period=12m&segment=SME",
            *(f"/dashboards/{board.key}/?{custom}" for custom in custom_periods),
        ]
        lines.append(format_timing(f"dashboard {board.key}", time_requests(client, urls), TARGET_MS))
    lines.append(
        format_timing("listening page", time_requests(client, ["/dashboards/listening/"] * 10), TARGET_MS)
    )
    return lines
