"""What every email adapter shares: replies go out by SMTP from the mailbox's own address.

The email adapters (imap, mime, mailgun, sendgrid, postmark) differ in how mail comes in; they all
send the same way, so each one inherits sending from here:

    class ImapAdapter(EmailAdapterMixin, Adapter): ...     # or simply: class ImapAdapter(EmailAdapter)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels_ingest.base import Adapter, SendResult

if TYPE_CHECKING:
    from tickets.models import Message


class EmailAdapterMixin:
    """Put it before `Adapter` in the bases, so this `send_reply` wins over the base's refusal."""

    def send_reply(self, message: Message) -> SendResult:
        """Send by SMTP from the mailbox; raises ChannelError(permanent=...) on failure."""
        # Imported here: adapters are loaded by the registry on first use, and the SMTP code pulls
        # in the ticket models, which must not load before Django's apps are ready.
        from channels_ingest.email.send import send_email_reply

        return send_email_reply(message)


class EmailAdapter(EmailAdapterMixin, Adapter):
    """Base class of the email adapters: set `slug` and `channel`, write `verify` and `parse`."""
