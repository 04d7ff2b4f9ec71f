"""Turning a `metrics.queries.Dashboard` into rows: one shape for the CSV export and the API."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from metrics.queries import Dashboard, Totals, change
from tickets.models import Channel

FIGURE_ORDER = (
    "created", "solved", "reopened", "messages_in", "messages_out",
    "first_responses", "first_response_median_business_hours", "first_response_p90_business_hours",
    "first_response_median_calendar_hours", "first_response_p90_calendar_hours",
    "resolutions", "resolution_median_business_hours", "resolution_p90_business_hours",
    "resolution_median_calendar_hours", "resolution_p90_calendar_hours",
    "sla_met", "sla_breached", "sla_percent",
    "csat_answers", "csat_percent", "nps_answers", "nps", "ces_answers", "ces",
)


def _rounded(value):
    return round(value, 2) if isinstance(value, float) else value


def figures_of(totals: Totals, top_box: bool) -> dict:
    return {name: _rounded(value) for name, value in totals.figures(top_box).items()}


def agent_names(agent_ids) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=[a for a in agent_ids if a is not None])
    return {user.pk: user.get_full_name() or user.get_username() for user in users}


def summary(dashboard: Dashboard) -> dict:
    top_box = dashboard.filters.top_box
    current = figures_of(dashboard.current, top_box)
    previous = figures_of(dashboard.previous, top_box)
    return {
        "current": current,
        "previous": previous,
        "change": {name: _rounded(change(current[name], previous[name])) for name in FIGURE_ORDER},
        "score_distribution": {kind: {str(s): c for s, c in counts.items()}
                               for kind, counts in dashboard.current.scores.items()},
    }


def rows(dashboard: Dashboard, by: str) -> list[dict]:
    """Rows of figures: by "day" (every day of the period), "agent" or "channel"."""
    top_box = dashboard.filters.top_box
    if by == "day":
        empty = Totals()
        return [{"day": day.isoformat(), **figures_of(dashboard.by_day.get(day, empty), top_box)}
                for day in dashboard.days()]
    if by == "agent":
        names = agent_names(dashboard.by_agent)
        ordered = sorted(dashboard.by_agent.items(), key=lambda item: (item[0] is None, names.get(item[0], "")))
        return [{"agent_id": agent_id, "agent": names.get(agent_id, _("Unassigned") if agent_id is None else str(agent_id)),
                 **figures_of(totals, top_box)} for agent_id, totals in ordered]
    if by == "channel":
        labels = dict(Channel.choices)
        return [{"channel": channel, "channel_name": str(labels.get(channel, channel)), **figures_of(totals, top_box)}
                for channel, totals in sorted(dashboard.by_channel.items())]
    raise ValueError(by)
