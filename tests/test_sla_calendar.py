"""Business-time arithmetic: split shifts, weekends, Spanish national and regional holidays,
closed days, daylight-saving changes in Madrid and Bucharest, and plain calendar hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tickets.models import CalendarClosedDay
from tickets.sla.calendar import (
    ClosedCalendarError,
    add_business_time,
    business_seconds_between,
    is_open_at,
)
from tickets.sla.presets import make_calendar, office_hours

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
BUCHAREST = ZoneInfo("Europe/Bucharest")
UTC = dt.UTC
HOUR = 3600


def madrid(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MADRID)


def bucharest(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BUCHAREST)


@pytest.fixture
def split_shift():
    """Mornings 09–14 and afternoons 16–19, Monday to Friday, in Madrid, no holidays."""
    return make_calendar("Split shift", time_zone="Europe/Madrid",
                         hours={day: [("09:00", "14:00"), ("16:00", "19:00")] for day in range(5)})


@pytest.fixture
def spain():
    return make_calendar("Spain", time_zone="Europe/Madrid", hours=office_hours("09:00", "18:00"), holiday_country="ES")


def test_split_shift_skips_the_lunch_break(split_shift):
    # Monday 13:00 + 2 h: one hour before lunch, one after it.
    assert add_business_time(split_shift, madrid(2026, 3, 2, 13, 0), 2 * HOUR) == madrid(2026, 3, 2, 17, 0)
    assert business_seconds_between(split_shift, madrid(2026, 3, 2, 13, 0), madrid(2026, 3, 2, 17, 0)) == 2 * HOUR


def test_start_during_the_break_counts_from_the_afternoon(split_shift):
    assert add_business_time(split_shift, madrid(2026, 3, 2, 14, 30), 30 * 60) == madrid(2026, 3, 2, 16, 30)


def test_target_ending_at_closing_time_ends_at_closing_time(split_shift):
    assert add_business_time(split_shift, madrid(2026, 3, 2, 16, 0), 3 * HOUR) == madrid(2026, 3, 2, 19, 0)


def test_target_crossing_a_weekend(split_shift):
    # Friday 18:00 + 3 h: one hour on Friday, then Monday 09:00–11:00.
    due = add_business_time(split_shift, madrid(2026, 3, 6, 18, 0), 3 * HOUR)
    assert due == madrid(2026, 3, 9, 11, 0)
    assert business_seconds_between(split_shift, madrid(2026, 3, 6, 18, 0), due) == 3 * HOUR
    assert business_seconds_between(split_shift, madrid(2026, 3, 7, 0, 0), madrid(2026, 3, 9, 0, 0)) == 0


def test_spanish_national_holiday_is_closed(spain):
    # Monday 12 October 2026 is Spain's National Day: Friday 17:00 + 2 h ends on Tuesday 10:00.
    assert add_business_time(spain, madrid(2026, 10, 9, 17, 0), 2 * HOUR) == madrid(2026, 10, 13, 10, 0)
    assert not is_open_at(spain, madrid(2026, 10, 12, 11, 0))
    assert is_open_at(spain, madrid(2026, 10, 13, 11, 0))


def test_regional_holiday_applies_only_in_its_region():
    # Wednesday 24 June 2026, Sant Joan, is a holiday in Catalonia and not in Madrid.
    catalonia = make_calendar("Barcelona office", time_zone="Europe/Madrid", hours=office_hours(),
                              holiday_country="ES", holiday_subdivision="CT")
    madrid_office = make_calendar("Madrid office", time_zone="Europe/Madrid", hours=office_hours(),
                                  holiday_country="ES", holiday_subdivision="MD")
    start = madrid(2026, 6, 23, 17, 0)
    assert add_business_time(catalonia, start, 2 * HOUR) == madrid(2026, 6, 25, 10, 0)
    assert add_business_time(madrid_office, start, 2 * HOUR) == madrid(2026, 6, 24, 10, 0)
    # 2 May 2025 (Friday) is Madrid's own day, right after Labour Day (national).
    assert add_business_time(madrid_office, madrid(2025, 4, 30, 17, 0), 2 * HOUR) == madrid(2025, 5, 5, 10, 0)
    assert add_business_time(catalonia, madrid(2025, 4, 30, 17, 0), 2 * HOUR) == madrid(2025, 5, 2, 10, 0)


def test_romanian_holidays():
    # 1 December (National Day, Tuesday in 2026) and 30 November (Saint Andrew, Monday) are closed.
    office = make_calendar("Bucharest office", time_zone="Europe/Bucharest", hours=office_hours(),
                           holiday_country="RO")
    assert add_business_time(office, bucharest(2026, 11, 27, 17, 0), 2 * HOUR) == bucharest(2026, 12, 2, 10, 0)


def test_custom_closed_day(split_shift):
    CalendarClosedDay.objects.create(calendar=split_shift, date=dt.date(2026, 3, 9), name="Inventory")
    assert add_business_time(split_shift, madrid(2026, 3, 6, 18, 0), 3 * HOUR) == madrid(2026, 3, 10, 11, 0)


def test_madrid_spring_forward_in_business_hours():
    # Clocks go forward on Sunday 29 March 2026; Friday 17:00 CET + 2 business hours is Monday
    # 10:00 CEST, which is 08:00 UTC (not 09:00).
    office = make_calendar("Madrid 9-18", time_zone="Europe/Madrid", hours=office_hours())
    due = add_business_time(office, madrid(2026, 3, 27, 17, 0), 2 * HOUR)
    assert due.astimezone(UTC) == dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_madrid_around_the_clock_day_lasts_23_or_25_hours():
    always = make_calendar("Madrid 24x7", time_zone="Europe/Madrid",
                           hours={day: [("00:00", "24:00")] for day in range(7)})
    assert business_seconds_between(always, madrid(2026, 3, 28, 12, 0), madrid(2026, 3, 29, 12, 0)) == 23 * HOUR
    assert business_seconds_between(always, madrid(2026, 10, 24, 12, 0), madrid(2026, 10, 25, 12, 0)) == 25 * HOUR
    # 24 open hours from Saturday noon end on Sunday at 13:00 local time in spring.
    assert add_business_time(always, madrid(2026, 3, 28, 12, 0), 24 * HOUR) == madrid(2026, 3, 29, 13, 0)


def test_bucharest_night_shift_across_the_spring_change():
    # A night shift 00:00–06:00; on 29 March 2026 Bucharest jumps from 03:00 to 04:00: 5 hours.
    nights = make_calendar("Bucharest nights", time_zone="Europe/Bucharest",
                           hours={day: [("00:00", "06:00")] for day in range(7)})
    assert business_seconds_between(nights, bucharest(2026, 3, 29, 0, 0), bucharest(2026, 3, 29, 6, 0)) == 5 * HOUR
    assert business_seconds_between(nights, bucharest(2026, 10, 25, 0, 0), bucharest(2026, 10, 25, 6, 0)) == 7 * HOUR
    assert add_business_time(nights, bucharest(2026, 3, 29, 0, 0), 5 * HOUR) == bucharest(2026, 3, 29, 6, 0)


def test_bucharest_business_hours_across_the_autumn_change():
    office = make_calendar("Bucharest 9-17", time_zone="Europe/Bucharest", hours=office_hours("09:00", "17:00"))
    # Friday 23 October 16:00 EEST (13:00 UTC) + 2 h: Monday 26 October 10:00 EET = 08:00 UTC.
    due = add_business_time(office, bucharest(2026, 10, 23, 16, 0), 2 * HOUR)
    assert due.astimezone(UTC) == dt.datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_calendar_hours_count_weekends_holidays_and_real_elapsed_time():
    # No calendar: 24 hours are 24 real hours, over a Spanish holiday weekend and the DST change.
    start = madrid(2026, 3, 28, 12, 0)
    assert add_business_time(None, start, 24 * HOUR) == madrid(2026, 3, 29, 13, 0)
    assert business_seconds_between(None, madrid(2026, 10, 10, 9, 0), madrid(2026, 10, 13, 9, 0)) == 72 * HOUR


def test_a_calendar_without_opening_hours_is_an_error():
    closed = make_calendar("Never open", time_zone="Europe/Madrid", hours={})
    with pytest.raises(ClosedCalendarError):
        add_business_time(closed, madrid(2026, 3, 2, 9, 0), HOUR)


def test_naive_datetimes_are_refused(split_shift):
    with pytest.raises(ValueError):
        add_business_time(split_shift, dt.datetime(2026, 3, 2, 9, 0), HOUR)


def test_changing_the_calendar_drops_the_cached_schedule(split_shift):
    start = madrid(2026, 3, 2, 13, 0)
    assert add_business_time(split_shift, start, 2 * HOUR) == madrid(2026, 3, 2, 17, 0)
    make_calendar("Split shift", time_zone="Europe/Madrid", hours={day: [("09:00", "19:00")] for day in range(5)})
    assert add_business_time(split_shift, start, 2 * HOUR) == madrid(2026, 3, 2, 15, 0)
