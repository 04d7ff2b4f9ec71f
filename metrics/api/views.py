"""The dashboards' figures through the REST API, under /api/v1/metrics/.

Same permission classes as the tickets API (`tickets.api.permissions.HasHelpdeskRole`), and the
same scope as the pages (`metrics.scope`): agents get their own figures, managers their stores',
admins everything. Every endpoint takes the dashboard's filters as query parameters: from, to
(YYYY-MM-DD, default the last 30 days), store, channel, team, agent, top_box.

======================================  =====================  ==============  =====
Endpoint                                agent                  manager         admin
======================================  =====================  ==============  =====
GET metrics/summary/                    own figures            their stores    all
GET metrics/rows/?by=day|agent|channel  own figures            their stores    all
GET metrics/comments/                   own answers            their stores    all
GET metrics/customers/{id}/value/       customers they see     same            all
======================================  =====================  ==============  =====
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics import customer_value, presenters
from metrics.queries import FORMULAS, load_dashboard, parse_filters, survey_comments
from metrics.scope import scope_for
from metrics.views import ROW_PARTS
from tickets.access import visible_customers, visible_store_ids
from tickets.api.permissions import HasHelpdeskRole

FILTER_PARAMETERS = [
    OpenApiParameter("from", str, description="First day, YYYY-MM-DD (default: 29 days before `to`)"),
    OpenApiParameter("to", str, description="Last day, YYYY-MM-DD (default: today)"),
    OpenApiParameter("store", int), OpenApiParameter("channel", str), OpenApiParameter("team", int),
    OpenApiParameter("agent", int, description="Agents always get their own figures"),
    OpenApiParameter("top_box", bool, description="CSAT counts only 5 (very satisfied)"),
]


class MetricsAPIView(APIView):
    permission_classes = [HasHelpdeskRole]

    def filters(self, request: Request):
        scope = scope_for(request.user)
        try:
            return scope, parse_filters(request.query_params, scope)
        except DjangoValidationError as error:
            raise ValidationError({"detail": error.messages}) from None


def _filters_json(filters) -> dict:
    return {"from": filters.start, "to": filters.end, "store": filters.store_id, "channel": filters.channel,
            "team": filters.team_id, "agent": filters.agent_id, "top_box": filters.top_box}


@extend_schema(
    tags=["metrics"], parameters=FILTER_PARAMETERS, summary=_("Dashboard figures of a period and the one before"),
    responses=OpenApiResponse(OpenApiTypes.OBJECT, description="filters, previous_period, current, previous, change, "
                              "score_distribution, formulas"),
)
class SummaryView(MetricsAPIView):
    def get(self, request: Request) -> Response:
        scope, filters = self.filters(request)
        dashboard = load_dashboard(filters, scope, days=None)
        previous = filters.previous()
        return Response({
            "filters": _filters_json(filters),
            "previous_period": {"from": previous.start, "to": previous.end},
            **presenters.summary(dashboard),
            "formulas": {key: str(text) for key, text in FORMULAS.items()},
        })


@extend_schema(
    tags=["metrics"],
    parameters=[*FILTER_PARAMETERS, OpenApiParameter("by", str, enum=["day", "agent", "channel"])],
    summary=_("Dashboard figures per day, agent or channel"),
    responses=OpenApiResponse(OpenApiTypes.OBJECT, description="filters, by, results: one row of figures each"),
)
class RowsView(MetricsAPIView):
    def get(self, request: Request) -> Response:
        scope, filters = self.filters(request)
        by = request.query_params.get("by", "day")
        if by not in ("day", "agent", "channel"):
            raise ValidationError({"by": [_("by must be day, agent or channel.")]})
        return Response({"filters": _filters_json(filters), "by": by,
                         "results": presenters.rows(load_dashboard(filters, scope, **ROW_PARTS[by]), by)})


@extend_schema(
    tags=["metrics"], parameters=FILTER_PARAMETERS, summary=_("Latest survey comments with their tickets"),
    responses=OpenApiResponse(OpenApiTypes.OBJECT, description="filters, results: the latest 100 answers with a comment"),
)
class CommentsView(MetricsAPIView):
    def get(self, request: Request) -> Response:
        scope, filters = self.filters(request)
        answers = survey_comments(filters, scope, limit=100)
        return Response({"filters": _filters_json(filters), "results": [
            {"id": a.pk, "kind": a.kind, "score": a.score, "comment": a.comment, "answered_at": a.answered_at,
             "ticket": a.ticket_id, "store": a.store_id, "channel": a.channel, "team": a.team_id, "agent": a.agent_id}
            for a in answers
        ]})


@extend_schema(
    tags=["metrics"], summary=_("A customer's lifetime value per currency"),
    responses=OpenApiResponse(OpenApiTypes.OBJECT, description="customer, values: one per currency"),
)
class CustomerValueView(MetricsAPIView):
    def get(self, request: Request, customer_id: int) -> Response:
        scope_for(request.user)
        customer = get_object_or_404(visible_customers(request.user), pk=customer_id)
        return Response({"customer": customer.pk, "values": [
            {"currency": v.currency, "total": str(v.total), "order_count": v.order_count,
             "average_order_value": str(v.average_order_value), "first_order_at": v.first_order_at,
             "last_order_at": v.last_order_at, "segment": v.segment}
            for v in customer_value.lifetime_value(customer, visible_store_ids(request.user))
        ]})
