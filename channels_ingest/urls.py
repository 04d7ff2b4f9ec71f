from __future__ import annotations

from django.urls import path

from channels_ingest.views import webhook

app_name = "channels_ingest"
urlpatterns = [
    path("<slug:provider>/<str:account>/", webhook, name="webhook"),
]
