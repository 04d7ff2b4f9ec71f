from __future__ import annotations

from django.contrib import admin

from metrics.models import CustomerSegmentThresholds


@admin.register(CustomerSegmentThresholds)
class CustomerSegmentThresholdsAdmin(admin.ModelAdmin):
    list_display = ("currency", "high_from", "medium_from")
