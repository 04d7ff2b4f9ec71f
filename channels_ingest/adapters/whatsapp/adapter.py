"""WhatsApp Cloud API: a WhatsApp Business phone number's messages and the statuses of ours.
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media

Webhook: entry[].changes[] with field "messages"; value.messages[] are the customer's messages,
value.statuses[] the sent / delivered / read / failed statuses of ours. Signed like every Meta
webhook (X-Hub-Signature-256), set up with the same GET handshake.

The customer is their phone number (E.164, ChannelIdentity kind "phone": the same person as on
SMS) plus their WhatsApp id; newer payloads may name a business-scoped user id (BSUID) instead of a
phone number, which is then the identity (scoped to the account).

Media (image, document, audio, video, sticker) is fetched through the Graph API: GET /<media-id>
gives a short-lived URL, which is read with the same bearer token, and stored as an attachment.

Account: `external_id` is the phone number id; secrets `app_secret`, `verify_token`,
`access_token`; settings `template_name` and `template_language` (the approved template sent
outside the 24-hour window, with the reply as its one body parameter), `graph_base_url`,
`graph_version`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.adapters.meta import client, common
from channels_ingest.adapters.meta.messaging import window_closed_reason
from channels_ingest.base import (
    Adapter,
    ChannelError,
    CustomerHandle,
    DeliveryStatus,
    InboundAttachment,
    MessageReaction,
    NormalizedMessage,
    ParseError,
    SendResult,
    Skipped,
    TransientError,
)

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
STATUS_STATES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "audio/ogg": "ogg", "audio/mpeg": "mp3",
    "audio/aac": "aac", "audio/mp4": "m4a", "video/mp4": "mp4", "video/3gpp": "3gp", "application/pdf": "pdf",
}


def _errors_text(errors: Any) -> tuple[str, str]:
    """("title (code)", "code") of the first error Meta lists."""
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return "", ""
    first = errors[0]
    code = str(first.get("code") or "")
    title = str(first.get("title") or first.get("message") or "")
    details = (first.get("error_data") or {}).get("details") if isinstance(first.get("error_data"), dict) else ""
    text = title + (f": {details}" if details and details != title else "")
    return (f"{text} ({code})" if code else text), code


class WhatsAppAdapter(Adapter):
    slug = "whatsapp"
    channel = "whatsapp"
    SUPPORTED_EVENTS = ("messages",)

    def handshake(self, request, account):
        return common.handshake(request, account)

    def verify(self, request, account) -> None:
        common.verify_signature(request, account)

    def event_id(self, request, account) -> str:
        payload = common.try_load(request.body)
        if payload is None or not isinstance(payload.get("entry"), list):
            return super().event_id(request, account)
        keys = []
        for value in _values(payload):
            keys += [f"msg:{m.get('id')}" for m in value.get("messages") or [] if isinstance(m, dict)]
            # One message gets several statuses: each is its own event.
            keys += [f"status:{s.get('id')}:{s.get('status')}" for s in value.get("statuses") or [] if isinstance(s, dict)]
        return common.event_id_from_keys(keys, payload["entry"])

    def parse(self, event) -> list:
        payload = common.load_payload(event.body_bytes, ("whatsapp_business_account",))
        items: list = []
        for entry in payload["entry"]:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            if not isinstance(changes, list):
                raise ParseError("an entry without changes")
            for change in changes:
                if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                    raise ParseError("a change without its value")
                if change.get("field") != "messages":
                    items.append(Skipped(f"unsupported WhatsApp webhook field {change.get('field')!r}"))
                    continue
                value = change["value"]
                names = _contact_names(value.get("contacts"))
                for message in value.get("messages") or []:
                    items.append(self._message(event.account, message, names))
                for status in value.get("statuses") or []:
                    items.append(_status(status))
        return items or [Skipped("no messages or statuses")]

    # --- inbound messages ------------------------------------------------------------------------

    def _message(self, account, message: dict[str, Any], names: dict[str, str]):
        if not isinstance(message, dict) or not message.get("id"):
            raise ParseError("a message without its id")
        kind = str(message.get("type") or "")
        wa_id = str(message.get("from") or "")
        user_id = str(message.get("from_user_id") or "")
        display_name = names.get(wa_id) or names.get(user_id) or ""
        if wa_id:
            phone = "+" + wa_id.lstrip("+")
            handle = CustomerHandle(kind="whatsapp", value=wa_id.lstrip("+"), phone=phone, display_name=display_name)
            thread = wa_id.lstrip("+")
        elif user_id:
            handle = CustomerHandle(kind="whatsapp", value=user_id, display_name=display_name, scoped_to_account=True)
            thread = user_id
        else:
            raise ParseError("a message without its sender (no from and no from_user_id)")
        at = common.from_seconds(message.get("timestamp"))
        if kind == "reaction":
            reaction = message.get("reaction") or {}
            emoji = str(reaction.get("emoji") or "")
            return MessageReaction(target_external_id=str(reaction.get("message_id") or ""), emoji=emoji,
                                   removed=not emoji, customer=handle, at=at)
        if kind == "system":
            return Skipped("system notice (number changed, identity changed)")
        metadata: dict[str, Any] = {"whatsapp_type": kind}
        if user_id:
            metadata["bsuid"] = user_id
        context = message.get("context") if isinstance(message.get("context"), dict) else {}
        references = [str(context["id"])] if context.get("id") else []
        if context.get("forwarded") or context.get("frequently_forwarded"):
            metadata["forwarded"] = True
        for key in ("referral", "group_id"):
            if message.get(key):
                metadata[key] = message[key]
        text, attachments = self._content(account, kind, message, metadata)
        return NormalizedMessage(channel=self.channel, external_id=str(message["id"]), customer=handle,
                                 body_text=text, visible_text=text, thread_key=thread, references=references,
                                 sent_at=at, attachments=attachments, metadata=metadata)

    def _content(self, account, kind: str, message: dict[str, Any], metadata: dict) -> tuple[str, list]:
        part = message.get(kind) if isinstance(message.get(kind), dict) else {}
        if kind == "text":
            return str(part.get("body") or ""), []
        if kind in MEDIA_TYPES:
            caption = str(part.get("caption") or "")
            attachment = self._media(account, kind, part, metadata)
            return caption, [attachment] if attachment else []
        if kind == "location":
            metadata["location"] = part
            label = " ".join(str(part[key]) for key in ("name", "address") if part.get(key))
            return f"[location] {part.get('latitude')}, {part.get('longitude')} {label}".strip(), []
        if kind == "contacts":
            metadata["contacts"] = message.get("contacts")
            lines = []
            for contact in message.get("contacts") or []:
                name = (contact.get("name") or {}).get("formatted_name", "")
                phones = ", ".join(p.get("phone", "") for p in contact.get("phones") or [])
                lines.append(f"[contact] {name} {phones}".strip())
            return "\n".join(lines), []
        if kind == "interactive":
            reply = part.get("button_reply") or part.get("list_reply") or part.get("nfm_reply") or {}
            metadata["interactive"] = {"type": part.get("type"), "id": reply.get("id")}
            return str(reply.get("title") or reply.get("body") or ""), []
        if kind == "button":
            metadata["button_payload"] = part.get("payload")
            return str(part.get("text") or ""), []
        if kind == "order":
            metadata["order"] = part
            lines = [str(part.get("text") or "")] if part.get("text") else []
            lines.append(f"[order] catalog {part.get('catalog_id')}")
            for item in part.get("product_items") or []:
                lines.append(f"{item.get('quantity')} x {item.get('product_retailer_id')} "
                             f"@ {item.get('item_price')} {item.get('currency')}")
            return "\n".join(lines), []
        reason, code = _errors_text(message.get("errors"))
        metadata["unsupported"] = {"type": kind, "error": reason, "code": code}
        return f"[unsupported message: {reason or kind}]", []

    def _media(self, account, kind: str, part: dict[str, Any], metadata: dict) -> InboundAttachment | None:
        media_id = str(part.get("id") or "")
        if not media_id:
            return None
        token = account.get_secrets().get("access_token") or ""
        try:
            info = client.request_json("GET", client.graph_url(account, media_id), token)
            url = str(info.get("url") or "")
            if not url:
                raise client.GraphError("no url for the media", permanent=True)
            downloaded = client.download(url, token, django_settings.ATTACHMENT_MAX_BYTES)
        except client.GraphError as exc:
            if not exc.permanent:
                raise TransientError(f"media {media_id}: {exc}") from None
            # Expired or deleted media: the message is kept, saying what is missing.
            metadata.setdefault("media_errors", []).append({"id": media_id, "error": str(exc)})
            return None
        content_type = str(part.get("mime_type") or info.get("mime_type") or downloaded.content_type)
        base_type = content_type.split(";")[0].strip()
        filename = str(part.get("filename") or f"{kind}-{media_id}.{EXTENSIONS.get(base_type, 'bin')}")
        if part.get("voice"):
            metadata["voice"] = True
        return InboundAttachment(filename=filename, content_type=base_type, content=downloaded.content)

    # --- sending ---------------------------------------------------------------------------------

    def send_reply(self, message) -> SendResult:
        from tickets.delivery import message_window_closes_at

        account = message.channel_account
        token = account.get_secrets().get("access_token")
        if not token:
            raise ChannelError(_("The account has no WhatsApp access token."), permanent=True)
        if not account.external_id:
            raise ChannelError(_("The account has no WhatsApp phone number id."), permanent=True)
        recipient = message.external_thread_id or message.ticket.external_thread_id
        if not recipient:
            raise ChannelError(_("The customer's WhatsApp number is unknown."), permanent=True)
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        # A business-scoped user id (no phone number) is addressed as a recipient, a number as "to".
        body["recipient" if "." in recipient else "to"] = recipient
        closes_at = message_window_closes_at(message)
        settings = account.settings or {}
        if closes_at is not None and timezone.now() <= closes_at:
            body["type"] = "text"
            body["text"] = {"body": message.body_text, "preview_url": False}
        elif settings.get("template_name"):
            body["type"] = "template"
            body["template"] = {
                "name": settings["template_name"],
                "language": {"code": settings.get("template_language") or "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": message.body_text}]}],
            }
        else:
            raise ChannelError(window_closed_reason("WhatsApp", closes_at), permanent=True)
        answer = client.request_json("POST", client.graph_url(account, f"{account.external_id}/messages"), token, body)
        ids = [item.get("id") for item in answer.get("messages") or [] if isinstance(item, dict) and item.get("id")]
        if not ids:
            raise ChannelError(_("WhatsApp accepted the reply but returned no message id."), permanent=False)
        return SendResult(external_id=str(ids[0]), metadata={"whatsapp_type": body["type"]})


def _values(payload: dict[str, Any]) -> list[dict[str, Any]]:
    values = []
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                values.append(change["value"])
    return values


def _contact_names(contacts: Any) -> dict[str, str]:
    names = {}
    for contact in contacts or []:
        if not isinstance(contact, dict):
            continue
        name = str((contact.get("profile") or {}).get("name") or "")
        for key in ("wa_id", "user_id"):
            if contact.get(key):
                names[str(contact[key])] = name
    return names


def _status(status: dict[str, Any]):
    if not isinstance(status, dict) or not status.get("id"):
        raise ParseError("a status without the message id")
    state = STATUS_STATES.get(str(status.get("status")))
    if state is None:
        return Skipped(f"unsupported status {status.get('status')!r}")
    reason, code = _errors_text(status.get("errors")) if state == "failed" else ("", "")
    return DeliveryStatus(state=state, external_id=str(status["id"]), reason=reason, error_code=code,
                          at=common.from_seconds(status.get("timestamp")))
