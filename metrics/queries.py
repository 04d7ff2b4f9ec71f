"""Reading the dashboards' figures from the daily rollups (reads only).

Every figure of a period is computed from the summed rollup rows of its days, with one query per
dashboard (grouping sets: totals, per day, per agent, per channel, for the period and the one
before it), so a dashboard costs the same at ten thousand tickets as at ten million.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from metrics.buckets import BUCKET_COUNT, quantile
from metrics.models import HISTOGRAMS, SCORE_ARRAYS
from metrics.rollup import local_day
from metrics.scope import Scope
from surveys import formulas
from tickets.models import Channel

DEFAULT_DAYS = 30
MAX_DAYS = 731
COUNTS = ("created", "solved", "reopened", "messages_in", "messages_out", "first_response_count",
          "resolution_count", "sla_met", "sla_breached")

# Shown beside each figure on the dashboard (survey formulas come from `surveys.formulas`).
FORMULAS = {
    "created": gettext_lazy("Tickets opened in the period (by the day they were created)."),
    "solved": gettext_lazy("Changes to solved in the period; a ticket solved again after reopening counts again."),
    "reopened": gettext_lazy("Solved or closed tickets that went back to open in the period."),
    "messages": gettext_lazy("Messages in = customer messages (automatic replies excluded); out = replies sent (notes excluded)."),
    "first_response": gettext_lazy(
        "Median and 90th percentile of the time from the customer's first message to the first reply, over "
        "first replies sent in the period; in business hours (the store's SLA calendar) and calendar hours. "
        "Read from log-spaced buckets: within ±10 %."
    ),
    "resolution": gettext_lazy(
        "Median and 90th percentile of the time from creation to solved, over tickets solved in the period; "
        "business and calendar hours; within ±10 %."
    ),
    "sla": gettext_lazy("SLA compliance % = targets met ÷ (met + breached) × 100, over responses and resolutions "
                        "completed in the period that had an SLA target."),
    **formulas.FORMULA_TEXT,
}


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    store_id: int | None = None
    channel: str | None = None
    team_id: int | None = None
    agent_id: int | None = None
    top_box: bool = False

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        return replace(self, start=self.start - dt.timedelta(days=self.days), end=self.start - dt.timedelta(days=1))

    def as_query(self) -> dict[str, str]:
        query = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for name, value in (("store", self.store_id), ("channel", self.channel), ("team", self.team_id),
                            ("agent", self.agent_id)):
            if value is not None:
                query[name] = str(value)
        if self.top_box:
            query["top_box"] = "1"
        return query


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(_("%(name)s must be a number.") % {"name": name}) from None


def _date_param(params: Mapping[str, str], name: str, default: dt.date) -> dt.date:
    value = (params.get(name) or "").strip()
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("%(name)s must be a date written YYYY-MM-DD.") % {"name": name}) from None


def parse_filters(params: Mapping[str, str], scope: Scope, today: dt.date | None = None) -> Filters:
    """Filters from query parameters (from, to, store, channel, team, agent, top_box), checked
    against the user's scope: ValidationError for bad input, PermissionDenied for figures the user
    may not see. An agent's figures are always their own."""
    today = today or local_day(timezone.now())
    end = _date_param(params, "to", today)
    start = _date_param(params, "from", end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise ValidationError(_("The start date is after the end date."))
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError(_("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS})
    channel = (params.get("channel") or "").strip() or None
    if channel is not None and channel not in Channel.values:
        raise ValidationError(_("Unknown channel."))
    store_id = _int_param(params, "store")
    agent_id = _int_param(params, "agent")
    if store_id is not None and scope.store_ids is not None and store_id not in scope.store_ids:
        raise PermissionDenied(_("You may not see this store's figures."))
    if scope.agent_id is not None:
        if agent_id is not None and agent_id != scope.agent_id:
            raise PermissionDenied(_("Agents see their own figures only."))
        agent_id = scope.agent_id
    top_box = (params.get("top_box") or "").strip().lower() in ("1", "true", "yes", "on")
    return Filters(start, end, store_id, channel, _int_param(params, "team"), agent_id, top_box)


def _where(filters: Filters, scope: Scope, start: dt.date | None) -> tuple[str, list]:
    """Conditions on rows aliased r: days from `start` to the end (None: no day condition, the
    source has chosen its days), the user's stores and the filters."""
    clauses = ["r.day BETWEEN %s AND %s"] if start is not None else ["true"]
    params: list = [start, filters.end] if start is not None else []
    if scope.store_ids is not None:
        clauses.append("r.store_id = ANY(%s)")
        params.append(sorted(scope.store_ids) or [0])
    for column, value in (("store_id", filters.store_id), ("channel", filters.channel),
                          ("team_id", filters.team_id), ("agent_id", filters.agent_id)):
        if value is not None:
            clauses.append(f"r.{column} = %s")
            params.append(value)
    return " AND ".join(clauses), params


def full_months(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the whole calendar months inside start..end, or None."""
    from metrics.rollup import month_end, month_start

    first = start if start.day == 1 else month_end(start) + dt.timedelta(days=1)
    last = end if end == month_end(end) else month_start(end) - dt.timedelta(days=1)
    return (first, last) if first < last else None


def _source(daily_table: str, ranges: list[tuple[dt.date, dt.date]], where: str, params: list) -> tuple[str, list]:
    """A subquery aliased r with the rows of `ranges`: whole months from the monthly table, the
    other days from the daily one; `where` (on r) is applied inside each part."""
    keys = ", ".join(f"r.{key}" for key in TABLE_KEYS[daily_table])
    columns = f"r.day, {keys}, " + ", ".join(f"r.{name}" for name in VALUE_COLUMNS)
    parts, values = [], []
    for start, end in ranges:
        months = full_months(start, end)
        if months is None:
            parts.append(f"SELECT {columns} FROM {daily_table} r WHERE r.day BETWEEN %s AND %s AND {where}")
            values += [start, end, *params]
            continue
        first, last = months
        parts.append(f"SELECT {columns} FROM {daily_table} r WHERE r.day BETWEEN %s AND %s "
                     f"AND NOT r.day BETWEEN %s AND %s AND {where}")
        values += [start, end, first, last, *params]
        parts.append(f"SELECT {columns} FROM {MONTHLY_TABLES[daily_table]} r WHERE r.day BETWEEN %s AND %s AND {where}")
        values += [first, last, *params]
    return "(" + " UNION ALL ".join(parts) + ") r", values


# The histograms the time series and the agent table show (medians in business hours); the
# totals, CSV and API rows read them all.
SERIES_HISTOGRAMS = ("first_response_business_hist", "resolution_business_hist")


def _sums(histograms: tuple[str, ...] = HISTOGRAMS) -> str:
    columns = [f"sum(r.{name})" for name in COUNTS]
    for name in histograms:
        columns += [f"sum(r.{name}[{i}])" for i in range(1, BUCKET_COUNT + 1)]
    for _kind, (name, low, high) in SCORE_ARRAYS.items():
        columns += [f"sum(r.{name}[{i}])" for i in range(1, high - low + 2)]
    return ", ".join(columns)


@dataclass
class Totals:
    """Summed counts of some rollup rows, with every figure derived from them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    histograms: dict[str, list[int]] = field(default_factory=lambda: {h: [0] * BUCKET_COUNT for h in HISTOGRAMS})
    scores: dict[str, dict[int, int]] = field(
        default_factory=lambda: {kind: {s: 0 for s in range(low, high + 1)} for kind, (_n, low, high) in SCORE_ARRAYS.items()}
    )

    @classmethod
    def from_row(cls, values, histograms: tuple[str, ...] = HISTOGRAMS) -> Totals:
        """From the columns of `_sums(histograms)`; histograms not read count nothing."""
        totals = cls()
        values = [int(v or 0) for v in values]
        position = 0
        for name in COUNTS:
            totals.counts[name] = values[position]
            position += 1
        for name in histograms:
            totals.histograms[name] = values[position:position + BUCKET_COUNT]
            position += BUCKET_COUNT
        for kind, (_name, low, high) in SCORE_ARRAYS.items():
            size = high - low + 1
            totals.scores[kind] = {low + i: values[position + i] for i in range(size)}
            position += size
        return totals

    def __add__(self, other: Totals) -> Totals:
        total = Totals()
        total.counts = {name: self.counts[name] + other.counts[name] for name in COUNTS}
        total.histograms = {name: [a + b for a, b in zip(self.histograms[name], other.histograms[name], strict=False)]
                            for name in HISTOGRAMS}
        total.scores = {kind: {s: c + other.scores[kind][s] for s, c in counts.items()}
                        for kind, counts in self.scores.items()}
        return total

    def hours(self, histogram: str, q: float) -> float | None:
        seconds = quantile(self.histograms[histogram], q)
        return None if seconds is None else seconds / 3600

    def answers(self, kind: str) -> int:
        return sum(self.scores[kind].values())

    def figure(self, name: str, top_box: bool = False) -> float | int | None:
        """One figure of the dashboard (see `FIGURES`), None where there is nothing to measure."""
        return FIGURES[name](self, top_box)

    def figures(self, top_box: bool = False) -> dict[str, float | int | None]:
        """Every figure of the dashboard, None where the period has nothing to measure."""
        cache = self.__dict__.setdefault("_figure_cache", {})
        if top_box not in cache:
            cache[top_box] = {name: compute(self, top_box) for name, compute in FIGURES.items()}
        return cache[top_box]

    def answered(self, kind: str) -> dict[int, int]:
        return {score: count for score, count in self.scores[kind].items() if count}

    def sla_percent(self) -> float | None:
        met, breached = self.counts["sla_met"], self.counts["sla_breached"]
        return met * 100.0 / (met + breached) if met + breached else None


def _count(name: str):
    return lambda totals, top_box: totals.counts[name]


def _hours(histogram: str, q: float):
    return lambda totals, top_box: totals.hours(histogram, q)


FIGURES = {
    "created": _count("created"),
    "solved": _count("solved"),
    "reopened": _count("reopened"),
    "messages_in": _count("messages_in"),
    "messages_out": _count("messages_out"),
    "first_responses": _count("first_response_count"),
    "first_response_median_business_hours": _hours("first_response_business_hist", 0.5),
    "first_response_p90_business_hours": _hours("first_response_business_hist", 0.9),
    "first_response_median_calendar_hours": _hours("first_response_calendar_hist", 0.5),
    "first_response_p90_calendar_hours": _hours("first_response_calendar_hist", 0.9),
    "resolutions": _count("resolution_count"),
    "resolution_median_business_hours": _hours("resolution_business_hist", 0.5),
    "resolution_p90_business_hours": _hours("resolution_business_hist", 0.9),
    "resolution_median_calendar_hours": _hours("resolution_calendar_hist", 0.5),
    "resolution_p90_calendar_hours": _hours("resolution_calendar_hist", 0.9),
    "sla_met": _count("sla_met"),
    "sla_breached": _count("sla_breached"),
    "sla_percent": lambda totals, top_box: totals.sla_percent(),
    "csat_answers": lambda totals, top_box: totals.answers("csat"),
    "csat_percent": lambda totals, top_box: formulas.csat_percent(totals.answered("csat"), top_box=top_box),
    "nps_answers": lambda totals, top_box: totals.answers("nps"),
    "nps": lambda totals, top_box: formulas.nps(totals.answered("nps")),
    "ces_answers": lambda totals, top_box: totals.answers("ces"),
    "ces": lambda totals, top_box: formulas.ces(totals.answered("ces")),
}


@dataclass
class Dashboard:
    filters: Filters
    current: Totals
    previous: Totals
    by_day: dict[dt.date, Totals]
    by_agent: dict[int | None, Totals]
    by_channel: dict[str, Totals]

    def days(self) -> list[dt.date]:
        return [self.filters.start + dt.timedelta(days=i) for i in range(self.filters.days)]

    def series(self, figure: str) -> list[tuple[dt.date, float | int | None]]:
        """One figure per day of the period, every day present (empty days: 0 or None)."""
        empty = Totals()
        return [(day, self.by_day.get(day, empty).figure(figure, self.filters.top_box)) for day in self.days()]


# Smallest first: each table with the columns it can filter or group by (the day aside).
TABLES = (
    ("metrics_storedailyrollup", {"store_id", "channel"}),
    ("metrics_agentdailyrollup", {"store_id", "team_id", "agent_id"}),
    ("metrics_dailyrollup", {"store_id", "channel", "team_id", "agent_id"}),
)


TABLE_KEYS = {
    "metrics_storedailyrollup": ("store_id", "channel"),
    "metrics_agentdailyrollup": ("store_id", "team_id", "agent_id"),
    "metrics_dailyrollup": ("store_id", "channel", "team_id", "agent_id"),
}
MONTHLY_TABLES = {
    "metrics_storedailyrollup": "metrics_storemonthlyrollup",
    "metrics_agentdailyrollup": "metrics_agentmonthlyrollup",
    "metrics_dailyrollup": "metrics_monthlyrollup",
}
VALUE_COLUMNS = (*COUNTS, *HISTOGRAMS, *(name for name, _low, _high in SCORE_ARRAYS.values()))


def _table(filters: Filters, group_by: str | None = None) -> str:
    """The smallest rollup table holding the columns the filters and the grouping need."""
    needed = {column for column, value in (("channel", filters.channel), ("team_id", filters.team_id),
                                           ("agent_id", filters.agent_id)) if value is not None}
    if group_by:
        needed.add(group_by)
    return next(table for table, columns in TABLES if needed <= columns)


def _run(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def load_dashboard(
    filters: Filters, scope: Scope, *, days: str | None = "series", agents: str | None = None
) -> Dashboard:
    """The figures of one dashboard: the period per channel (its totals are their sum), the
    previous period's totals, and per day and per agent when asked: "series" reads only the
    histograms the page's charts and agent table show, "full" every one (CSV and API rows)."""
    dashboard = Dashboard(filters, Totals(), Totals(), {}, {}, {})
    previous = filters.previous()
    # Both periods per channel in one query (each query has a fixed cost: hundreds of sums to plan).
    conditions, params = _where(filters, scope, None)
    source, params = _source(
        _table(filters, "channel"), [(previous.start, previous.end), (filters.start, filters.end)], conditions, params
    )
    rows = _run(f"SELECT r.day >= %s, r.channel, {_sums()} FROM {source} GROUP BY 1, 2", [filters.start, *params])
    for is_current, channel, *values in rows:
        totals = Totals.from_row(values)
        if is_current:
            dashboard.by_channel[channel] = totals
            dashboard.current = dashboard.current + totals
        else:
            dashboard.previous = dashboard.previous + totals
    where, params = _where(filters, scope, filters.start)
    if days:
        histograms = HISTOGRAMS if days == "full" else SERIES_HISTOGRAMS
        for day, *values in _run(
            f"SELECT r.day, {_sums(histograms)} FROM {_table(filters)} r WHERE {where} GROUP BY r.day", params
        ):
            dashboard.by_day[day] = Totals.from_row(values, histograms)
    if agents:
        histograms = HISTOGRAMS if agents == "full" else SERIES_HISTOGRAMS
        conditions, condition_params = _where(filters, scope, None)
        source, source_params = _source(
            _table(filters, "agent_id"), [(filters.start, filters.end)], conditions, condition_params
        )
        for agent_id, *values in _run(
            f"SELECT r.agent_id, {_sums(histograms)} FROM {source} GROUP BY r.agent_id", source_params
        ):
            dashboard.by_agent[agent_id] = Totals.from_row(values, histograms)
    return dashboard


def change(current: float | int | None, previous: float | int | None) -> float | None:
    """Difference from the previous period (in the figure's own unit), None when either is empty."""
    if current is None or previous is None:
        return None
    return current - previous


def survey_comments(filters: Filters, scope: Scope, limit: int = 20):
    """The latest survey answers with a comment in the period, with their tickets."""
    from surveys.models import SurveyAnswer

    answers = SurveyAnswer.objects.exclude(comment="").filter(
        answered_at__gte=_start_of(filters.start), answered_at__lt=_start_of(filters.end + dt.timedelta(days=1))
    )
    if scope.store_ids is not None:
        answers = answers.filter(store_id__in=scope.store_ids)
    for name, value in (("store_id", filters.store_id), ("channel", filters.channel),
                        ("team_id", filters.team_id), ("agent_id", filters.agent_id)):
        if value is not None:
            answers = answers.filter(**{name: value})
    return answers.select_related("ticket", "agent").order_by("-answered_at", "-pk")[:limit]


def _start_of(day: dt.date) -> dt.datetime:
    from metrics.rollup import day_start

    return day_start(day)
