"""Facebook Messenger: a Facebook page's conversations, through the page's webhook and Send API.
https://developers.facebook.com/docs/messenger-platform/webhooks

Everything is shared with Instagram Direct in `channels_ingest.adapters.meta.messaging`.
"""

from __future__ import annotations

from channels_ingest.adapters.meta.messaging import MetaMessagingAdapter


class MessengerAdapter(MetaMessagingAdapter):
    slug = "messenger"
    channel = "messenger"
    OBJECT = "page"
    IDENTITY_KIND = "messenger_psid"
    PRODUCT_NAME = "Messenger"
