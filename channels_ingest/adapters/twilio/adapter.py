"""Twilio Programmable Messaging (SMS and MMS): inbound messages and status callbacks on one
webhook, replies through the REST API.
https://www.twilio.com/docs/messaging/guides/webhook-request
https://www.twilio.com/docs/usage/security#validating-requests
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status

Authentication: X-Twilio-Signature is the base64 HMAC-SHA1, keyed with the auth token, of the full
URL Twilio called followed by every POST parameter sorted by name, each name followed by its value.
Behind a proxy the URL this server sees is not the one Twilio called: it is rebuilt from the
public base URL (account setting `public_base_url`, else HELPDESK_PUBLIC_URL) and the request's
path; `signature_url` gives the exact URL when the number's webhook is configured differently.

Opt-out: Twilio's keywords (STOP, START, HELP...) are honoured: STOP marks the phone number opted
out and replies to it are blocked until START; error 21610 ("unsubscribed recipient") in a status
callback or a send answer marks it too. The keyword message itself joins the conversation.

Account: `external_id` is the Twilio number (E.164); secrets `account_sid`, `auth_token`; settings
`messaging_service_sid` (send through a Messaging Service instead of the number), `from_number`,
`public_base_url`, `signature_url`, `api_base_url`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django.conf import settings as django_settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_ingest.adapters.twilio import client
from channels_ingest.base import (
    Adapter,
    ChannelError,
    CustomerHandle,
    DeliveryStatus,
    InboundAttachment,
    NormalizedMessage,
    OptOut,
    ParseError,
    SendResult,
    SignatureInvalid,
    Skipped,
    TransientError,
    constant_time_equals,
)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio's default opt-out, opt-in and help keywords (the whole message, any case).
OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_KEYWORDS = {"START", "UNSTOP", "YES"}
HELP_KEYWORDS = {"HELP", "INFO"}
UNSUBSCRIBED_ERROR = "21610"
STATUS_STATES = {"sent": "sent", "delivered": "delivered", "read": "read", "undelivered": "failed", "failed": "failed"}
ERROR_TEXTS = {
    "21610": gettext_lazy("the recipient has unsubscribed (replied STOP)"),
    "30003": gettext_lazy("unreachable destination handset"),
    "30004": gettext_lazy("message blocked"),
    "30005": gettext_lazy("unknown destination handset"),
    "30006": gettext_lazy("landline or unreachable carrier"),
    "30007": gettext_lazy("message filtered by the carrier"),
    "30008": gettext_lazy("unknown error"),
    "63018": gettext_lazy("rate limit exceeded for the channel"),
}


def signature(url: str, params: list[tuple[str, str]], auth_token: str) -> str:
    """The X-Twilio-Signature Twilio computes for a POST of `params` to `url`."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_url(request, account) -> str:
    settings = account.settings or {}
    if settings.get("signature_url"):
        return str(settings["signature_url"])
    base = str(settings.get("public_base_url") or django_settings.PUBLIC_URL).rstrip("/")
    return base + request.get_full_path()


def url_variants(url: str) -> list[str]:
    """The URL as configured, and with the scheme's default port written out or left out: Twilio
    signs the URL exactly as entered in its console, which may carry :443 or not."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or not parts.hostname:
        return [url]
    if parts.port is None:
        other = parts._replace(netloc=f"{parts.netloc}:{default}")
    elif parts.port == default:
        other = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])
    else:
        return [url]
    return [url, urlunsplit(other)]


def webhook_url(account) -> str:
    """Where Twilio should post this account's messages and status callbacks."""
    base = str((account.settings or {}).get("public_base_url") or django_settings.PUBLIC_URL).rstrip("/")
    return f"{base}/hooks/twilio/{account.public_id}/"


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return []


def _is_status_callback(fields: dict[str, str]) -> bool:
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    return bool(status) and status != "received"


