"""Raw MIME POST: any mail server, relay or script that can run a command per message posts the
email exactly as received. Documented in the README ("Inbound email by raw MIME POST").
Message format: RFC 5322, https://www.rfc-editor.org/rfc/rfc5322

    POST /hooks/mime/<account public id>/
    Content-Type: message/rfc822
    X-Helpdesk-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the account's signing_secret>

    <the raw message, headers and body, byte for byte>

For example, from a Postfix pipe or procmail:

    body=$(mktemp); cat > "$body"
    sig=$(openssl dgst -sha256 -hmac "$SECRET" -hex < "$body" | sed 's/^.* //')
    curl --fail -H 'Content-Type: message/rfc822' -H "X-Helpdesk-Signature: sha256=$sig" \\
         --data-binary @"$body" "https://helpdesk.example.com/hooks/mime/$ACCOUNT/"

Any Content-Type is read as message/rfc822: the body is always taken to be the email.
The signature is the one the generic webhook uses (same header, same scheme), so one small sender
script serves both. The event id is the email's Message-ID: resending a message stores it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels_ingest.adapters.generic.adapter import verify_helpdesk_signature
from channels_ingest.adapters.mime.inbound import (
    InboundEmail,
    InboundEmailWebhookAdapter,
    message_id_from_headers,
)
from channels_ingest.base import MalformedRequest

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount


class RawMimeAdapter(InboundEmailWebhookAdapter):
    slug = "mime"

    def verify(self, request: HttpRequest, account: ChannelAccount) -> None:
        verify_helpdesk_signature(request, account)

    def event_id(self, request: HttpRequest, account: ChannelAccount) -> str:
        if not request.body.strip():
            raise MalformedRequest("the body is empty: it must be the raw email")
        return super().event_id(request, account)

    def message_id(self, request: HttpRequest) -> str:
        return message_id_from_headers(request.body)

    def read_email(self, event: InboundEvent) -> InboundEmail:
        return InboundEmail(raw=event.body_bytes)
