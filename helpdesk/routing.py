"""WebSocket routes of every app, gathered in one place for the ASGI router."""

from __future__ import annotations

from django.urls import path

from tickets.consumers import InboxConsumer
from tickets.presence import PresenceConsumer

websocket_urlpatterns = [
    path("ws/inbox/", InboxConsumer.as_asgi()),
    path("ws/tickets/<int:ticket_id>/presence/", PresenceConsumer.as_asgi()),
]
