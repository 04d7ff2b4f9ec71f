from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from surveys.models import FORBIDDEN_CHANNELS, Survey, SurveyAnswer, SurveyQuestion, SurveySettings
from tickets.models import Channel

SURVEYABLE_CHANNELS = [(value, label) for value, label in Channel.choices if value not in FORBIDDEN_CHANNELS]


class SurveySettingsForm(forms.ModelForm):
    disabled_channels = forms.MultipleChoiceField(
        label=_("Channels turned off"), choices=SURVEYABLE_CHANNELS, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("No survey is sent on these channels. Amazon and eBay are always off: their rules forbid it."),
    )

    review_url = forms.URLField(
        label=_("Review invitation link"), required=False, max_length=500, assume_scheme="https",
        help_text=_("Shown after a high score. Never shown for Amazon or eBay tickets."),
    )

    class Meta:
        model = SurveySettings
        fields = [
            "store", "enabled", "ask_csat", "ask_nps", "ask_ces", "delay_minutes", "disabled_channels", "period_days",
            "token_lifetime_days", "low_score_action", "csat_low_max", "nps_low_max", "ces_low_min", "review_url",
            "review_csat_min", "review_nps_min",
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled") and not any(cleaned.get(f) for f in ("ask_csat", "ask_nps", "ask_ces")):
            raise forms.ValidationError(_("Choose at least one question to ask, or turn surveys off."))
        for field, top in (("csat_low_max", 5), ("review_csat_min", 5), ("nps_low_max", 10), ("review_nps_min", 10),
                           ("ces_low_min", 7)):
            value = cleaned.get(field)
            if value is not None and value > top:
                self.add_error(field, _("At most %(top)s.") % {"top": top})
        return cleaned


class SurveyQuestionInline(admin.TabularInline):
    model = SurveyQuestion
    extra = 0


@admin.register(SurveySettings)
class SurveySettingsAdmin(admin.ModelAdmin):
    form = SurveySettingsForm
    inlines = [SurveyQuestionInline]
    list_display = ("store", "enabled", "ask_csat", "ask_nps", "ask_ces", "delay_minutes", "period_days",
                    "low_score_action")
    fieldsets = (
        (None, {"fields": ("store", "enabled", ("ask_csat", "ask_nps", "ask_ces"))}),
        (_("When and where"), {"fields": ("delay_minutes", "disabled_channels", "period_days", "token_lifetime_days")}),
        (_("Low scores"), {"fields": ("low_score_action", "csat_low_max", "nps_low_max", "ces_low_min")}),
        (_("Review invitation"), {"fields": ("review_url", "review_csat_min", "review_nps_min")}),
    )


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("pk", "ticket", "store", "channel", "status", "due_at", "sent_at", "skip_reason")
    list_filter = ("status", "store", "channel")
    raw_id_fields = ("ticket", "customer", "agent", "team")
    readonly_fields = ("created_at",)


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "score", "store", "channel", "agent", "ticket", "answered_at")
    list_filter = ("kind", "store", "channel")
    raw_id_fields = ("survey", "ticket", "customer", "agent", "team")
