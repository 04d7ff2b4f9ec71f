"""SendGrid Inbound Parse: SendGrid receives the mail of a (sub)domain whose MX points to it and
posts each email, as multipart/form-data, to the URL set in Settings → Inbound Parse.
https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook

Two formats, both accepted: the default parsed fields (headers, from, to, subject, text, html,
attachment-info + attachment1...), or, with "POST the raw, full MIME message" ticked, the raw email
in the `email` field (it keeps every byte: prefer it).

Authentication: Inbound Parse signs nothing, so the merchant puts basic-auth credentials in the
URL they give SendGrid: https://<user>:<password>@helpdesk.example.com/hooks/sendgrid/<account>/
(account secret `webhook_secret` = "user:password"). django-anymail checks them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from anymail.webhooks.sendgrid import SendGridInboundWebhookView

from channels_ingest.adapters.mime.inbound import (
    InboundEmail,
    InboundEmailWebhookAdapter,
    anymail_email,
    anymail_view,
    basic_auth_credentials,
    form_field_bytes,
    message_id_from_headers,
    readable_form,
    rebuild_request,
    run_anymail_validators,
    spam_metadata,
    stored_content_type,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount


class SendGridAdapter(InboundEmailWebhookAdapter):
    slug = "sendgrid"

    def verify(self, request: HttpRequest, account: ChannelAccount) -> None:
        view = anymail_view(SendGridInboundWebhookView, webhook_secret=basic_auth_credentials(account))
        # Basic auth reads only the Authorization header: the form is not parsed before it passes.
        run_anymail_validators(view, request)

    def message_id(self, request: HttpRequest) -> str:
        fields = readable_form(request).POST
        # Raw mode: the whole email; default mode: its header block.
        for name in ("email", "headers"):
            if name in fields:
                return message_id_from_headers(fields[name])
        return ""

    def read_email(self, event: InboundEvent) -> InboundEmail:
        body, content_type = event.body_bytes, stored_content_type(event)
        request = rebuild_request(body, content_type)
        metadata = _envelope(request.POST.get("envelope", ""))
        if "email" in request.POST:
            return InboundEmail(raw=form_field_bytes(body, content_type, "email"), metadata=metadata)
        # Parsing needs no credentials: they were checked when the delivery arrived.
        view = anymail_view(SendGridInboundWebhookView, webhook_secret=[])
        message = anymail_email(view, request, slug=self.slug)
        return InboundEmail(message=message, metadata={**metadata, **spam_metadata(message)})


def _envelope(value: str) -> dict[str, str]:
    """SMTP envelope: {"to": ["support@..."], "from": "customer@..."}; who the mail was really for."""
    try:
        envelope = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(envelope, dict):
        return {}
    found = {}
    if isinstance(envelope.get("from"), str) and envelope["from"]:
        found["envelope_sender"] = envelope["from"]
    recipients = envelope.get("to")
    if isinstance(recipients, list) and recipients and isinstance(recipients[0], str):
        found["envelope_recipient"] = recipients[0]
    return found
