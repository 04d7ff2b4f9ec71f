"""The adapters this installation knows, by slug. The slug is the URL segment of the webhook
(`/hooks/<slug>/<account>/`), the ChannelAccount.provider value and the fixtures folder name.

Adapters are imported on first use, so a broken optional dependency of one provider never stops
the others.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from channels_ingest.base import Adapter

ADAPTERS: dict[str, str] = {
    # Any other marketplace or shop, through a documented signed JSON webhook
    "generic": "channels_ingest.adapters.generic.adapter.GenericAdapter",
    # Shops
    "shopify": "channels_ingest.adapters.shopify.adapter.ShopifyAdapter",
    "woocommerce": "channels_ingest.adapters.woocommerce.adapter.WooCommerceAdapter",
    # Marketplaces: SP-API notifications from the seller's SQS queue (buyer messages come by email)
    "amazon": "channels_ingest.adapters.amazon_sp.adapter.AmazonSpAdapter",
    # Marketplaces
    "ebay": "channels_ingest.adapters.ebay.adapter.EbayAdapter",
    # Messaging
    "messenger": "channels_ingest.adapters.messenger.adapter.MessengerAdapter",
    "instagram": "channels_ingest.adapters.instagram.adapter.InstagramAdapter",
    "whatsapp": "channels_ingest.adapters.whatsapp.adapter.WhatsAppAdapter",
    "twilio": "channels_ingest.adapters.twilio.adapter.TwilioSmsAdapter",
    # Email
    "imap": "channels_ingest.adapters.imap.adapter.ImapAdapter",
    "mime": "channels_ingest.adapters.mime.adapter.RawMimeAdapter",
    "mailgun": "channels_ingest.adapters.mailgun.adapter.MailgunAdapter",
    "sendgrid": "channels_ingest.adapters.sendgrid.adapter.SendGridAdapter",
    "postmark": "channels_ingest.adapters.postmark.adapter.PostmarkAdapter",
    # The shop chat widget (messages come over its WebSocket; replies go back to it)
    "chat": "channels_ingest.widget.adapter.ChatWidgetAdapter",
}


class UnknownProvider(LookupError):
    pass


@cache
def get_adapter(slug: str) -> Adapter:
    try:
        dotted = ADAPTERS[slug]
    except KeyError:
        raise UnknownProvider(slug) from None
    module_name, _, class_name = dotted.rpartition(".")
    adapter_class = getattr(import_module(module_name), class_name)
    return adapter_class()
