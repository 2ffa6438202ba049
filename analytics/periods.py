"""The calendar of the dashboards: month arithmetic and the preset periods ("Last 30 days" ...),
below the dashboards so that the roll-ups that precompute a preset period share its definition."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

#: The preset periods (the filter bar's choices besides "custom").
PRESETS = ("30d", "90d", "12m", "ytd")


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def months_between(start: date, end: date) -> list[date]:
    """First days of the months from ``start``'s to ``end``'s, inclusive."""
    months, current = [], month_start(start)
    while current <= end:
        months.append(current)
        current = add_months(current, 1)
    return months


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """The one definition of the preset periods, inclusive local dates ending today. "Last 12 months"
    is the 12 months ending today (on 2 Dec 2026: 3 Dec 2025 - 2 Dec 2026; on 29 Feb 2024:
    1 Mar 2023 - 29 Feb 2024), not the calendar year (that is "Year to date")."""
    if period == "30d":
        return today - timedelta(days=29), today
    if period == "90d":
        return today - timedelta(days=89), today
    if period == "ytd":
        return date(today.year, 1, 1), today
    return add_months(today, -12) + timedelta(days=1), today
