"""Managers' dashboards, their CSV export, and the customer segments page (server-rendered)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from metrics import charts, customer_value, presenters
from metrics.csv_export import write_csv
from metrics.queries import FORMULAS, Filters, load_dashboard, parse_filters, survey_comments
from metrics.scope import Scope, scope_for
from tickets.models import Channel, Team

# (figure, label, unit, formula key): the figure cards at the top of the dashboard.
CARDS = (
    ("created", gettext_lazy("Tickets created"), "", "created"),
    ("solved", gettext_lazy("Tickets solved"), "", "solved"),
    ("reopened", gettext_lazy("Tickets reopened"), "", "reopened"),
    ("first_response_median_business_hours", gettext_lazy("First response, median (business h)"), "h", "first_response"),
    ("first_response_p90_business_hours", gettext_lazy("First response, p90 (business h)"), "h", "first_response"),
    ("first_response_median_calendar_hours", gettext_lazy("First response, median (calendar h)"), "h", "first_response"),
    ("resolution_median_business_hours", gettext_lazy("Resolution, median (business h)"), "h", "resolution"),
    ("resolution_p90_business_hours", gettext_lazy("Resolution, p90 (business h)"), "h", "resolution"),
    ("resolution_median_calendar_hours", gettext_lazy("Resolution, median (calendar h)"), "h", "resolution"),
    ("sla_percent", gettext_lazy("SLA compliance"), "%", "sla"),
    ("csat_percent", gettext_lazy("CSAT"), "%", "csat"),
    ("nps", gettext_lazy("NPS"), "", "nps"),
    ("ces", gettext_lazy("CES"), "", "ces"),
    ("messages_in", gettext_lazy("Messages in"), "", "messages"),
    ("messages_out", gettext_lazy("Messages out"), "", "messages"),
)
SERIES = (
    ("created", gettext_lazy("Tickets created per day"), ""),
    ("solved", gettext_lazy("Tickets solved per day"), ""),
    ("first_response_median_business_hours", gettext_lazy("First response, median business hours"), " h"),
    ("resolution_median_business_hours", gettext_lazy("Resolution, median business hours"), " h"),
    ("sla_percent", gettext_lazy("SLA compliance %"), "%"),
    ("csat_percent", gettext_lazy("CSAT %"), "%"),
    ("nps", gettext_lazy("NPS"), ""),
    ("ces", gettext_lazy("CES"), ""),
)
# What each kind of row needs read (see `metrics.queries.load_dashboard`).
ROW_PARTS = {"day": {"days": "full"}, "agent": {"days": None, "agents": "full"}, "channel": {"days": None}}
EXPORTS = {"day": gettext_lazy("per day"), "agent": gettext_lazy("per agent"), "channel": gettext_lazy("per channel")}


def with_scope(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; users without a helpdesk role get 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, scope_for(request.user), *args, **kwargs)

    return wrapped


def _filter_options(scope: Scope, filters: Filters) -> dict:
    users = get_user_model().objects.filter(agent_profile__isnull=False).order_by("first_name", "username")
    if scope.agent_id is not None:
        users = users.filter(pk=scope.agent_id)
    teams = Team.objects.all()
    if scope.store_ids is not None:
        teams = teams.filter(store_id__in=scope.store_ids) | teams.filter(store__isnull=True)
    return {
        "stores": scope.stores(),
        "channels": Channel.choices,
        "teams": teams.order_by("name"),
        "agents": users,
    }


def _bad_request(request: HttpRequest, error: ValidationError) -> HttpResponse:
    return render(request, "metrics/bad_request.html", {"errors": error.messages, "nav": "metrics"}, status=400)


def _display(value, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}{unit}" if unit != "h" else f"{value:.2f} h"
    return f"{value}{unit}"


@require_GET
@with_scope
def dashboard(request: HttpRequest, scope: Scope) -> HttpResponse:
    try:
        filters = parse_filters(request.GET, scope)
    except ValidationError as error:
        return _bad_request(request, error)
    data = load_dashboard(filters, scope, agents="series")
    top_box = filters.top_box
    summary = presenters.summary(data)
    cards = []
    for key, label, unit, formula in CARDS:
        if key == "csat_percent" and top_box:
            label, formula = _("CSAT (top box)"), "csat_top_box"
        current, previous, delta = summary["current"][key], summary["previous"][key], summary["change"][key]
        cards.append({
            "key": key, "label": label, "value": _display(current, unit), "previous": _display(previous, unit),
            "change": None if delta is None else (f"+{delta:g}" if delta > 0 else f"{delta:g}"),
            "formula": FORMULAS[formula],
        })
    series = [
        {"key": key, "chart": charts.line_chart(str(title), data.series(key), unit)} for key, title, unit in SERIES
    ]
    distributions = [
        {"kind": kind, "label": label, "chart": charts.bar_chart(
            _("Answers per score: %(kind)s") % {"kind": label},
            [(str(score), count) for score, count in data.current.scores[kind].items()],
        ), "formula": FORMULAS["csat_top_box" if kind == "csat" and top_box else kind]}
        for kind, label in (("csat", "CSAT"), ("nps", "NPS"), ("ces", "CES"))
    ]
    channel_rows = presenters.rows(data, "channel")
    channel_mix = charts.bar_chart(
        _("Tickets created per channel"), [(row["channel_name"], row["created"]) for row in channel_rows]
    )
    query = filters.as_query()
    context = {
        "nav": "metrics",
        "filters": filters,
        "previous": filters.previous(),
        "options": _filter_options(scope, filters),
        "scope": scope,
        "cards": cards,
        "series": series,
        "distributions": distributions,
        "channel_rows": channel_rows,
        "channel_mix": channel_mix,
        "agent_rows": presenters.rows(data, "agent"),
        "comments": survey_comments(filters, scope),
        "exports": [(by, label, "?" + urlencode({**query, "by": by})) for by, label in EXPORTS.items()],
        "top_box_query": "?" + urlencode({**query, "top_box": "0" if top_box else "1"}),
    }
    return render(request, "metrics/dashboard.html", context)


@require_GET
@with_scope
def export_csv(request: HttpRequest, scope: Scope) -> HttpResponse:
    """The dashboard's rows as CSV: ?by=day|agent|channel with the dashboard's filters."""
    try:
        filters = parse_filters(request.GET, scope)
        by = request.GET.get("by", "day")
        if by not in EXPORTS:
            raise ValidationError(_("by must be day, agent or channel."))
    except ValidationError as error:
        return _bad_request(request, error)
    rows = presenters.rows(load_dashboard(filters, scope, **ROW_PARTS[by]), by)
    keys = {"day": ["day"], "agent": ["agent_id", "agent"], "channel": ["channel", "channel_name"]}[by]
    body = write_csv([*keys, *presenters.FIGURE_ORDER], rows)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"metrics-{by}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@with_scope
def customer_segments(request: HttpRequest, scope: Scope) -> HttpResponse:
    """High, medium and low spenders by lifetime value, for managers (their stores) and admins."""
    if not scope.is_manager:
        raise PermissionDenied(_("Only managers and administrators may see customer segments."))
    currencies = customer_value.currencies(scope.store_ids)
    currency = request.GET.get("currency") or (currencies[0] if currencies else "EUR")
    if currency not in currencies and currencies:
        return _bad_request(request, ValidationError(_("No orders in this currency.")))
    context = {
        "nav": "metrics",
        "currencies": currencies,
        "summary": customer_value.segment_summary(currency, scope.store_ids),
    }
    return render(request, "metrics/customers.html", context)
