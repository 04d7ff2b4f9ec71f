"""Admins configure SLA policies and business calendars in the Django admin; presets install
from a management command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.factories import StoreFactory
from tickets.models import BusinessCalendar, SLAPolicy

pytestmark = pytest.mark.django_db


def calendar_form(**changes) -> dict:
    data = {
        "name": "Madrid office", "time_zone": "Europe/Madrid", "holiday_country": "es", "holiday_subdivision": "MD",
        "periods-TOTAL_FORMS": "2", "periods-INITIAL_FORMS": "0",
        "periods-0-weekday": "0", "periods-0-opens_at": "09:00", "periods-0-closes_at": "14:00",
        "periods-1-weekday": "0", "periods-1-opens_at": "16:00", "periods-1-closes_at": "19:00",
        "closed_days-TOTAL_FORMS": "1", "closed_days-INITIAL_FORMS": "0",
        "closed_days-0-date": "2026-12-24", "closed_days-0-name": "Christmas Eve",
    }
    data.update(changes)
    return data


def test_admin_creates_a_calendar_with_split_shifts_and_closed_days(admin_client):
    response = admin_client.post("/admin/tickets/businesscalendar/add/", calendar_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    calendar = BusinessCalendar.objects.get(name="Madrid office")
    assert calendar.holiday_country == "ES"
    assert calendar.periods.count() == 2
    assert list(calendar.closed_days.values_list("name", flat=True)) == ["Christmas Eve"]
    page = admin_client.get(f"/admin/tickets/businesscalendar/{calendar.pk}/change/").content.decode()
    assert "Madrid Day" in page  # the region's own holiday is listed


@pytest.mark.parametrize(("changes", "message"), [
    ({"time_zone": "Mars/Olympus"}, "Unknown time zone"),
    ({"holiday_subdivision": "XX"}, "Unknown region for ES"),
    ({"periods-0-closes_at": "08:00"}, "must close after it opens"),
])
def test_admin_refuses_a_bad_calendar(admin_client, changes, message):
    response = admin_client.post("/admin/tickets/businesscalendar/add/", calendar_form(**changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BusinessCalendar.objects.exists()


def policy_form(**changes) -> dict:
    data = {
        "name": "VIP email", "position": "5", "is_active": "on", "channels": ["email", "chat"], "priorities": ["3", "4"],
        "marketplaces": "", "customer_countries": "es, ro", "customer_languages": "", "customer_email_domains": "",
        "hours": "calendar", "first_response_minutes": "30", "warning_minutes": "10",
        "pause_when_pending": "on", "notify_assignee": "on", "notify_team_lead": "on",
    }
    data.update(changes)
    return data


def test_admin_creates_a_policy(admin_client):
    store = StoreFactory()
    response = admin_client.post("/admin/tickets/slapolicy/add/", policy_form(stores=[store.pk]))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = SLAPolicy.objects.get(name="VIP email")
    assert (policy.channels, policy.priorities, policy.customer_countries) == (["email", "chat"], [3, 4], ["ES", "RO"])
    assert list(policy.stores.all()) == [store]


def test_business_hours_need_a_calendar_and_a_policy_needs_a_target(admin_client):
    response = admin_client.post("/admin/tickets/slapolicy/add/", policy_form(hours="business", first_response_minutes=""))
    page = response.content.decode()
    assert "choose one, or count calendar hours" in page
    assert "Set at least one target" in page
    assert not SLAPolicy.objects.exists()


def test_policy_list_page(admin_client):
    call_command("install_sla_presets")
    page = admin_client.get("/admin/tickets/slapolicy/").content.decode()
    assert "Amazon – 24 hours" in page and "Email – 1 business day" in page


def test_presets_install_once_and_update_in_place():
    call_command("install_sla_presets", "--country", "RO", "--time-zone", "Europe/Bucharest")
    call_command("install_sla_presets", "--country", "RO", "--time-zone", "Europe/Bucharest")
    assert SLAPolicy.objects.count() == 4
    amazon = SLAPolicy.objects.get(name="Amazon – 24 hours")
    assert (amazon.channels, amazon.hours, amazon.first_response_minutes, amazon.pause_when_pending) == (
        ["amazon"], "calendar", 1440, False)
    email = SLAPolicy.objects.get(name="Email – 1 business day")
    assert (email.calendar.time_zone, email.calendar.holiday_country, email.calendar.periods.count()) == (
        "Europe/Bucharest", "RO", 5)


def test_presets_refuse_an_unknown_region():
    with pytest.raises(CommandError):
        call_command("install_sla_presets", "--subdivision", "XX")
