"""Postmark inbound: Postmark receives the mail of an inbound stream (its own address, or a domain
whose MX points to it) and posts each email as JSON to the stream's inbound webhook URL.
https://postmarkapp.com/developer/webhooks/inbound-webhook
https://postmarkapp.com/developer/user-guide/inbound/parse-an-email

The JSON carries the parsed email (FromFull, ToFull, Subject, TextBody, HtmlBody, Headers[],
Attachments[] in base64) and, when "Include raw email content" is on, the raw email (RawEmail).

Authentication: Postmark signs nothing; the merchant puts basic-auth credentials in the webhook
URL: https://<user>:<password>@helpdesk.example.com/hooks/postmark/<account>/
(account secret `webhook_secret` = "user:password"). django-anymail checks them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from anymail.webhooks.postmark import PostmarkInboundWebhookView

from channels_ingest.adapters.mime.inbound import (
    InboundEmail,
    InboundEmailWebhookAdapter,
    anymail_email,
    anymail_view,
    basic_auth_credentials,
    clean_message_id,
    message_id_from_headers,
    rebuild_request,
    run_anymail_validators,
    spam_metadata,
    stored_content_type,
)
from channels_ingest.base import MalformedRequest, ParseError

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount


class PostmarkAdapter(InboundEmailWebhookAdapter):
    slug = "postmark"

    def verify(self, request: HttpRequest, account: ChannelAccount) -> None:
        view = anymail_view(PostmarkInboundWebhookView, webhook_secret=basic_auth_credentials(account))
        run_anymail_validators(view, request)

    def event_id(self, request: HttpRequest, account: ChannelAccount) -> str:
        if _json(request.body) is None:
            raise MalformedRequest("the body is not a Postmark inbound JSON object")
        return super().event_id(request, account)

    def message_id(self, request: HttpRequest) -> str:
        payload = _json(request.body) or {}
        headers = payload.get("Headers")
        for header in headers if isinstance(headers, list) else []:
            if isinstance(header, dict) and str(header.get("Name", "")).lower() == "message-id":
                return clean_message_id(header.get("Value"))
        if isinstance(payload.get("RawEmail"), str):
            found = message_id_from_headers(payload["RawEmail"])
            if found:
                return found
        postmark_id = payload.get("MessageID")
        if isinstance(postmark_id, str) and postmark_id.strip():
            # Postmark's own id of the inbound message, the same on each of its retries.
            return "postmark:" + postmark_id.strip()
        return ""

    def read_email(self, event: InboundEvent) -> InboundEmail:
        payload = _json(event.body_bytes)
        if payload is None:
            raise ParseError("the body is not a Postmark inbound JSON object")
        request = rebuild_request(event.body_bytes, stored_content_type(event) or "application/json")
        # Parsing needs no credentials: they were checked when the delivery arrived.
        view = anymail_view(PostmarkInboundWebhookView, webhook_secret=[])
        message = anymail_email(view, request, slug=self.slug)
        raw = payload["RawEmail"].encode("utf-8") if isinstance(payload.get("RawEmail"), str) else None
        metadata = spam_metadata(message)
        if isinstance(payload.get("MessageID"), str):
            metadata["postmark_message_id"] = payload["MessageID"]
        return InboundEmail(raw=raw, message=message, metadata=metadata)


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None
