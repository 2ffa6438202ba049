"""Business-hours arithmetic for SLA due times: a pure function, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Hours:
    """Working hours: the same start/end on every working weekday (0 = Monday) in one time zone."""

    start: time = time(8, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    tz: str = "Europe/Vienna"

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        if not self.weekdays:
            raise ValueError("at least one working weekday is required")


def add_business_minutes(start: datetime, minutes: int, hours: Hours | None = None) -> datetime:
    """The moment ``minutes`` working minutes after ``start``, counted only inside ``hours``.

    A start outside working time counts from the next opening. The result is an aware datetime
    in the hours' time zone (``start`` must be aware). ``minutes`` <= 0 returns the next opening.
    """
    hours = hours or Hours()
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    zone = ZoneInfo(hours.tz)
    local = start.astimezone(zone)
    remaining = timedelta(minutes=max(int(minutes), 0))
    # Wall-clock arithmetic per day, so days with a DST switch still open at the configured time.
    day = local.date()
    cursor = local.replace(tzinfo=None)
    for _ in range(3700):  # 10 years of days is a hard stop against a mis-configured calendar
        opens = datetime.combine(day, hours.start)
        closes = datetime.combine(day, hours.end)
        if day.weekday() in hours.weekdays and cursor < closes:
            begin = max(cursor, opens)
            available = closes - begin
            if remaining <= available:
                if remaining == timedelta(0):
                    return begin.replace(tzinfo=zone)
                return (begin + remaining).replace(tzinfo=zone)
            remaining -= available
        day += timedelta(days=1)
        cursor = datetime.combine(day, time.min)
    raise ValueError("could not place the due time within ten years")
