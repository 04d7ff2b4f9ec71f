"""Shared by the Messenger, Instagram, WhatsApp and Twilio tests: accounts with their secrets,
signed posts as Meta and Twilio send them, and conversations with a reply waiting to be sent."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl

from django.utils import timezone

from channels_ingest.adapters.meta.common import sign as meta_sign
from channels_ingest.adapters.twilio.adapter import signature as twilio_signature
from tests.factories import ChannelAccountFactory
from tests.webhook_helpers import post_webhook
from tickets import actions
from tickets.models import ChannelAccount, Message, Ticket

APP_SECRET = "meta-app-secret-0f3a"
VERIFY_TOKEN = "verify-me-7781"
PAGE_TOKEN = "EAAG-page-token"
WA_TOKEN = "EAAG-whatsapp-token"
TWILIO_SID = "AC0000000000000000000000000000beef"
TWILIO_TOKEN = "twilio-auth-token-42"
PUBLIC_BASE = "https://help.example.com"

META_CHANNELS = {"messenger": "messenger", "instagram": "instagram", "whatsapp": "whatsapp"}


def meta_account(provider: str, external_id: str = "1234567890", **settings) -> ChannelAccount:
    """Messenger/Instagram accounts download media from no host unless the test names one (the
    corpus links point at Meta's real CDN, which tests never reach)."""
    if provider != "whatsapp":
        settings.setdefault("media_hosts", [])
    account = ChannelAccountFactory(provider=provider, channel=META_CHANNELS[provider], external_id=external_id,
                                    settings=settings)
    token_key = "access_token" if provider == "whatsapp" else "page_access_token"
    account.set_secrets({"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
                         token_key: WA_TOKEN if provider == "whatsapp" else PAGE_TOKEN})
    account.save()
    return account


def post_meta(client, provider: str, account: ChannelAccount, body: bytes, signature: str | None = "sign"):
    """POST as Meta does: signature "sign" signs with the account's app secret, None sends none."""
    headers = {}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = meta_sign(APP_SECRET, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return post_webhook(client, provider, account, body, "application/json", headers)


def wrap_messaging(item: bytes, object_name: str = "page") -> bytes:
    """Meta's docs show one messaging item; a webhook carries it inside an entry."""
    parsed = json.loads(item)
    page_id = parsed.get("recipient", {}).get("id", "<PAGE_ID>")
    return json.dumps({"object": object_name,
                       "entry": [{"id": page_id, "time": parsed.get("timestamp"), "messaging": [parsed]}]}).encode()


def twilio_account(external_id: str = "+12028831111", **settings) -> ChannelAccount:
    settings.setdefault("public_base_url", PUBLIC_BASE)
    account = ChannelAccountFactory(provider="twilio", channel="sms", external_id=external_id, settings=settings)
    account.set_secrets({"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})
    account.save()
    return account


def post_twilio(client, account: ChannelAccount, body: bytes, signature: str | None = "sign",
                url: str | None = None, token: str = TWILIO_TOKEN, **extra):
    """POST a form as Twilio does, signed over the public URL (the proxy's, not ours)."""
    path = f"/hooks/twilio/{account.public_id}/"
    headers = {}
    if signature == "sign":
        params = parse_qsl(body.decode(), keep_blank_values=True)
        headers["X-Twilio-Signature"] = twilio_signature(url or PUBLIC_BASE + path, params, token)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded", headers=headers, **extra)


def conversation(account: ChannelAccount, thread: str, customer_wrote_ago: timedelta = timedelta(hours=1),
                 reply_text: str = "Your parcel left our warehouse today.") -> tuple[Ticket, Message]:
    """A ticket where the customer wrote `customer_wrote_ago`, and a queued reply to send."""
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    ticket = actions.create_ticket(store=account.store, channel=account.channel, channel_account=account,
                                   customer=customer, subject="Where is my order?", external_thread_id=thread)
    wrote_at = timezone.now() - customer_wrote_ago
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Where is my order?",
                        external_id=f"in-{thread}", created_at=wrote_at,
                        metadata={"sent_at": wrote_at.isoformat()})
    reply = actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text=reply_text)
    return ticket, reply
