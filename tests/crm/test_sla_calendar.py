"""Business calendars: public holidays per country and state, the admin's closing days.

The calendar of a company in Vienna is AT-9 (Austria, state 9 = Vienna), one in Munich DE-BY. 24 and
31 December are NOT public holidays in Austria or Germany: the office works unless the admin
enters them as closing days (whole or half days).
"""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.business_hours import Hours, add_business_minutes, business_minutes_between

VIENNA_TZ = ZoneInfo("Europe/Vienna")
BERLIN_TZ = ZoneInfo("Europe/Berlin")


def at(*args, tz=VIENNA_TZ) -> datetime:
    return datetime(*args, tzinfo=tz)


def vienna(**kwargs) -> Hours:
    return Hours(country="AT", subdivision="9", **kwargs)


def bavaria(**kwargs) -> Hours:
    return Hours(country="DE", subdivision="BY", tz="Europe/Berlin", **kwargs)


def test_24_december_is_a_working_day_but_christmas_and_stephens_day_are_not():
    # Thu 24 Dec 2026 16:00 + 8 h: 1 h on the 24th, Fri 25 and Sat 26 are holidays, Sun 27 is a
    # weekend, so 7 h on Monday 28 Dec. Without the calendar it was "due 25 Dec 15:00".
    assert add_business_minutes(at(2026, 12, 24, 16), 480, Hours()) == at(2026, 12, 25, 15)
    assert add_business_minutes(at(2026, 12, 24, 16), 480, vienna()) == at(2026, 12, 28, 15)
    assert add_business_minutes(at(2026, 12, 24, 16), 480, bavaria()) == at(2026, 12, 28, 15, tz=BERLIN_TZ)


def test_24_december_as_the_admins_closing_day_whole_or_half_day():
    closed = vienna(closing_days={date(2026, 12, 24): None})
    assert add_business_minutes(at(2026, 12, 24, 16), 480, closed) == at(2026, 12, 28, 16)
    half_day = vienna(closing_days={date(2026, 12, 24): time(12, 0)})
    # 10:00 on a half day until 12:00: 2 h on the 24th, 6 h on Monday 28 Dec.
    assert add_business_minutes(at(2026, 12, 24, 10), 480, half_day) == at(2026, 12, 28, 14)
    # After the early closing the clock waits for the next working day.
    assert add_business_minutes(at(2026, 12, 24, 16), 480, half_day) == at(2026, 12, 28, 16)
    # 31 December (Thu) closed, 1 January (Fri) a public holiday: Monday 4 January 2027.
    new_year = vienna(closing_days={date(2026, 12, 31): None})
    assert add_business_minutes(at(2026, 12, 30, 16), 120, new_year) == at(2027, 1, 4, 9)


def test_good_friday_is_a_holiday_in_bavaria_but_a_working_day_in_vienna():
    # Good Friday 3 April 2026 16:00 + 2 h. Easter Monday (6 April) is a holiday in both.
    # Bavaria: closed Friday and Monday, so Tuesday 10:00.
    assert add_business_minutes(at(2026, 4, 3, 16, tz=BERLIN_TZ), 120, bavaria()) == at(
        2026, 4, 7, 10, tz=BERLIN_TZ
    )
    # Vienna: Good Friday is a working day (1 h), Easter Monday is not, so Tuesday 09:00;
    # without the calendar it was "due Easter Monday 09:00".
    assert add_business_minutes(at(2026, 4, 3, 16), 120, vienna()) == at(2026, 4, 7, 9)
    assert add_business_minutes(at(2026, 4, 3, 16), 120, Hours()) == at(2026, 4, 6, 9)


