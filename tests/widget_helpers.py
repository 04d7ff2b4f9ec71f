"""Shared pieces of the chat widget tests: a store with its widget, a visitor's socket through the
product's real ASGI application (and the real Redis channel layer), and the Redis counters reset."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from channels_ingest.widget import limits
from channels_ingest.widget.models import WidgetSettings
from tests.factories import ChannelAccountFactory, StoreFactory
from tickets.models import Channel

SHOP = "https://shop.casalumbre.example"


def make_widget(slug: str = "casa-lumbre", *, origins: str = SHOP, language: str = "en", **fields) -> WidgetSettings:
    store = StoreFactory(name=slug.replace("-", " ").title(), slug=slug, default_language=language, country="ES")
    account = ChannelAccountFactory(store=store, channel=Channel.CHAT, provider="chat",
                                    display_name=f"Chat {slug}", external_id=f"{slug}-web")
    return WidgetSettings.objects.create(store=store, account=account, allowed_origins=origins, language=language,
                                         **fields)


def visitor_socket(widget: WidgetSettings, *, origin: str | None = SHOP, client: str = "198.51.100.7"):
    from helpdesk.asgi import application

    headers = [(b"origin", origin.encode())] if origin is not None else []
    communicator = WebsocketCommunicator(application, f"/ws/widget/{widget.public_key}/", headers=headers)
    communicator.scope["client"] = (client, 50000)
    return communicator


def clear_widget_counters() -> None:
    """Rate-limit windows and presence of earlier tests (this run's prefix only)."""
    client = limits.client()
    keys = list(client.scan_iter(f"{limits._prefix()}:*", count=1000))
    if keys:
        client.delete(*keys)


async def say(communicator, text: str, client_id: str) -> list[dict]:
    """Send a message and collect the frames it causes until the socket is quiet."""
    await communicator.send_json_to({"type": "message", "text": text, "client_id": client_id})
    frames = []
    # receive_nothing, not a timed-out receive: a timeout would cancel the application.
    while not await communicator.receive_nothing(timeout=1.5):
        frames.append(await communicator.receive_json_from(timeout=5))
    return frames
