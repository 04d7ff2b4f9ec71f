"""Messenger and Instagram Direct share one webhook format (entry[].messaging[]) and one Send API;
`MetaMessagingAdapter` holds both, `messenger/` and `instagram/` set what differs.
https://developers.facebook.com/docs/messenger-platform/webhooks
https://developers.facebook.com/docs/messenger-platform/reference/webhook-events
https://developers.facebook.com/docs/instagram-platform/webhooks
https://developers.facebook.com/docs/messenger-platform/reference/send-api

One webhook call can carry many events (several entries, several messaging items each). Each item
becomes one normalised item:
- `message` → a customer message (text, attachments described with their links, quick replies,
  replies to a message or a story); `is_echo` → OutboundEcho; `is_deleted` → MessageUnsent;
- `postback` (buttons, ice breakers, Get Started) → a customer message with the button's title;
- `reaction` → MessageReaction on the message reacted to;
- `delivery`, `read` → DeliveryStatus by mid or by watermark;
- anything else (referrals without a message, opt-ins, unknown items) → Skipped with the reason.

Account: `external_id` is the page id (Instagram: the Instagram account id); secrets `app_secret`,
`verify_token`, `page_access_token`; settings `human_agent_tag` (true when the page has the Human
Agent permission), `graph_base_url`, `graph_version`.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from channels_ingest.adapters.meta import client, common
from channels_ingest.base import (
    Adapter,
    ChannelError,
    CustomerHandle,
    DeliveryStatus,
    InboundAttachment,
    MessageReaction,
    MessageUnsent,
    NormalizedMessage,
    OutboundEcho,
    ParseError,
    SendResult,
    Skipped,
)

# Files are only ever downloaded from Meta's own CDN (never from an address a payload names
# elsewhere: that would let a forged event make us fetch internal URLs). Account setting
# `media_hosts` replaces the list (the tests point it at loopback).
META_MEDIA_HOSTS = ("fbcdn.net", "fbsbx.com", "cdninstagram.com")
DOWNLOADED_TYPES = ("image", "video", "audio", "file")
MEDIA_TIMEOUT_SECONDS = 20


def media_host_allowed(url: str, hosts: Any = None) -> bool:
    allowed = META_MEDIA_HOSTS if hosts is None else tuple(str(host) for host in hosts)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        return False
    if parts.scheme == "http" and host not in allowed:
        return False  # plain HTTP only for a host named exactly (a loopback test server)
    return any(host == item or host.endswith("." + item) for item in allowed)


def _download(url: str, kind: str, index: int) -> InboundAttachment:
    """GET a file from Meta's CDN (the URLs are signed; no token is needed)."""
    limit = django_settings.ATTACHMENT_MAX_BYTES
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=MEDIA_TIMEOUT_SECONDS) as answer:
            content = answer.read(limit + 1)
            content_type = answer.headers.get_content_type() or "application/octet-stream"
    except urllib.error.HTTPError as exc:
        raise ValueError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise ValueError(str(exc)) from None
    if len(content) > limit:
        raise ValueError(f"larger than {limit} bytes")
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or f"{kind}-{index + 1}"
    return InboundAttachment(filename=name[:120], content_type=content_type, content=content)


