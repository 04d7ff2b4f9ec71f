"""Business-time arithmetic on a `BusinessCalendar`.

A calendar is open during its weekly periods (in its own time zone), except on the public holidays
of its country and region (the `holidays` package) and on its own closed days. Every function
takes `calendar=None` to mean plain calendar time, open 24 hours a day, 7 days a week.

Arithmetic walks the calendar day by day in local time and converts each opening period to UTC
instants, so daylight-saving changes are exact: a period of 00:00–24:00 on the day clocks go
forward lasts 23 hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = dt.UTC
DAY_SECONDS = 86400
# A calendar with no opening time at all within this many days cannot satisfy any target.
MAX_DAYS_SEARCHED = 3 * 366


class ClosedCalendarError(ValueError):
    """The calendar has no opening time within `MAX_DAYS_SEARCHED` days."""


@lru_cache(maxsize=256)
def _public_holidays(country: str, subdivision: str, year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year).keys())


def public_holidays(country: str, subdivision: str, year: int) -> dict[dt.date, str]:
    """The named public holidays of a country (and region) in a year, for display."""
    import holidays

    return dict(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


@dataclass(frozen=True)
class Schedule:
    """A calendar compiled for arithmetic: plain Python, cached per process (see `tickets.sla.cache`).

    `weekly[weekday]` holds the day's opening periods as sorted, non-overlapping
    (start second, end second) pairs counted from local midnight; an end of 86400 is midnight at
    the end of the day."""

    zone: ZoneInfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holiday_country: str = ""
    holiday_subdivision: str = ""
    closed_dates: frozenset[dt.date] = frozenset()

    def is_closed(self, day: dt.date) -> bool:
        if day in self.closed_dates:
            return True
        if self.holiday_country:
            return day in _public_holidays(self.holiday_country, self.holiday_subdivision, day.year)
        return False

    def intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's opening periods as UTC instants (empty on a closed day)."""
        periods = self.weekly[day.weekday()]
        if not periods or self.is_closed(day):
            return []
        midnight = dt.datetime.combine(day, dt.time(0))
        return [
            (self._instant(midnight + dt.timedelta(seconds=start)),
             self._instant(midnight + dt.timedelta(seconds=end)))
            for start, end in periods
        ]

    def _instant(self, local: dt.datetime) -> dt.datetime:
        # A local time in the spring-forward gap resolves to the instant just after the change.
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    @property
    def has_opening_hours(self) -> bool:
        return any(self.weekly)


def merge_periods(periods: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort and merge overlapping or touching (start, end) second ranges; drop empty ones."""
    merged: list[list[int]] = []
    for start, end in sorted(p for p in periods if p[1] > p[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((start, end) for start, end in merged)


def _seconds_of(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def compile_schedule(calendar) -> Schedule:
    """Build the `Schedule` of a saved BusinessCalendar (two queries: periods, closed days)."""
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for period in calendar.periods.all():
        start = _seconds_of(period.opens_at)
        end = _seconds_of(period.closes_at) or DAY_SECONDS  # 00:00 closes at midnight
        days[period.weekday].append((start, end))
    return Schedule(
        zone=ZoneInfo(calendar.time_zone),
        weekly=tuple(merge_periods(day) for day in days),
        holiday_country=(calendar.holiday_country or "").upper(),
        holiday_subdivision=calendar.holiday_subdivision or "",
        closed_dates=frozenset(calendar.closed_days.values_list("date", flat=True)),
    )


def schedule_for(calendar) -> Schedule | None:
    """The cached Schedule of a calendar (model instance, Schedule or None for 24 × 7)."""
    if calendar is None or isinstance(calendar, Schedule):
        return calendar
    from tickets.sla.cache import schedule_of

    return schedule_of(calendar)


def _require_aware(value: dt.datetime) -> None:
    if value.tzinfo is None:
        raise ValueError("business-time arithmetic needs time-zone-aware datetimes")


def add_business_time(calendar, start: dt.datetime, seconds: int) -> dt.datetime:
    """The instant at which `seconds` of open time have passed since `start`.

    The result is in UTC. With `calendar=None` this is plain addition of elapsed time. A start outside opening hours counts from the
    next opening; a target that ends exactly at closing time ends at closing time."""
    _require_aware(start)
    if seconds <= 0:
        return start.astimezone(UTC)
    schedule = schedule_for(calendar)
    if schedule is None:
        # In UTC: adding to a local time would add wall-clock time across a DST change.
        return start.astimezone(UTC) + dt.timedelta(seconds=seconds)
    if not schedule.has_opening_hours:
        raise ClosedCalendarError("the calendar has no opening hours")
    remaining = dt.timedelta(seconds=seconds)
    cursor = start.astimezone(UTC)
    # Start one local day early: a period of the previous local day may still be running in UTC terms.
    day = cursor.astimezone(schedule.zone).date() - dt.timedelta(days=1)
    for _ in range(MAX_DAYS_SEARCHED):
        for opens, closes in schedule.intervals(day):
            if closes <= cursor:
                continue
            begin = max(opens, cursor)
            available = closes - begin
            if available >= remaining:
                return begin + remaining
            remaining -= available
            cursor = closes
        day += dt.timedelta(days=1)
    raise ClosedCalendarError(f"the calendar has no opening time within {MAX_DAYS_SEARCHED} days")


def business_seconds_between(calendar, start: dt.datetime, end: dt.datetime) -> int:
    """Seconds of open time between `start` and `end` (0 when `end` is not after `start`)."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        return 0
    schedule = schedule_for(calendar)
    if schedule is None:
        return int((end - start).total_seconds())
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    day = start_utc.astimezone(schedule.zone).date() - dt.timedelta(days=1)
    last_day = end_utc.astimezone(schedule.zone).date()
    total = dt.timedelta()
    while day <= last_day:
        for opens, closes in schedule.intervals(day):
            begin, finish = max(opens, start_utc), min(closes, end_utc)
            if finish > begin:
                total += finish - begin
        day += dt.timedelta(days=1)
    return int(total.total_seconds())


def is_open_at(calendar, moment: dt.datetime) -> bool:
    """Whether the calendar is open at `moment` (always true for calendar hours)."""
    schedule = schedule_for(calendar)
    if schedule is None:
        return True
    day = moment.astimezone(schedule.zone).date()
    return any(opens <= moment < closes for d in (day - dt.timedelta(days=1), day) for opens, closes in schedule.intervals(d))
