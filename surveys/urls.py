from __future__ import annotations

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    # The token is django.core.signing output: URL-safe base64 and colons, never a slash.
    path("<str:token>/", views.answer, name="answer"),
]
