"""ASGI entry point: HTTP through Django, WebSockets through Channels routing."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from channels_ingest.asgi import WebhookApp  # noqa: E402
from channels_ingest.widget.routing import WidgetSocketsFirst  # noqa: E402
from helpdesk.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Webhooks take a lean path in front of Django's handler; everything else goes to Django.
        "http": WebhookApp(django_asgi_app),
        # The shop chat widget's sockets come from the shops' own origins, checked per store.
        "websocket": WidgetSocketsFirst(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
