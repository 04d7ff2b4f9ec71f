"""The widget's WebSocket route. Visitors' sockets come from the shops' pages, whose origins are
not this installation's hosts: they bypass the agents' origin check (ALLOWED_HOSTS) and are checked
against each store's allowed origins by the consumer instead."""

from __future__ import annotations

from channels.routing import URLRouter
from django.urls import path

from channels_ingest.widget.consumers import WidgetConsumer

WIDGET_SOCKET_PREFIX = "/ws/widget/"

websocket_urlpatterns = [
    path("ws/widget/<str:public_key>/", WidgetConsumer.as_asgi()),
]


class WidgetSocketsFirst:
    """ASGI: `/ws/widget/...` to the widget's router, every other socket to `agents_app`."""

    def __init__(self, agents_app) -> None:
        self.agents_app = agents_app
        self.widget_app = URLRouter(websocket_urlpatterns)

    async def __call__(self, scope, receive, send):
        if scope.get("path", "").startswith(WIDGET_SOCKET_PREFIX):
            return await self.widget_app(scope, receive, send)
        return await self.agents_app(scope, receive, send)
