from __future__ import annotations

from django.urls import path

from tickets.routing import views

app_name = "routing"

urlpatterns = [
    path("availability/", views.set_my_availability, name="availability"),
]
