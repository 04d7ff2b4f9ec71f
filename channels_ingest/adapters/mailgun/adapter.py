"""Mailgun inbound routes: a route's forward("https://helpdesk.example.com/hooks/mailgun/<account>/")
posts each received email here.
Receiving: https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http
Signature: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks

Two formats, both accepted: "fully parsed" form fields (from, subject, body-plain, body-html,
message-headers, attachment-1...), or the raw email in a `body-mime` field when the route's URL
ends in "mime" (append `?mime` to ours; the raw form keeps every byte, so prefer it).

Authentication: every post carries `timestamp`, `token` and `signature` = hex HMAC-SHA256 of
timestamp + token, keyed with the domain's HTTP webhook signing key (account secret
`webhook_signing_key`). django-anymail checks the signature; we also refuse old timestamps.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.utils import timezone

from channels_ingest.adapters.mime.inbound import (
    InboundEmail,
    InboundEmailWebhookAdapter,
    anymail_email,
    anymail_view,
    clean_message_id,
    form_field_bytes,
    message_id_from_headers,
    readable_form,
    rebuild_request,
    run_anymail_validators,
    spam_metadata,
    stored_content_type,
)
from channels_ingest.base import SignatureInvalid

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount

# Mailgun signs timestamp + token only, not the body, so a captured post stays valid: the
# timestamp bounds how long. Mailgun retries a failed post for 8 hours (10 min, 15 min, 30 min,
# 1 h, 2 h, 4 h) and is not documented to sign retries afresh, so a shorter window could refuse a
# retry and lose the email. A replay inside the window is harmless anyway: the delivery is stored
# once under the email's Message-ID. An account can narrow it (settings signature_max_age_seconds).
DEFAULT_MAX_SIGNATURE_AGE = timedelta(hours=8, minutes=30)
# A signature from the future is accepted only within ordinary clock drift.
MAX_CLOCK_SKEW = timedelta(minutes=5)


class MailgunAdapter(InboundEmailWebhookAdapter):
    slug = "mailgun"

    def verify(self, request: HttpRequest, account: ChannelAccount) -> None:
        signing_key = account.get_secrets().get("webhook_signing_key")
        if not signing_key or not isinstance(signing_key, str):
            raise SignatureInvalid("the account has no Mailgun webhook signing key")
        try:
            view = anymail_view(
                MailgunInboundWebhookView,
                webhook_signing_key=signing_key,
                api_key=None,  # no fallback to a global MAILGUN_API_KEY
                webhook_secret=[],  # Mailgun authenticates by signature, not basic auth
            )
        except UnicodeError:
            raise SignatureInvalid("the account's Mailgun signing key is not ASCII") from None
        form = readable_form(request)
        run_anymail_validators(view, form)
        _refuse_stale(form.POST.get("timestamp", ""), account)

    def message_id(self, request: HttpRequest) -> str:
        fields = readable_form(request).POST
        if "body-mime" in fields:
            return message_id_from_headers(fields["body-mime"])
        try:
            headers = json.loads(fields.get("message-headers", "[]"))
        except ValueError:
            return ""
        # A JSON list of [name, value] pairs, in the message's order.
        for pair in headers if isinstance(headers, list) else []:
            if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == "message-id":
                return clean_message_id(pair[1])
        return ""

    def read_email(self, event: InboundEvent) -> InboundEmail:
        body, content_type = event.body_bytes, stored_content_type(event)
        request = rebuild_request(body, content_type)
        envelope = {
            key: request.POST[name]
            for key, name in (("envelope_sender", "sender"), ("envelope_recipient", "recipient"))
            if request.POST.get(name)
        }
        if "body-mime" in request.POST:
            return InboundEmail(raw=form_field_bytes(body, content_type, "body-mime"), metadata=envelope)
        # Parsing needs no key: the signature was checked when the delivery arrived.
        view = anymail_view(
            MailgunInboundWebhookView, webhook_signing_key="", api_key=None, webhook_secret=[]
        )
        message = anymail_email(view, request, slug=self.slug)
        return InboundEmail(message=message, metadata=spam_metadata(message))


def _refuse_stale(timestamp: str, account: ChannelAccount) -> None:
    try:
        signed_at = int(timestamp)
    except (TypeError, ValueError):
        raise SignatureInvalid("the signature's timestamp is not a number") from None
    max_age = DEFAULT_MAX_SIGNATURE_AGE
    configured = account.settings.get("signature_max_age_seconds")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        max_age = timedelta(seconds=configured)
    now = timezone.now().timestamp()
    if signed_at < now - max_age.total_seconds():
        raise SignatureInvalid("the signature is too old (a replay, or a clock far off)")
    if signed_at > now + MAX_CLOCK_SKEW.total_seconds():
        raise SignatureInvalid("the signature's timestamp is in the future")
