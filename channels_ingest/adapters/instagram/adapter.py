"""Instagram Direct: an Instagram professional account's messages, through Meta's webhook
(object "instagram") and the Send API.
https://developers.facebook.com/docs/instagram-platform/webhooks

Everything is shared with Messenger in `channels_ingest.adapters.meta.messaging`.
"""

from __future__ import annotations

from channels_ingest.adapters.meta.messaging import MetaMessagingAdapter


class InstagramAdapter(MetaMessagingAdapter):
    slug = "instagram"
    channel = "instagram"
    OBJECT = "instagram"
    IDENTITY_KIND = "instagram"
    PRODUCT_NAME = "Instagram"
