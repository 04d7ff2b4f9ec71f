"""The "chat" provider: the shop chat widget. Visitors' messages arrive over the widget's own
WebSocket (channels_ingest.widget.consumers), not by webhook; replies leave through
`channels_ingest.widget.outbound`."""

from __future__ import annotations

from typing import ClassVar

from channels_ingest.base import Adapter, SendResult, SignatureInvalid
from tickets.models import Channel


class ChatWidgetAdapter(Adapter):
    slug: ClassVar[str] = "chat"
    channel: ClassVar[str] = Channel.CHAT

    def verify(self, request, account) -> None:
        raise SignatureInvalid("the chat widget takes no webhooks")

    def parse(self, event):
        return []

    def send_reply(self, message) -> SendResult:
        from channels_ingest.widget.outbound import send_chat_reply

        return send_chat_reply(message)
