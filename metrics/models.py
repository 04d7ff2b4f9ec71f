"""Daily rollups the dashboards read: one row per day and (store, channel, team, agent).

A row is a pure function of the raw rows dated that day (tickets, ticket events, messages, SLA
response facts, survey answers): `metrics.rollup` recomputes whole days, so processing a day
twice, or from two workers, can never count anything twice. See `metrics.rollup` for how days are
chosen and how a ticket's team and agent are attributed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from metrics.buckets import BUCKET_COUNT

HISTOGRAMS = (
    "first_response_business_hist",
    "first_response_calendar_hist",
    "resolution_business_hist",
    "resolution_calendar_hist",
)
SCORE_ARRAYS = {"csat": ("csat_scores", 1, 5), "nps": ("nps_scores", 0, 10), "ces": ("ces_scores", 1, 7)}
COUNTERS = (
    "created",
    "solved",
    "reopened",
    "messages_in",
    "messages_out",
    "first_response_count",
    "resolution_count",
    "sla_met",
    "sla_breached",
)


def _histogram() -> list[int]:
    return [0] * BUCKET_COUNT


def _csat_counts() -> list[int]:
    return [0] * 5


def _nps_counts() -> list[int]:
    return [0] * 11


def _ces_counts() -> list[int]:
    return [0] * 7


class RollupCounts(models.Model):
    """The counts a rollup row keeps. Histograms have `metrics.buckets.BUCKET_COUNT` log-spaced
    buckets of durations in seconds; score arrays count answers per score value (index 0 is the
    lowest score of the scale)."""

    created = models.IntegerField(_("tickets created"), default=0)
    solved = models.IntegerField(_("tickets solved"), default=0)
    reopened = models.IntegerField(_("tickets reopened"), default=0)
    messages_in = models.IntegerField(_("messages in"), default=0)
    messages_out = models.IntegerField(_("messages out"), default=0)

    first_response_count = models.IntegerField(_("first responses"), default=0)
    first_response_business_hist = ArrayField(models.IntegerField(), size=BUCKET_COUNT, default=_histogram)
    first_response_calendar_hist = ArrayField(models.IntegerField(), size=BUCKET_COUNT, default=_histogram)
    resolution_count = models.IntegerField(_("resolutions"), default=0)
    resolution_business_hist = ArrayField(models.IntegerField(), size=BUCKET_COUNT, default=_histogram)
    resolution_calendar_hist = ArrayField(models.IntegerField(), size=BUCKET_COUNT, default=_histogram)

    sla_met = models.IntegerField(_("SLA targets met"), default=0)
    sla_breached = models.IntegerField(_("SLA targets breached"), default=0)

    csat_scores = ArrayField(models.IntegerField(), size=5, default=_csat_counts)
    nps_scores = ArrayField(models.IntegerField(), size=11, default=_nps_counts)
    ces_scores = ArrayField(models.IntegerField(), size=7, default=_ces_counts)

    class Meta:
        abstract = True


class DailyRollup(RollupCounts):
    """Counts for one day (in the helpdesk's time zone, settings.TIME_ZONE) and one combination of
    store, channel, team and agent."""

    day = models.DateField(_("day"))
    store = models.ForeignKey("tickets.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20)
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False,
        verbose_name=_("team"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, verbose_name=_("agent"),
    )

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store", "channel", "team", "agent"], nulls_distinct=False, name="rollup_unique_key"
            ),
        ]
        indexes = [
            models.Index(fields=["day", "store"], name="rollup_day_store"),
            models.Index(fields=["agent", "day"], name="rollup_agent_day"),
            models.Index(fields=["team", "day"], name="rollup_team_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id} {self.channel} team {self.team_id} agent {self.agent_id}"


class StoreDailyRollup(RollupCounts):
    """The same counts summed over teams and agents: one row per day, store and channel. Written
    with `DailyRollup` (from its rows, in the same transaction); dashboards not filtered by team or
    agent read this much smaller table."""

    day = models.DateField(_("day"))
    store = models.ForeignKey("tickets.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20)

    class Meta:
        verbose_name = _("daily store rollup")
        verbose_name_plural = _("daily store rollups")
        constraints = [
            models.UniqueConstraint(fields=["day", "store", "channel"], name="store_rollup_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id} {self.channel}"


class AgentDailyRollup(RollupCounts):
    """The same counts summed over channels: one row per day, store, team and agent. Written with
    `DailyRollup` like `StoreDailyRollup`; per-agent tables and team or agent filters without a
    channel filter read it."""

    day = models.DateField(_("day"))
    store = models.ForeignKey("tickets.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False,
        verbose_name=_("team"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, verbose_name=_("agent"),
    )

    class Meta:
        verbose_name = _("daily agent rollup")
        verbose_name_plural = _("daily agent rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store", "team", "agent"], nulls_distinct=False, name="agent_rollup_unique_key"
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "day"], name="agent_rollup_agent_day"),
            models.Index(fields=["team", "day"], name="agent_rollup_team_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id} team {self.team_id} agent {self.agent_id}"


class MonthlyRollup(RollupCounts):
    """DailyRollup summed per calendar month (`day` is the month's first day): long periods read
    their whole months here and only their first and last days from the daily tables."""

    day = models.DateField(_("month"))
    store = models.ForeignKey("tickets.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20)
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False,
        verbose_name=_("team"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, verbose_name=_("agent"),
    )

    class Meta:
        verbose_name = _("monthly rollup")
        verbose_name_plural = _("monthly rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store", "channel", "team", "agent"], nulls_distinct=False,
                name="monthly_rollup_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m} store {self.store_id} {self.channel} team {self.team_id} agent {self.agent_id}"


class StoreMonthlyRollup(RollupCounts):
    """StoreDailyRollup per calendar month (`day` is the month's first day)."""

    day = models.DateField(_("month"))
    store = models.ForeignKey("tickets.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20)

    class Meta:
        verbose_name = _("monthly store rollup")
        verbose_name_plural = _("monthly store rollups")
        constraints = [
            models.UniqueConstraint(fields=["day", "store", "channel"], name="store_monthly_rollup_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m} store {self.store_id} {self.channel}"


class AgentMonthlyRollup(RollupCounts):
    """AgentDailyRollup per calendar month (`day` is the month's first day)."""

    day = models.DateField(_("month"))
    store = models.ForeignKey("tickets.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False,
        verbose_name=_("team"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, verbose_name=_("agent"),
    )

    class Meta:
        verbose_name = _("monthly agent rollup")
        verbose_name_plural = _("monthly agent rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store", "team", "agent"], nulls_distinct=False, name="agent_monthly_rollup_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m} store {self.store_id} team {self.team_id} agent {self.agent_id}"


class Watermark(models.Model):
    """How far the minute task has read a raw table, by id.

    `floor` is the highest id seen at least `metrics.rollup.WATERMARK_LAG_SECONDS` ago;
    `points` are the [time, highest id] of the runs since. Each run reads the rows above the
    floor, so a row whose transaction committed late (its id taken before a newer row's) is still
    seen. Reading a row twice only names its day twice, which is harmless: days are recomputed,
    never incremented."""

    source = models.CharField(max_length=40, unique=True)
    floor = models.BigIntegerField(default=0)
    points = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.source


class DirtyDay(models.Model):
    """A day to recompute at the next refresh, marked by a hook after a commit."""

    day = models.DateField(unique=True)

    def __str__(self) -> str:
        return str(self.day)


class CustomerSegmentThresholds(models.Model):
    """Lifetime-value thresholds of the customer segments, per currency (one row per currency;
    currencies without a row use the settings' defaults)."""

    currency = models.CharField(_("currency"), max_length=3, unique=True)
    high_from = models.DecimalField(_("high spenders from"), max_digits=12, decimal_places=2)
    medium_from = models.DecimalField(_("medium spenders from"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("customer segment thresholds")
        verbose_name_plural = _("customer segment thresholds")

    def __str__(self) -> str:
        return self.currency
