"""Ready-made business calendars and SLA policies (`manage.py install_sla_presets`).

- **Amazon**: Amazon expects an answer to every buyer message within 24 hours, weekends and
  holidays included (its Contact Response Time metric), so the clock counts calendar hours and
  does not stop while the ticket waits on the buyer.
- **eBay**: eBay asks sellers to answer buyers' questions within 24 hours; counted the same way.
- **Messenger, Instagram and WhatsApp**: a business may answer freely for 24 hours after the
  person's last message (the platforms' messaging window), so every answer is due within
  24 calendar hours.
- **Email**: one business day of the store's calendar for each answer, five for the resolution,
  paused while the ticket waits on the customer or is on hold.

Running the presets again updates them in place (matched by name); policies an admin created
are left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tickets.models import BusinessCalendar, BusinessHoursPeriod, Channel, SLAPolicy

WEEKDAYS = range(0, 5)
DAY_MINUTES = 24 * 60

Periods = Iterable[tuple[str, str]]


def _time(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours) % 24, int(minutes))


def make_calendar(
    name: str, *, time_zone: str, hours: Mapping[int, Periods], holiday_country: str = "",
    holiday_subdivision: str = "",
) -> BusinessCalendar:
    """Create or replace a calendar: `hours` maps a weekday (0 = Monday) to its opening periods
    as ("HH:MM", "HH:MM") pairs; "24:00" or "00:00" as a closing time means midnight."""
    with transaction.atomic():
        calendar, _created = BusinessCalendar.objects.update_or_create(
            name=name,
            defaults={"time_zone": time_zone, "holiday_country": holiday_country,
                      "holiday_subdivision": holiday_subdivision},
        )
        calendar.periods.all().delete()
        BusinessHoursPeriod.objects.bulk_create(
            BusinessHoursPeriod(calendar=calendar, weekday=weekday, opens_at=_time(opens), closes_at=_time(closes))
            for weekday, periods in hours.items()
            for opens, closes in periods
        )
        # bulk_create sends no signals: tell the caches explicitly.
        from tickets.sla.cache import invalidate

        invalidate()
    return calendar


def office_hours(opens: str = "09:00", closes: str = "18:00", days: Iterable[int] = WEEKDAYS) -> dict[int, list]:
    return {day: [(opens, closes)] for day in days}


# (name, position, conditions, targets and behaviour)
POLICY_PRESETS: list[dict] = [
    {
        "name": "Amazon – 24 hours",
        "position": 10,
        "channels": [Channel.AMAZON],
        "hours": SLAPolicy.Hours.CALENDAR,
        "first_response_minutes": DAY_MINUTES,
        "next_response_minutes": DAY_MINUTES,
        "warning_minutes": 4 * 60,
        "pause_when_pending": False,
        "pause_when_on_hold": False,
        "description": _("Amazon expects an answer to every buyer message within 24 hours, weekends and holidays included."),
    },
    {
        "name": "eBay – 24 hours",
        "position": 20,
        "channels": [Channel.EBAY],
        "hours": SLAPolicy.Hours.CALENDAR,
        "first_response_minutes": DAY_MINUTES,
        "next_response_minutes": DAY_MINUTES,
        "warning_minutes": 4 * 60,
        "pause_when_pending": False,
        "pause_when_on_hold": False,
        "description": _("eBay asks sellers to answer buyers' questions within 24 hours."),
    },
    {
        "name": "Messaging – 24-hour window",
        "position": 30,
        "channels": [Channel.MESSENGER, Channel.INSTAGRAM, Channel.WHATSAPP],
        "hours": SLAPolicy.Hours.CALENDAR,
        "first_response_minutes": DAY_MINUTES,
        "next_response_minutes": DAY_MINUTES,
        "warning_minutes": 3 * 60,
        "pause_when_pending": False,
        "pause_when_on_hold": False,
        "description": _("Messenger, Instagram and WhatsApp let a business answer freely only within 24 hours of the person's last message."),
    },
    {
        "name": "Email – 1 business day",
        "position": 40,
        "channels": [Channel.EMAIL],
        "hours": SLAPolicy.Hours.BUSINESS,
        "first_response_minutes": 9 * 60,
        "next_response_minutes": 9 * 60,
        "resolution_minutes": 5 * 9 * 60,
        "warning_minutes": 2 * 60,
        "pause_when_pending": True,
        "pause_when_on_hold": True,
        "description": _("One business day (9 business hours) per answer, five business days to resolve."),
    },
]


def install_presets(*, time_zone: str = "Europe/Madrid", country: str = "ES", subdivision: str = "") -> dict[str, object]:
    """Create (or update) the standard calendar and the preset policies; returns them by name."""
    with transaction.atomic():
        calendar = make_calendar(
            "Office hours",
            time_zone=time_zone, hours=office_hours(), holiday_country=country, holiday_subdivision=subdivision,
        )
        installed: dict[str, object] = {"calendar": calendar}
        for preset in POLICY_PRESETS:
            values = {key: value for key, value in preset.items() if key not in ("name",)}
            values["description"] = str(values.get("description", ""))
            values["channels"] = [str(channel) for channel in values.get("channels", [])]
            values["calendar"] = calendar if values["hours"] == SLAPolicy.Hours.BUSINESS else None
            policy, _created = SLAPolicy.objects.update_or_create(name=preset["name"], defaults=values)
            installed[policy.name] = policy
    return installed
