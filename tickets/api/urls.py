"""Routes of the REST API, included at /api/v1/ (see `tickets.api.views`)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tickets.api.auth import ObtainTokenView
from tickets.api.order_actions import TicketOrderActionView
from tickets.api.ticket_links import (
    TicketLinksView,
    TicketLinkView,
    TicketMergeView,
    TicketSplitView,
)
from tickets.api.views import CustomerViewSet, OrderViewSet, TicketMessageViewSet, TicketViewSet
from tickets.inbox.api import TicketBulkView

app_name = "api"

# SimpleRouter, not DefaultRouter: the browsable root view would be one more endpoint outside
# our permission classes, and the OpenAPI docs at /api/docs/ already list everything.
router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register(
    r"tickets/(?P<ticket_id>[0-9]+)/messages", TicketMessageViewSet, basename="ticket-message"
)
router.register("customers", CustomerViewSet, basename="customer")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path(
        "tickets/<int:ticket_id>/orders/<int:order_id>/<str:action>/",
        TicketOrderActionView.as_view(),
        name="ticket-order-action",
    ),
    # Before the router's tickets/{id}/, which would take "bulk" for an id.
    path("tickets/bulk/", TicketBulkView.as_view(), name="ticket-bulk"),
    path("tickets/<int:ticket_id>/merge/", TicketMergeView.as_view(), name="ticket-merge"),
    path("tickets/<int:ticket_id>/split/", TicketSplitView.as_view(), name="ticket-split"),
    path("tickets/<int:ticket_id>/links/", TicketLinksView.as_view(), name="ticket-links"),
    path("tickets/<int:ticket_id>/links/<int:link_id>/", TicketLinkView.as_view(), name="ticket-link"),
    path("metrics/", include("metrics.api.urls")),
    *router.urls,
]
