"""The automatic acknowledgement: "we have your message, and we will answer by ...".

Sent by email only, as an ordinary outbound message of the ticket (so it leaves by the mailbox's
SMTP server like any reply, and its delivery state shows in the ticket), marked `is_auto_reply`:
it never counts as a response, never changes the ticket's status, and never starts an SLA clock.

Never sent:
- in answer to an automatic message (out-of-office, bounce): two robots would answer each other;
- on Amazon or eBay, whose messaging rules forbid unsolicited automatic messages to buyers;
- twice while the customer waits: once acknowledged, the next acknowledgement can only follow an
  agent's reply. A customer's mail system that answers every message without saying it is
  automatic therefore gets one acknowledgement, not a loop.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tickets import actions
from tickets.models import Channel, Message, Ticket

logger = logging.getLogger(__name__)

# Marketplaces whose rules forbid automatic messages to buyers (Amazon's "Communication Guidelines",
# eBay's member-to-member messaging policy). Matched on the channel and on the marketplace prefix.
FORBIDDEN_MARKETPLACES = ("amazon", "ebay")

PLACEHOLDERS = {
    "customer_first_name": gettext_lazy("The customer's first name"),
    "ticket_id": gettext_lazy("The ticket number"),
    "store_name": gettext_lazy("The store's name"),
    "expected_answer": gettext_lazy("When the customer can expect an answer, e.g. Monday 24 November 2026, 10:00"),
}
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
METADATA_FLAG = "auto_acknowledgement"


def unknown_placeholders(text: str) -> list[str]:
    return sorted({name for name in PLACEHOLDER.findall(text or "") if name not in PLACEHOLDERS})


def forbidden_marketplace(ticket: Ticket) -> bool:
    if ticket.channel in (Channel.AMAZON, Channel.EBAY):
        return True
    marketplace = (ticket.marketplace or "").strip().lower()
    return any(marketplace == name or marketplace.startswith(name + ".") for name in FORBIDDEN_MARKETPLACES)


def refusal_reason(ticket: Ticket, message: Message | None) -> str:
    """Why no acknowledgement may be sent for this message, or "" when one may."""
    if message is None or message.direction != Message.Direction.INBOUND:
        return "not a customer message"
    if message.is_auto_reply:
        return "the message is itself automatic"
    if ticket.channel != Channel.EMAIL:
        return "acknowledgements are sent by email only"
    if forbidden_marketplace(ticket):
        return "the marketplace forbids automatic messages"
    if ticket.channel_account_id is None:
        return "no mailbox to send from"
    earlier = Message.objects.filter(
        ticket_id=ticket.pk, direction=Message.Direction.OUTBOUND, is_auto_reply=True,
        **{f"metadata__{METADATA_FLAG}": True},
    )
    if ticket.last_agent_message_at is not None:
        earlier = earlier.filter(Q(created_at__gt=ticket.last_agent_message_at))
    if earlier.exists():
        return "already acknowledged since the last answer"
    return ""


def expected_answer_at(ticket: Ticket) -> datetime | None:
    """When the SLA engine expects the answer, from the policy's calendar: the running
    next-response deadline once the ticket has been answered before, else the first response's."""
    if ticket.first_response_at is not None and ticket.next_response_due_at is not None:
        return ticket.next_response_due_at
    try:
        from tickets.sla.engine import expected_first_response_at
    except ImportError:  # the SLA engine is optional for routing
        return None
    try:
        return expected_first_response_at(ticket)
    except Exception:
        logger.exception("ticket %s: the expected answer time could not be computed", ticket.pk)
        return None


def _time_zone(ticket: Ticket) -> ZoneInfo:
    for name in (_policy_time_zone(ticket), ticket.store.time_zone, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _policy_time_zone(ticket: Ticket) -> str:
    try:
        from tickets.sla.engine import policy_for
    except ImportError:
        return ""
    try:
        policy = policy_for(ticket)
    except Exception:
        return ""
    calendar = getattr(policy, "calendar", None) if policy is not None else None
    return getattr(calendar, "time_zone", "") or ""


def format_expected(when: datetime, zone: ZoneInfo) -> str:
    """"Monday 24 November 2026, 10:00 (Europe/Madrid)" in the active language."""
    local = when.astimezone(zone)
    return f"{date_format(local, 'l j F Y, H:i')} ({zone.key})"


def acknowledgement_text(ticket: Ticket, template: str = "", expected: datetime | None = None) -> str:
    """The acknowledgement's text in the active language: the rule's own text with its
    placeholders filled, or the standard one."""
    expected_text = format_expected(expected, _time_zone(ticket)) if expected else ""
    values = {
        "customer_first_name": ticket.customer.first_name,
        "ticket_id": str(ticket.pk),
        "store_name": ticket.store.name,
        "expected_answer": expected_text or _("as soon as possible"),
    }
    if template.strip():
        return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)
    greeting = (
        _("Hello %(name)s,") % {"name": values["customer_first_name"]} if values["customer_first_name"] else _("Hello,")
    )
    if expected_text:
        promise = _("We have received your message (ticket #%(ticket)s) and will answer by %(when)s.") % {
            "ticket": ticket.pk, "when": expected_text,
        }
    else:
        promise = _("We have received your message (ticket #%(ticket)s) and will answer as soon as possible.") % {
            "ticket": ticket.pk,
        }
    closing = _("%(store)s customer service") % {"store": ticket.store.name}
    note = _("This is an automatic message; there is no need to answer it.")
    return f"{greeting}\n\n{promise}\n\n{closing}\n\n{note}"


def send_acknowledgement(ticket: Ticket, message: Message | None, *, template: str = "") -> Message | None:
    """Queue the acknowledgement for this customer message, or return None (and log why) when it
    may not be sent. Call inside the transaction that stored the message; the mail leaves after
    the commit, through the outbound road."""
    reason = refusal_reason(ticket, message)
    if reason:
        logger.info("ticket %s: no acknowledgement (%s)", ticket.pk, reason)
        return None
    expected = expected_answer_at(ticket)
    language = ticket.language or ticket.store.default_language
    with translation.override(language):
        body = acknowledgement_text(ticket, template, expected)
    metadata = {METADATA_FLAG: True}
    if expected is not None:
        metadata["expected_answer_at"] = expected.isoformat()
    return actions.add_message(
        ticket=ticket,
        direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.SYSTEM,
        body_text=body,
        subject=message.subject if message is not None else "",
        is_auto_reply=True,
        metadata=metadata,
    )
