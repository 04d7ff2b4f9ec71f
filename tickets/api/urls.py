"""Routes of the REST API, included at /api/v1/ (see `tickets.api.views`)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tickets.api.auth import ObtainTokenView
from tickets.api.order_actions import TicketOrderActionView
from tickets.api.views import CustomerViewSet, OrderViewSet, TicketMessageViewSet, TicketViewSet

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
    path("metrics/", include("metrics.api.urls")),
    *router.urls,
]