class TwilioSmsAdapter(Adapter):
    slug = "twilio"
    channel = "sms"
    SUPPORTED_EVENTS = ("received", "sent", "delivered", "undelivered", "failed", "read")

    def verify(self, request, account) -> None:
        token = account.get_secrets().get("auth_token")
        if not token:
            raise SignatureInvalid("the account has no auth token")
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureInvalid("X-Twilio-Signature missing")
        params = _form(request.body)
        # Every candidate is compared (no early exit), in constant time each.
        matches = [constant_time_equals(signature(url, params, token), given.strip())
                   for url in url_variants(signed_url(request, account))]
        if not any(matches):
            raise SignatureInvalid("X-Twilio-Signature wrong")

    def event_id(self, request, account) -> str:
        fields = dict(_form(request.body))
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        if not sid:
            return super().event_id(request, account)
        if _is_status_callback(fields):
            return f"status:{sid}:{fields.get('MessageStatus') or fields.get('SmsStatus')}"
        return f"in:{sid}"

    def parse(self, event) -> list:
        pairs = _form(event.body_bytes)
        if not pairs:
            raise ParseError("the body is not a form-encoded Twilio request")
        fields = dict(pairs)
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        if not sid:
            kind = "a voice call" if fields.get("CallSid") else "no MessageSid"
            return [Skipped(f"not a Twilio message ({kind})")]
        if _is_status_callback(fields):
            return _status(sid, fields)
        sender = fields.get("From", "").strip()
        if not sender:
            raise ParseError("an inbound message without From")
        handle = CustomerHandle(kind="phone", value=sender, phone=sender if sender.startswith("+") else "")
        text = fields.get("Body", "")
        metadata: dict[str, Any] = {"to": fields.get("To", "")}
        for key in ("MessagingServiceSid", "FromCountry", "FromCity", "NumSegments"):
            if fields.get(key):
                metadata[key] = fields[key]
        attachments = self._media(event.account, fields, metadata)
        items: list = [NormalizedMessage(channel=self.channel, external_id=sid, customer=handle, body_text=text,
                                         visible_text=text, thread_key=sender, attachments=attachments,
                                         metadata=metadata)]
        keyword = text.strip().upper()
        if keyword in OPT_OUT_KEYWORDS:
            metadata["opt_out"] = "stop"
            items.append(OptOut(customer=handle, opted_out=True, reason=keyword))
        elif keyword in OPT_IN_KEYWORDS:
            metadata["opt_out"] = "start"
            items.append(OptOut(customer=handle, opted_out=False, reason=keyword))
        elif keyword in HELP_KEYWORDS:
            metadata["opt_out"] = "help"
        return items

    def _media(self, account, fields: dict[str, str], metadata: dict) -> list[InboundAttachment]:
        try:
            count = int(fields.get("NumMedia") or 0)
        except ValueError:
            count = 0
        attachments = []
        credentials = client.credentials_for(account)
        for index in range(min(count, 10)):
            url = fields.get(f"MediaUrl{index}")
            if not url:
                continue
            try:
                content, served_type = client.fetch_media(credentials, url, django_settings.ATTACHMENT_MAX_BYTES)
            except client.TwilioError as exc:
                if not exc.permanent:
                    raise TransientError(f"media {url}: {exc}") from None
                metadata.setdefault("media_errors", []).append({"url": url, "error": str(exc)})
                continue
            content_type = fields.get(f"MediaContentType{index}") or served_type or "application/octet-stream"
            name = url.rstrip("/").rsplit("/", 1)[-1] or f"media-{index}"
            attachments.append(InboundAttachment(filename=name, content_type=content_type, content=content))
        return attachments

    def send_reply(self, message) -> SendResult:
        from tickets.delivery import phone_opted_out, record_opt_out

        account = message.channel_account
        credentials = client.credentials_for(account)
        if not credentials.account_sid or not credentials.auth_token:
            raise ChannelError(_("The account has no Twilio Account SID or auth token."), permanent=True)
        to = message.external_thread_id or message.ticket.external_thread_id or message.ticket.customer.phone
        if not to:
            raise ChannelError(_("The customer's phone number is unknown."), permanent=True)
        opted_out_at = phone_opted_out(to)
        if opted_out_at is not None:
            when = formats.date_format(timezone.localtime(opted_out_at), "DATETIME_FORMAT")
            raise ChannelError(
                _("Not sent: the customer texted STOP on %(when)s and must not receive text messages until "
                  "they text START.") % {"when": when},
                permanent=True,
            )
        settings = account.settings or {}
        fields = {"To": to, "Body": message.body_text, "StatusCallback": webhook_url(account)}
        if settings.get("messaging_service_sid"):
            fields["MessagingServiceSid"] = str(settings["messaging_service_sid"])
        else:
            sender = str(settings.get("from_number") or account.external_id or "")
            if not sender:
                raise ChannelError(_("The account has no Twilio number to send from."), permanent=True)
            fields["From"] = sender
        try:
            answer = client.send_message(credentials, fields)
        except client.TwilioError as exc:
            if exc.code is not None and str(exc.code) == UNSUBSCRIBED_ERROR:
                record_opt_out(account=account, opt_out=OptOut(customer=CustomerHandle(kind="phone", value=to),
                                                                reason="21610"))
            raise
        sid = str(answer.get("sid") or "")
        if not sid:
            raise ChannelError(_("Twilio accepted the reply but returned no message id."), permanent=False)
        return SendResult(external_id=sid, metadata={"to": to, "twilio_status": answer.get("status")})


def _status(sid: str, fields: dict[str, str]) -> list:
    raw_status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    state = STATUS_STATES.get(raw_status)
    if state is None:
        return [Skipped(f"status {raw_status!r} changes nothing we show")]
    code = fields.get("ErrorCode", "").strip()
    reason = ""
    if state == "failed":
        text = str(ERROR_TEXTS.get(code, raw_status))
        reason = (_("Twilio error %(code)s: %(text)s") % {"code": code, "text": text} if code
                  else _("Twilio: %(status)s") % {"status": raw_status})
    items: list = [DeliveryStatus(state=state, external_id=sid, reason=reason, error_code=code)]
    if code == UNSUBSCRIBED_ERROR and fields.get("To"):
        items.append(OptOut(customer=CustomerHandle(kind="phone", value=fields["To"].strip()), reason=code))
    return items
