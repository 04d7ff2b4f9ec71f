"""IMAP mailboxes: polled, never posted to. `poller.poll_mailbox` reads new mail and stores each
message raw as an InboundEvent (provider "imap"); this adapter turns one such event into a
normalised message, and sends replies by SMTP like every email adapter.

IMAP: RFC 3501, https://www.rfc-editor.org/rfc/rfc3501 (see `poller.py` for the settings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels_ingest.base import NormalizedMessage, ParseError, SignatureInvalid
from channels_ingest.email.adapter_base import EmailAdapter

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount


class ImapAdapter(EmailAdapter):
    slug = "imap"
    channel = "email"

    def verify(self, request: HttpRequest, account: ChannelAccount) -> None:
        # Mail of an IMAP account only ever comes from our own poller; anything posted to its
        # webhook URL is someone else's and is refused before it is stored.
        raise SignatureInvalid("IMAP mailboxes are polled; nothing is accepted on the webhook")

    def parse(self, event: InboundEvent) -> list[NormalizedMessage]:
        from channels_ingest.adapters.imap.poller import TOO_LARGE_ERROR

        if event.headers.get("imap-too-large"):
            # Only the headers were kept (see poller._store_too_large): re-processing them after
            # an admin's "re-process" must fail again, saying why, not open a ticket without text.
            size = event.headers.get("imap-size", "?")
            raise ParseError(f"{TOO_LARGE_ERROR} ({size} bytes): only its headers were downloaded")
        if event.event_id.startswith("fetch-failed:"):
            raise ParseError(
                "the IMAP server never handed this message over; it is still on the server"
            )
        # Imported here: the parser pulls in the HTML sanitiser and ticket code, which the
        # registry must not load before Django's apps are ready.
        from channels_ingest.email.parse import parse_email

        address = (event.account.settings or {}).get("address", "")
        return [parse_email(event.body_bytes, mailbox_address=address)]
