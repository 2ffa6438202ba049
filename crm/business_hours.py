"""Business-hours arithmetic for SLA due times: pure functions, no database.

A calendar is the weekly working hours in one time zone, the public holidays of a country and
state (from the ``holidays`` library) and the company's own closing days (whole days, or half
days that close early, such as 24 and 31 December in many Austrian and German companies).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

# A hard stop against a mis-configured calendar (every day closed): ten years of days.
MAX_DAYS = 3700


@dataclass(frozen=True, eq=False)
class Hours:
    """Working hours: the same start/end on every working weekday (0 = Monday) in one time zone,
    minus the public holidays of ``country``/``subdivision`` (no country: no holidays) and minus
    ``closing_days`` (date -> None for a whole day, or the time the office closes that day)."""

    start: time = time(8, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    tz: str = "Europe/Vienna"
    country: str = ""
    subdivision: str = ""
    categories: tuple[str, ...] = ("public",)
    closing_days: Mapping[date, time | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        if not self.weekdays:
            raise ValueError("at least one working weekday is required")
        if self.country:
            self.public_holidays  # noqa: B018 - fail early on an unknown country, state or category

    @cached_property
    def public_holidays(self) -> holidays.HolidayBase | dict:
        """The holidays library's calendar (years filled in on demand), or no holidays."""
        if not self.country:
            return {}
        try:
            return holidays.country_holidays(
                self.country, subdiv=self.subdivision or None, categories=self.categories
            )
        except NotImplementedError as exc:  # the library's error for an unknown country/state
            raise ValueError(str(exc)) from exc

    def holiday_name(self, day: date) -> str:
        """The public holiday's name on ``day`` ("" on an ordinary day)."""
        return self.public_holidays.get(day, "") if self.country else ""

    def opening(self, day: date) -> tuple[datetime, datetime] | None:
        """Naive local (opens, closes) of ``day``, or None when the office is closed all day."""
        if day.weekday() not in self.weekdays or day in self.public_holidays:
            return None
        closes = self.end
        if day in self.closing_days:
            early = self.closing_days[day]
            if early is None or early <= self.start:
                return None
            closes = min(early, self.end)
        return datetime.combine(day, self.start), datetime.combine(day, closes)

    def windows_from(self, local: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Naive local working windows (begin, end) from ``local`` on, day by day."""
        day = local.date()
        for _ in range(MAX_DAYS):
            span = self.opening(day)
            if span is not None and local < span[1]:
                yield max(local, span[0]), span[1]
            day += timedelta(days=1)
        raise ValueError("could not place the time within ten years")


def _local(moment: datetime, hours: Hours) -> tuple[datetime, ZoneInfo]:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    zone = ZoneInfo(hours.tz)
    return moment.astimezone(zone).replace(tzinfo=None), zone


def add_business_minutes(start: datetime, minutes: int, hours: Hours | None = None) -> datetime:
    """The moment ``minutes`` working minutes after ``start``, counted only inside ``hours``.

    A start outside working time counts from the next opening. The result is an aware datetime
    in the hours' time zone (``start`` must be aware). ``minutes`` <= 0 returns the next opening.
    """
    hours = hours or Hours()
    # Wall-clock arithmetic per day, so days with a DST switch still open at the configured time.
    cursor, zone = _local(start, hours)
    remaining = timedelta(minutes=max(int(minutes), 0))
    for begin, end in hours.windows_from(cursor):
        if remaining <= end - begin:
            return (begin + remaining).replace(tzinfo=zone)
        remaining -= end - begin
    raise AssertionError("unreachable")  # pragma: no cover - windows_from raises first


def business_minutes_between(start: datetime, end: datetime, hours: Hours | None = None) -> int:
    """Whole working minutes from ``start`` to ``end`` inside ``hours`` (0 when end <= start)."""
    hours = hours or Hours()
    if end <= start:
        return 0
    cursor, _ = _local(start, hours)
    stop, _ = _local(end, hours)
    total = timedelta(0)
    for begin, close in hours.windows_from(cursor):
        if begin >= stop:
            break
        total += min(close, stop) - begin
    return int(total.total_seconds() // 60)
