from __future__ import annotations

from django.urls import path

from channels_ingest.adapters.shopify import views

app_name = "shopify"
urlpatterns = [
    path("install/<uuid:account>/", views.install, name="install"),
    path("callback/", views.callback, name="callback"),
]
