"""The "amazon" provider: SP-API notifications, which arrive only through the seller's SQS queue
(channels_ingest/adapters/amazon_sp/sqs.py), never as webhooks. The adapter lets the ingest road
re-process a stored notification (an admin's "re-process" after a fix)."""

from __future__ import annotations

from channels_ingest.adapters.amazon_sp.notifications import parse_notification
from channels_ingest.base import Adapter, SignatureInvalid, Skipped


class AmazonSpAdapter(Adapter):
    slug = "amazon"
    channel = "amazon"
    SUPPORTED_EVENTS = ("ORDER_CHANGE",)

    def verify(self, request, account) -> None:
        raise SignatureInvalid("Amazon SP-API notifications are read from the seller's SQS queue, not posted here")

    def parse(self, event):
        parsed = parse_notification(event.body_bytes)
        if isinstance(parsed.change, Skipped):
            return [parsed.change]
        return [parsed.change.order]
