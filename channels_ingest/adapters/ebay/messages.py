"""eBay member messages, pulled: GetMyMessages
(https://developer.ebay.com/devzone/xml/docs/reference/ebay/GetMyMessages.html).

Each poll reads the headers of the messages received in a time window (StartTime/EndTime), then
the full messages whose ids are not stored yet (ReturnMessages, ten ids per call). Each message
is stored as one raw InboundEvent whose event id is `message:<MessageID>`: a message read again
(an overlapping window, a poll that failed part-way and ran again) is stored once. The window's
end becomes the account's cursor only after every message of the window is stored, so nothing
is skipped; the next window starts a few minutes before the cursor because eBay indexes new
messages with a short delay.

Threading: one ticket per item and buyer (`ebay:<ItemID>:<sender>`), linked to the order when
the buyer names its number (12-03456-78901), the buyer being an `ebay_user` identity (eBay user ids are global, so the same buyer on two of the seller's
accounts is one customer).
"""

from __future__ import annotations

import html
import logging
import re
import xml.etree.ElementTree as ET  # serialising trees that defusedxml parsed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_ingest.adapters.ebay import trading
from channels_ingest.adapters.ebay.trading import NS, TradingClient, text
from channels_ingest.base import ChannelError, CustomerHandle, NormalizedMessage, ParseError
from channels_ingest.models import InboundEvent
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)

CURSOR_SETTING = "messages_cursor"
BACKOFF_SETTING = "call_limit_until"
FIRST_WINDOW = timedelta(days=1)
OVERLAP = timedelta(minutes=5)
MESSAGE_SOURCE_HEADER = "x-ebay-source"


def event_id_for(message_id: str) -> str:
    return f"message:{message_id}"


@dataclass
class PollReport:
    seen: int = 0
    stored: int = 0
    skipped_reason: str = ""
    error: str = ""


def set_settings(account: ChannelAccount, **changes) -> None:
    """Merge `changes` into the account's settings (read fresh: an admin may have edited others)."""
    account.refresh_from_db(fields=["settings"])
    options = dict(account.settings or {})
    for name, value in changes.items():
        if value is None:
            options.pop(name, None)
        else:
            options[name] = value
    account.settings = options
    ChannelAccount.objects.filter(pk=account.pk).update(settings=options)


def poll_messages(account: ChannelAccount, *, now: datetime | None = None, client: TradingClient | None = None) -> PollReport:
    """One polling pass over an account's inbox. Records the outcome on the account (cursor, last
    sync, last error). Raises ChannelError when the fault may pass (the task retries)."""
    from channels_ingest.actions import record_event

    now = now or timezone.now()
    report = PollReport()
    options = account.settings or {}
    resume_at = parse_datetime(options.get(BACKOFF_SETTING) or "")
    if resume_at is not None and resume_at > now:
        report.skipped_reason = f"call limit reached; resumes at {resume_at:%Y-%m-%d %H:%M} UTC"
        return report
    cursor = parse_datetime(options.get(CURSOR_SETTING) or "")
    start = (cursor - OVERLAP) if cursor else now - FIRST_WINDOW
    client = client or TradingClient(account)
    try:
        headers = client.message_headers(start, now)
        ids = [text(header, "e:MessageID") for header in headers]
        ids = [value for value in dict.fromkeys(ids) if value]
        report.seen = len(ids)
        known = set(
            InboundEvent.objects.filter(provider="ebay", account=account, event_id__in=[event_id_for(i) for i in ids])
            .values_list("event_id", flat=True)
        )
        wanted = [value for value in ids if event_id_for(value) not in known]
        for element in client.messages(wanted) if wanted else []:
            message_id = text(element, "e:MessageID")
            if not message_id:
                continue
            _, created = record_event(
                provider="ebay", account=account, event_id=event_id_for(message_id),
                body=ET.tostring(element, encoding="utf-8"), headers={MESSAGE_SOURCE_HEADER: "GetMyMessages"},
            )
            report.stored += int(created)
    except trading.CallLimitReached as exc:
        reason = (f"{timezone.now():%Y-%m-%d %H:%M} eBay call limit reached (error 518); "
                  f"message polling resumes at {exc.resume_at:%Y-%m-%d %H:%M} UTC")
        set_settings(account, **{BACKOFF_SETTING: exc.resume_at.isoformat()})
        ChannelAccount.objects.filter(pk=account.pk).update(last_error=reason)
        report.error = reason
        return report
    except trading.RateLimited as exc:
        report.skipped_reason = str(exc)
        return report
    except ChannelError as exc:
        report.error = str(exc)
        # An account put in error (credentials expired) keeps that reason on show.
        ChannelAccount.objects.filter(pk=account.pk).exclude(status=ChannelAccount.Status.ERROR).update(
            last_error=f"{timezone.now():%Y-%m-%d %H:%M} message polling: {exc}"[:2000]
        )
        if not exc.permanent:
            raise
        return report
    set_settings(account, **{CURSOR_SETTING: now.isoformat(), BACKOFF_SETTING: None})
    ChannelAccount.objects.filter(pk=account.pk).update(last_sync_at=now, last_error="")
    return report


def accounts_to_poll():
    return ChannelAccount.objects.filter(provider="ebay", status=ChannelAccount.Status.ACTIVE)


# --- Parsing a stored message --------------------------------------------------------------------

_TAGS = re.compile(r"<[^>]+>")
# eBay order numbers read 12-03456-78901; a buyer who names one links the ticket to that order.
ORDER_NUMBER = re.compile(r"(?<![\d-])\d{2}-\d{5}-\d{5}(?![\d-])")
_BREAKS = re.compile(r"(?i)<\s*(br|/p|/div|/tr|/li)\b[^>]*>")


def html_to_text(markup: str) -> str:
    plain = _TAGS.sub("", _BREAKS.sub("\n", markup))
    lines = [line.strip() for line in html.unescape(plain).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def normalize(root: ET.Element) -> NormalizedMessage:
    """A GetMyMessages <Message> as a normalised inbound message."""
    if root.tag != f"{{{NS}}}Message":
        raise ParseError(f"not an eBay message: <{root.tag}>")
    message_id = text(root, "e:MessageID")
    sender = text(root, "e:Sender")
    if not message_id or not sender:
        raise ParseError("eBay message without MessageID or Sender")
    item_id = text(root, "e:ItemID")
    body_html = text(root, "e:Text")
    body_text = text(root, "e:Content") or html_to_text(body_html)
    sent_at = parse_datetime(text(root, "e:ReceiveDate"))
    thread = f"ebay:{item_id}:{sender.lower()}" if item_id else f"ebay:{sender.lower()}"
    subject = text(root, "e:Subject")
    order_number = ORDER_NUMBER.search(f"{subject}\n{body_text}")
    return NormalizedMessage(
        channel="ebay",
        external_id=message_id,
        customer=CustomerHandle(kind="ebay_user", value=sender.lower(), display_name=sender),
        subject=subject,
        body_text=body_text,
        visible_text=body_text,
        body_html=body_html,
        thread_key=thread,
        sent_at=sent_at,
        order_reference=order_number.group(0) if order_number else "",
        marketplace="ebay",
        metadata={"ebay": {
            "message_id": message_id,
            "external_message_id": text(root, "e:ExternalMessageID"),
            "item_id": item_id,
            "item_title": text(root, "e:ItemTitle"),
            "sender": sender,
            "recipient": text(root, "e:RecipientUserID"),
            "message_type": text(root, "e:MessageType"),
            "response_enabled": text(root, "e:ResponseDetails/e:ResponseEnabled") == "true",
        }},
    )
