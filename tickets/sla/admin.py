"""Admin pages for SLA policies and business calendars (registered from tickets/admin.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from tickets.models import (
    BusinessCalendar,
    BusinessHoursPeriod,
    CalendarClosedDay,
    Channel,
    Notification,
    ResponseFact,
    SLAPolicy,
    Ticket,
)
from tickets.sla.calendar import public_holidays


class CommaSeparatedField(forms.CharField):
    """A list of short strings typed as "a, b, c"."""

    def __init__(self, *, lower: bool = False, upper: bool = False, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.lower, self.upper = lower, upper

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        items = [item.strip() for item in (value or "").split(",") if item.strip()]
        if self.lower:
            items = [item.lower() for item in items]
        if self.upper:
            items = [item.upper() for item in items]
        return list(dict.fromkeys(items))


# --- Calendars --------------------------------------------------------------------------------


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = ["name", "time_zone", "holiday_country", "holiday_subdivision"]

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"].strip()
        if value not in available_timezones():
            raise ValidationError(_("Unknown time zone %(zone)s; use an IANA name such as Europe/Madrid."),
                                  params={"zone": value})
        return value

    def clean(self):
        cleaned = super().clean()
        country = (cleaned.get("holiday_country") or "").upper()
        subdivision = cleaned.get("holiday_subdivision") or ""
        cleaned["holiday_country"] = country
        if subdivision and not country:
            self.add_error("holiday_subdivision", _("A region needs a country."))
        elif country:
            import holidays

            try:
                holidays.country_holidays(country, subdiv=subdivision or None)
            except NotImplementedError:
                supported = ""
                try:
                    supported = ", ".join(holidays.country_holidays(country).subdivisions)
                except NotImplementedError:
                    self.add_error("holiday_country", _("No public holidays are known for %(country)s.") % {"country": country})
                    return cleaned
                self.add_error("holiday_subdivision", _("Unknown region for %(country)s. Known regions: %(regions)s.") % {
                    "country": country, "regions": supported or _("none")})
        return cleaned


class BusinessHoursPeriodForm(forms.ModelForm):
    class Meta:
        model = BusinessHoursPeriod
        fields = ["weekday", "opens_at", "closes_at"]

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens is not None and closes is not None and closes != dt.time(0) and closes <= opens:
            raise ValidationError(_("The period must close after it opens (00:00 closes at midnight)."))
        return cleaned


class BusinessHoursPeriodInline(admin.TabularInline):
    model = BusinessHoursPeriod
    form = BusinessHoursPeriodForm
    extra = 0


class CalendarClosedDayInline(admin.TabularInline):
    model = CalendarClosedDay
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision", "updated_at"]
    search_fields = ["name"]
    inlines = [BusinessHoursPeriodInline, CalendarClosedDayInline]
    readonly_fields = ["public_holidays_this_year"]

    @admin.display(description=_("Public holidays this year"))
    def public_holidays_this_year(self, calendar: BusinessCalendar):
        if not calendar.holiday_country:
            return "—"
        try:
            days = public_holidays(calendar.holiday_country, calendar.holiday_subdivision, timezone.now().year)
        except NotImplementedError:
            return "—"
        return format_html_join("", "<div>{} — {}</div>", ((day.isoformat(), name) for day, name in sorted(days.items())))


# --- Policies ---------------------------------------------------------------------------------


class SLAPolicyForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("channels"), choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every channel."),
    )
    priorities = forms.TypedMultipleChoiceField(
        label=_("priorities"), choices=Ticket.Priority.choices, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every priority."),
    )
    marketplaces = CommaSeparatedField(label=_("marketplaces"), lower=True, help_text=_("e.g. amazon.es, amazon.de"))
    customer_countries = CommaSeparatedField(label=_("customer countries"), upper=True, help_text=_("ISO codes, e.g. ES, RO"))
    customer_languages = CommaSeparatedField(label=_("customer languages"), lower=True, help_text=_("e.g. es, ro"))
    customer_email_domains = CommaSeparatedField(label=_("customer email domains"), lower=True,
                                                 help_text=_("e.g. bigclient.com"))

    class Meta:
        model = SLAPolicy
        fields = [
            "name", "description", "position", "is_active", "stores", "channels", "marketplaces", "priorities", "tags",
            "customer_countries", "customer_languages", "customer_email_domains", "hours", "calendar",
            "first_response_minutes", "next_response_minutes", "resolution_minutes", "warning_minutes",
            "pause_when_pending", "pause_when_on_hold", "notify_assignee", "notify_team_lead", "notify_users",
            "escalate_priority", "escalate_team", "escalate_assign_team_lead", "escalate_tag",
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("hours") == SLAPolicy.Hours.BUSINESS and not cleaned.get("calendar"):
            self.add_error("calendar", _("Business hours are counted on a calendar: choose one, or count calendar hours."))
        if not any(cleaned.get(f) for f in ("first_response_minutes", "next_response_minutes", "resolution_minutes")):
            raise ValidationError(_("Set at least one target."))
        return cleaned


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    form = SLAPolicyForm
    list_display = ["name", "position", "is_active", "hours", "calendar", "first_response_minutes",
                    "next_response_minutes", "resolution_minutes", "warning_minutes"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "hours"]
    search_fields = ["name", "description"]
    filter_horizontal = ["stores", "tags", "notify_users"]
    fieldsets = [
        (None, {"fields": ["name", "description", "position", "is_active"]}),
        (_("Applies to tickets that match all of these (empty: any)"), {
            "fields": ["stores", "channels", "marketplaces", "priorities", "tags", "customer_countries",
                       "customer_languages", "customer_email_domains"],
        }),
        (_("Targets"), {
            "fields": ["hours", "calendar", "first_response_minutes", "next_response_minutes", "resolution_minutes",
                       "warning_minutes", "pause_when_pending", "pause_when_on_hold"],
        }),
        (_("Warnings and breaches"), {
            "fields": ["notify_assignee", "notify_team_lead", "notify_users", "escalate_priority", "escalate_team",
                       "escalate_assign_team_lead", "escalate_tag"],
        }),
    ]


@admin.register(ResponseFact)
class ResponseFactAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "store", "channel", "agent", "started_at", "completed_at", "due_at",
                    "business_seconds", "breached"]
    list_filter = ["kind", "breached", "channel"]
    raw_id_fields = ["ticket", "agent", "team", "policy"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "ticket", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    raw_id_fields = ["recipient", "ticket"]
