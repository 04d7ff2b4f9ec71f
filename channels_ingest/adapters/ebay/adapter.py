"""eBay: marketplace account deletion notifications, member messages and replies.

- Marketplace account deletion (mandatory for every eBay app):
  https://developer.ebay.com/marketplace-account-deletion
  GET ?challenge_code=... is answered with {"challengeResponse": hex SHA-256 of challengeCode +
  verificationToken + endpoint URL}; each POST is signed (`X-EBAY-SIGNATURE`, see signature.py)
  and names the eBay user whose data must be erased: acted on through tickets.privacy.
- Member messages are pulled from the Trading API (messages.py) and stored as raw events with
  the XML of one <Message>; they are parsed here like any pushed event.
- Replies: AddMemberMessageRTQ, answering the buyer's question about the item.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.http import JsonResponse

from channels_ingest import shop_http
from channels_ingest.adapters.ebay import messages, signature, trading
from channels_ingest.base import (
    Adapter,
    ChannelError,
    MalformedRequest,
    ParseError,
    PrivacyRequest,
    SendResult,
    SignatureInvalid,
    Skipped,
)

logger = logging.getLogger(__name__)

DELETION_TOPIC = "MARKETPLACE_ACCOUNT_DELETION"


def challenge_response(challenge_code: str, verification_token: str, endpoint: str) -> str:
    return hashlib.sha256((challenge_code + verification_token + endpoint).encode()).hexdigest()


def deletion_endpoint(request, account) -> str:
    """The URL entered in eBay's developer portal: the account's `deletion_endpoint_url`, else
    this request's own URL without its query."""
    configured = (account.settings or {}).get("deletion_endpoint_url")
    return configured or request.build_absolute_uri(request.path)


class EbayAdapter(Adapter):
    slug = "ebay"
    channel = "ebay"
    SUPPORTED_EVENTS = (DELETION_TOPIC, "member_message")
    KEPT_HEADERS = ("content-type", "user-agent", messages.MESSAGE_SOURCE_HEADER)

    def handshake(self, request, account):
        code = request.GET.get("challenge_code")
        if not code:
            return None
        token = account.get_secrets().get("verification_token") or ""
        if not token:
            return JsonResponse({"error": "no verification token configured for this account"}, status=404)
        answer = challenge_response(code, token, deletion_endpoint(request, account))
        return JsonResponse({"challengeResponse": answer}, status=200)

    def verify(self, request, account) -> None:
        try:
            signature.verify(account, request.body, request.headers.get(signature.SIGNATURE_HEADER))
        except shop_http.ProviderError as exc:
            # Without eBay's key nothing can be trusted; eBay retries a refused delivery.
            raise SignatureInvalid(f"eBay's public key could not be fetched: {exc}") from None

    def event_id(self, request, account) -> str:
        try:
            payload = json.loads(request.body)
            notification_id = str(payload["notification"]["notificationId"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise MalformedRequest("not an eBay notification (no notification.notificationId)") from None
        if not notification_id:
            raise MalformedRequest("empty notificationId")
        return f"notification:{notification_id}"

    def parse(self, event) -> list:
        body = bytes(event.body_bytes)
        if body.lstrip().startswith(b"<"):
            return [messages.normalize(trading.parse_xml_or_parse_error(body))]
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"the body is not JSON: {exc}") from None
        topic = str(((payload.get("metadata") or {}).get("topic")) or "")
        if topic != DELETION_TOPIC:
            return [Skipped(f"topic {topic or '(none)'} is not used")]
        notification = payload.get("notification") or {}
        data = notification.get("data") or {}
        username = str(data.get("username") or "")
        if not username:
            raise ParseError("account deletion without a username")
        return [PrivacyRequest(
            kind="customer_redact", customer_external_id=username,
            request_id=str(notification.get("notificationId") or ""),
        )]

    def send_reply(self, message) -> SendResult:
        from tickets.models import Message

        question = (
            Message.objects.filter(ticket_id=message.ticket_id, direction=Message.Direction.INBOUND,
                                   metadata__has_key="ebay")
            .order_by("-created_at", "-pk").first()
        )
        details = (question.metadata or {}).get("ebay") if question else None
        if not details:
            raise ChannelError("this ticket has no eBay message to answer", permanent=True)
        if not details.get("item_id"):
            raise ChannelError("eBay only accepts answers to questions about an item here; answer this "
                               "message on eBay", permanent=True)
        client = trading.TradingClient(message.channel_account)
        try:
            root = client.reply_to_question(
                item_id=details["item_id"],
                parent_message_id=details.get("external_message_id") or details["message_id"],
                recipient_id=details["sender"],
                body=message.body_text,
            )
        except trading.CallLimitReached as exc:
            raise ChannelError(f"eBay call limit reached; try again after {exc.resume_at:%Y-%m-%d %H:%M} UTC",
                               permanent=False) from None
        return SendResult(metadata={"ebay": {
            "ack": trading.text(root, "e:Ack"),
            "parent_message_id": details.get("external_message_id") or details["message_id"],
            "correlation": trading.text(root, "e:CorrelationID"),
        }})
