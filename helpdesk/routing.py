"""WebSocket routes of every app, gathered in one place for the ASGI router."""

from __future__ import annotations

from django.urls import path

from tickets.consumers import InboxConsumer

websocket_urlpatterns = [
    path("ws/inbox/", InboxConsumer.as_asgi()),
]