def test_a_vienna_holiday_that_bavaria_works_and_a_bavarian_holiday_that_vienna_works():
    # 8 December (Immaculate Conception, Tue 2026): closed in Vienna, open in Munich.
    assert add_business_minutes(at(2026, 12, 7, 16), 120, vienna()) == at(2026, 12, 9, 9)
    assert add_business_minutes(at(2026, 12, 7, 16, tz=BERLIN_TZ), 120, bavaria()) == at(
        2026, 12, 8, 9, tz=BERLIN_TZ
    )
    # 3 October (German Unity Day, Wednesday in 2029): closed in Munich, open in Vienna.
    assert add_business_minutes(at(2029, 10, 2, 16), 120, vienna()) == at(2029, 10, 3, 9)
    assert add_business_minutes(at(2029, 10, 2, 16, tz=BERLIN_TZ), 120, bavaria()) == at(
        2029, 10, 4, 9, tz=BERLIN_TZ
    )


def test_a_vienna_only_holiday_against_another_austrian_state():
    # Saint Leopold's Day (15 Nov, Monday in 2027) is Vienna's (and Lower Austria's) patron day: in
    # the holidays library's "bank" category for state 9, not for Tyrol (7).
    categories = ("public", "bank")
    assert vienna(categories=categories).holiday_name(date(2027, 11, 15)) == "Saint Leopold's Day"
    tyrol = Hours(country="AT", subdivision="7", categories=categories)
    assert tyrol.holiday_name(date(2027, 11, 15)) == ""
    assert add_business_minutes(at(2027, 11, 12, 16), 120, vienna(categories=categories)) == at(
        2027, 11, 16, 9
    )
    assert add_business_minutes(at(2027, 11, 12, 16), 120, tyrol) == at(2027, 11, 15, 9)


def test_a_bavarian_holiday_against_another_german_state():
    # Epiphany (6 Jan, Wednesday in 2027) is a holiday in Bavaria, not in Berlin.
    berlin = Hours(country="DE", subdivision="BE", tz="Europe/Berlin")
    assert add_business_minutes(at(2027, 1, 5, 16, tz=BERLIN_TZ), 120, bavaria()) == at(
        2027, 1, 7, 9, tz=BERLIN_TZ
    )
    assert add_business_minutes(at(2027, 1, 5, 16, tz=BERLIN_TZ), 120, berlin) == at(
        2027, 1, 6, 9, tz=BERLIN_TZ
    )
    # Assumption Day (15 Aug) only in Bavaria's Catholic communities: the "catholic" category.
    catholic = bavaria(categories=("public", "catholic"))
    assert bavaria().holiday_name(date(2029, 8, 15)) == ""
    assert catholic.holiday_name(date(2029, 8, 15)) == "Assumption Day"


def test_business_minutes_between_skips_weekends_holidays_and_closing_days():
    calendar = vienna(closing_days={date(2026, 12, 24): time(12, 0)})
    # Wed 23 Dec 16:00 -> Mon 28 Dec 10:00: 1 h + 4 h (half day) + 2 h.
    assert business_minutes_between(at(2026, 12, 23, 16), at(2026, 12, 28, 10), calendar) == 420
    assert business_minutes_between(at(2026, 12, 28, 10), at(2026, 12, 23, 16), calendar) == 0
    start = at(2026, 12, 23, 16)
    assert add_business_minutes(start, 420, calendar) == at(2026, 12, 28, 10)


def test_unknown_country_or_state_is_refused():
    with pytest.raises(ValueError):
        Hours(country="XX")
    with pytest.raises(ValueError):
        Hours(country="AT", subdivision="BY")


@settings(max_examples=120, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)),
    minutes=st.integers(min_value=1, max_value=6000),
)
def test_due_times_never_fall_on_a_closed_day_and_count_back_exactly(start, minutes):
    calendar = vienna(closing_days={date(2026, 12, 24): time(12), date(2027, 12, 24): None})
    start = start.replace(second=0, microsecond=0, tzinfo=VIENNA_TZ)
    due = add_business_minutes(start, minutes, calendar)
    assert calendar.opening(due.date()) is not None
    assert not calendar.holiday_name(due.date())
    assert business_minutes_between(start, due, calendar) == minutes
