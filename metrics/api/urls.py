"""Routes of the metrics API, included by `tickets.api.urls` under /api/v1/metrics/."""

from __future__ import annotations

from django.urls import path

from metrics.api import views

urlpatterns = [
    path("summary/", views.SummaryView.as_view(), name="metrics-summary"),
    path("rows/", views.RowsView.as_view(), name="metrics-rows"),
    path("comments/", views.CommentsView.as_view(), name="metrics-comments"),
    path("customers/<int:customer_id>/value/", views.CustomerValueView.as_view(), name="metrics-customer-value"),
]
