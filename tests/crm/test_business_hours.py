"""add_business_minutes: weekends, evenings, exact boundaries, and properties."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.business_hours import Hours, add_business_minutes

VIENNA = ZoneInfo("Europe/Vienna")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=VIENNA)


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (at(2026, 3, 6, 16, 0), 240, at(2026, 3, 9, 11, 0)),  # Friday 16:00 + 4h -> Monday 11:00
        (at(2026, 3, 2, 18, 30), 60, at(2026, 3, 3, 9, 0)),  # Monday evening -> Tuesday 09:00
        (at(2026, 3, 7, 10, 0), 30, at(2026, 3, 9, 8, 30)),  # Saturday -> Monday
        (at(2026, 3, 2, 6, 0), 60, at(2026, 3, 2, 9, 0)),  # before opening
        (at(2026, 3, 2, 8, 0), 540, at(2026, 3, 2, 17, 0)),  # exactly one business day
        (at(2026, 3, 2, 8, 0), 541, at(2026, 3, 3, 8, 1)),
        (at(2026, 3, 6, 16, 0), 1440, at(2026, 3, 11, 13, 0)),  # Fri 1h + Mon 9h + Tue 9h + Wed 5h
        (at(2026, 3, 27, 16, 0), 120, at(2026, 3, 30, 9, 0)),  # across the DST switch (29 March)
    ],
)
def test_add_business_minutes(start, minutes, expected):
    assert add_business_minutes(start, minutes, Hours()) == expected


def test_utc_input_is_converted_to_the_business_time_zone():
    start = datetime(2026, 3, 6, 15, 0, tzinfo=ZoneInfo("UTC"))  # 16:00 in Vienna
    assert add_business_minutes(start, 240) == at(2026, 3, 9, 11, 0)


def test_custom_hours_and_validation():
    saturday_shop = Hours(start=time(9), end=time(13), weekdays=frozenset({5}))
    assert add_business_minutes(at(2026, 3, 2, 10), 300, saturday_shop) == at(2026, 3, 14, 10, 0)
    with pytest.raises(ValueError):
        Hours(start=time(17), end=time(8))
    with pytest.raises(ValueError):
        add_business_minutes(datetime(2026, 3, 2, 10), 10)


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
    minutes=st.integers(min_value=1, max_value=20000),
)
def test_result_lies_within_hours_and_grows_with_minutes(start, minutes):
    start = start.replace(second=0, microsecond=0, tzinfo=VIENNA)
    due = add_business_minutes(start, minutes)
    assert due > start
    assert due.weekday() < 5
    assert time(8, 0) < due.time() <= time(17, 0)
    assert add_business_minutes(start, minutes + 1) == due + timedelta(minutes=1) or due.time() == time(17, 0)