def _attachment_line(attachment: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A readable line for the agent and what is kept in the message's details. Images, videos,
    audio and files from Meta's CDN are also stored as attachments (see `_customer_message`);
    everything else (shares, reels, stories) stays a link, and the line carries it."""
    kind = str(attachment.get("type") or "unknown")
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    url = str(payload.get("url") or "")
    kept: dict[str, Any] = {"type": kind}
    if url:
        kept["url"] = url
    if kind == "location":
        coordinates = payload.get("coordinates") or {}
        kept["latitude"], kept["longitude"] = coordinates.get("lat"), coordinates.get("long")
        return f"[location] {coordinates.get('lat')}, {coordinates.get('long')}", kept
    if kind == "image" and payload.get("sticker_id"):
        kept["sticker_id"] = str(payload["sticker_id"])
        return f"[sticker] {url}".strip(), kept
    if kind == "like_heart":
        return "\u2764\ufe0f", kept
    labels = {
        "fallback": "link", "share": "shared post", "ig_post": "shared post", "ig_reel": "reel", "reel": "reel",
        "story_mention": "story mention", "file": "file", "template": "template",
    }
    title = str(payload.get("title") or "")
    for key in ("reel_video_id", "ig_post_media_id", "sticker_id"):
        if payload.get(key) is not None:
            kept[key] = str(payload[key])
    if title:
        kept["title"] = title
    line = " ".join(part for part in (f"[{labels.get(kind, kind)}]", title, url) if part)
    return line, kept


class MetaMessagingAdapter(Adapter):
    OBJECT: ClassVar[str]
    IDENTITY_KIND: ClassVar[str]
    PRODUCT_NAME: ClassVar[str]
    SUPPORTED_EVENTS = ("messages", "messaging_postbacks", "message_reactions", "message_echoes",
                        "message_deliveries", "message_reads", "messaging_referrals")
    KEPT_HEADERS = ("content-type", "user-agent")

    # --- receiving ---------------------------------------------------------------------------

    def handshake(self, request, account):
        return common.handshake(request, account)

    def verify(self, request, account) -> None:
        common.verify_signature(request, account)

    def event_id(self, request, account) -> str:
        payload = common.try_load(request.body)
        if payload is None or not isinstance(payload.get("entry"), list):
            # Kept under the hash of its bytes, so it fails visibly instead of being lost.
            return super().event_id(request, account)
        keys = []
        only_messages = True
        for entry in payload["entry"]:
            for item in (entry.get("messaging") or []) if isinstance(entry, dict) else []:
                message = item.get("message") if isinstance(item, dict) else None
                if isinstance(message, dict) and message.get("mid") and not message.get("is_deleted"):
                    keys.append(("echo:" if message.get("is_echo") else "mid:") + str(message["mid"]))
                else:
                    only_messages = False
        return common.event_id_from_keys(keys if only_messages else [], payload["entry"])

    def _handle(self, customer_id: str, display_name: str = "") -> CustomerHandle:
        return CustomerHandle(kind=self.IDENTITY_KIND, value=customer_id, display_name=display_name,
                              scoped_to_account=True)

    def parse(self, event) -> list:
        payload = common.load_payload(event.body_bytes, (self.OBJECT,))
        items: list = []
        seen: set[str] = set()
        for entry in payload["entry"]:
            if not isinstance(entry, dict):
                raise ParseError("an entry is not an object")
            page_id = str(entry.get("id") or event.account.external_id or "")
            messaging = entry.get("messaging")
            if not isinstance(messaging, list):
                items.append(Skipped(f"entry without messaging events ({', '.join(sorted(entry)) or 'empty'})"))
                continue
            for item in messaging:
                if not isinstance(item, dict):
                    raise ParseError("a messaging event is not an object")
                parsed = self._parse_item(event, page_id, item)
                for one in parsed if isinstance(parsed, list) else [parsed]:
                    # One delivery can repeat the same message (Meta batches retries): thread it once.
                    key = one.external_id if isinstance(one, NormalizedMessage) else ""
                    if key and key in seen:
                        continue
                    if key:
                        seen.add(key)
                    items.append(one)
        return items or [Skipped("no messaging events")]

    def _parse_item(self, event, page_id: str, item: dict[str, Any]):
        sender = str((item.get("sender") or {}).get("id") or "")
        recipient = str((item.get("recipient") or {}).get("id") or "")
        at = common.from_millis(item.get("timestamp"))
        # The customer is whichever side is not the page (echoes go page → customer).
        customer_id = recipient if sender == page_id else sender

        if isinstance(item.get("message"), dict):
            message = item["message"]
            mid = str(message.get("mid") or "")
            if message.get("is_echo"):
                if not mid:
                    return Skipped("echo without a message id")
                return OutboundEcho(external_id=mid, recipient=self._handle(customer_id), text=str(message.get("text") or ""),
                                    sent_at=at, metadata={"app_id": message.get("app_id")} if message.get("app_id") else {})
            if message.get("is_deleted"):
                return MessageUnsent(external_id=mid, at=at)
            return self._customer_message(event.account, customer_id, mid, message, at)
        if isinstance(item.get("postback"), dict):
            postback = item["postback"]
            title = str(postback.get("title") or postback.get("payload") or "")
            mid = str(postback.get("mid") or "")
            if not mid:
                digest = hashlib.sha256(f"{customer_id}|{item.get('timestamp')}|{postback.get('payload')}".encode())
                mid = "postback:" + digest.hexdigest()[:40]
            metadata = {"postback_payload": postback.get("payload")}
            if isinstance(postback.get("referral"), dict):
                metadata["referral"] = postback["referral"]
            return NormalizedMessage(channel=self.channel, external_id=mid, customer=self._handle(customer_id),
                                     body_text=title, visible_text=title, thread_key=customer_id, sent_at=at,
                                     metadata=metadata)
        if isinstance(item.get("reaction"), dict):
            reaction = item["reaction"]
            if not reaction.get("mid"):
                return Skipped("reaction without the message it is about")
            return MessageReaction(target_external_id=str(reaction["mid"]), emoji=str(reaction.get("emoji") or ""),
                                   removed=reaction.get("action") == "unreact", customer=self._handle(customer_id), at=at)
        for kind, state in (("delivery", "delivered"), ("read", "read")):
            receipt = item.get(kind)
            if isinstance(receipt, dict):
                return self._receipt(customer_id, receipt, state, at)
        if isinstance(item.get("referral"), dict):
            return Skipped("referral (ad or link click) without a message")
        known = {"sender", "recipient", "timestamp"}
        other = sorted(set(item) - known)
        return Skipped(f"unsupported messaging event ({', '.join(other)})" if other
                       else "messaging event with only sender, recipient and timestamp")

    def _receipt(self, customer_id: str, receipt: dict[str, Any], state: str, at) -> list:
        """One status per message id the receipt names; a watermark ("everything sent before this
        time") covers the customer's other messages."""
        mids = [str(mid) for mid in receipt.get("mids") or [] if mid]
        watermark = common.from_millis(receipt.get("watermark"))
        statuses: list = [DeliveryStatus(state=state, external_id=mid, at=at or watermark) for mid in mids]
        if watermark is not None:
            statuses.append(DeliveryStatus(state=state, at=watermark, recipient=self._handle(customer_id),
                                           watermark=watermark))
        return statuses or [Skipped(f"{state} receipt without message ids or watermark")]

    def _customer_message(self, account, customer_id: str, mid: str, message: dict[str, Any], at) -> NormalizedMessage:
        if not mid:
            raise ParseError("a message without its mid")
        lines = [str(message.get("text") or "")] if message.get("text") else []
        metadata: dict[str, Any] = {}
        attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
        files: list[InboundAttachment] = []
        if attachments:
            kept = []
            hosts = (account.settings or {}).get("media_hosts")
            for index, attachment in enumerate(attachments):
                line, details = _attachment_line(attachment)
                lines.append(line)
                url = details.get("url", "")
                if details["type"] in DOWNLOADED_TYPES and url and media_host_allowed(url, hosts):
                    try:
                        files.append(_download(url, details["type"], index))
                        details["stored"] = True
                    except ValueError as exc:
                        # Expired or unreachable: the message keeps the link and says why.
                        details["download_error"] = str(exc)
                kept.append(details)
            metadata["attachments"] = kept
            if any(item["type"] == "story_mention" for item in kept):
                metadata["story_mention"] = True
        references = []
        reply_to = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
        if reply_to.get("mid"):
            references.append(str(reply_to["mid"]))
            metadata["reply_to"] = str(reply_to["mid"])
        if isinstance(reply_to.get("story"), dict):
            story = reply_to["story"]
            metadata["story_reply"] = {"id": story.get("id"), "url": story.get("url")}
            lines.insert(0, f"[reply to story] {story.get('url') or ''}".strip())
        if isinstance(message.get("quick_reply"), dict):
            metadata["quick_reply_payload"] = message["quick_reply"].get("payload")
        text = "\n".join(lines)
        return NormalizedMessage(channel=self.channel, external_id=mid, customer=self._handle(customer_id),
                                 body_text=text, visible_text=text, thread_key=customer_id, references=references,
                                 sent_at=at, attachments=files, metadata=metadata)

    # --- sending -------------------------------------------------------------------------------

    def send_reply(self, message) -> SendResult:
        from tickets.delivery import HUMAN_AGENT_WINDOW_DAYS, message_window_closes_at

        account = message.channel_account
        token = account.get_secrets().get("page_access_token")
        if not token:
            raise ChannelError(_("The account has no page access token."), permanent=True)
        recipient = message.external_thread_id or message.ticket.external_thread_id
        if not recipient:
            raise ChannelError(_("The customer's %(product)s id is unknown.") % {"product": self.PRODUCT_NAME},
                               permanent=True)
        closes_at = message_window_closes_at(message)
        now = timezone.now()
        body: dict[str, Any] = {"recipient": {"id": recipient}, "message": {"text": message.body_text}}
        if closes_at is not None and now <= closes_at:
            body["messaging_type"] = "RESPONSE"
        elif (
            (account.settings or {}).get("human_agent_tag")
            and closes_at is not None
            and now <= closes_at - timedelta(hours=24) + timedelta(days=HUMAN_AGENT_WINDOW_DAYS)
        ):
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = "HUMAN_AGENT"
        else:
            raise ChannelError(window_closed_reason(self.PRODUCT_NAME, closes_at), permanent=True)
        answer = client.request_json("POST", client.graph_url(account, "me/messages"), token, body)
        mid = str(answer.get("message_id") or "")
        if not mid:
            raise ChannelError(_("Meta accepted the reply but returned no message id."), permanent=False)
        return SendResult(external_id=mid, metadata={"messaging_type": body["messaging_type"],
                                                     **({"tag": body["tag"]} if "tag" in body else {})})


def window_closed_reason(product: str, closes_at) -> str:
    if closes_at is None:
        return _("Not sent: %(product)s only allows replies after the customer has written.") % {"product": product}
    when = formats.date_format(timezone.localtime(closes_at), "DATETIME_FORMAT")
    return _(
        "Not sent: the 24-hour reply window of %(product)s closed at %(when)s. The customer has to write "
        "again before you can answer here."
    ) % {"product": product, "when": when}
