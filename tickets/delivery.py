"""What happens to our messages after they leave, and the customer's side-signals on messaging
channels: delivery and read receipts, reactions, unsent messages, the page's own echoes, SMS
opt-outs, and the providers' reply windows.

None of these ever creates a customer message. Each function is a business action: it takes the
channel account and one normalised item (channels_ingest.base), writes in the caller's transaction
(or its own), publishes a live event after the commit, and returns a small summary for the raw
event's result ({"kind": ..., "message_id": ...} when something was recorded, {"kind": "skipped",
"reason": ...} when not).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from channels_ingest.base import (
    DeliveryStatus,
    MessageReaction,
    MessageUnsent,
    OptOut,
    OutboundEcho,
)
from tickets.events import publish_on_commit, ticket_changed_payload, ticket_group
from tickets.models import Channel, ChannelAccount, ChannelIdentity, Message, Ticket

State = Message.DeliveryState

# Delivery only moves forward: a late "sent" never hides a "read".
_RANK = {State.QUEUED: 0, State.SENT: 1, State.DELIVERED: 2, State.READ: 3}

# Channels whose provider only lets a business answer freely for a while after the customer's
# last message: Meta's 24-hour standard messaging window, WhatsApp's customer-service window.
REPLY_WINDOW_HOURS = {Channel.MESSENGER: 24, Channel.INSTAGRAM: 24, Channel.WHATSAPP: 24}
# Messenger and Instagram's HUMAN_AGENT tag stretches the window to 7 days for a person's answer.
HUMAN_AGENT_WINDOW_DAYS = 7


def _skipped(reason: str) -> dict:
    return {"kind": "skipped", "reason": reason}


def _announce(message: Message) -> None:
    publish_on_commit(
        [ticket_group(message.ticket_id)],
        {"type": "message.delivery", "ticket_id": message.ticket_id, "message_id": message.pk,
         "state": message.delivery_state},
    )
    publish_on_commit([ticket_group(message.ticket_id)], ticket_changed_payload(message.ticket))


def moves_forward(current: str, new: str) -> bool:
    """Whether a receipt saying `new` may replace `current`: sent < delivered < read; failed is
    final, except that a later delivered or read proves the message arrived after all."""
    if new == current:
        return False
    if new == State.FAILED:
        return current in (State.QUEUED, State.SENT)
    if current == State.FAILED:
        return new in (State.DELIVERED, State.READ)
    if new not in _RANK or current not in _RANK:
        return False
    return _RANK[new] > _RANK[current]


def _apply(message: Message, status: DeliveryStatus) -> bool:
    if not moves_forward(message.delivery_state, status.state):
        return False
    message.delivery_state = status.state
    message.failure_reason = status.reason if status.state == State.FAILED else ""
    metadata = dict(message.metadata or {})
    receipts = dict(metadata.get("delivery") or {})
    receipts[status.state] = (status.at or timezone.now()).isoformat()
    metadata["delivery"] = receipts
    if status.error_code:
        metadata["delivery_error_code"] = status.error_code
    message.metadata = metadata
    message.delivery_updated_at = timezone.now()
    message.save(update_fields=["delivery_state", "failure_reason", "metadata", "delivery_updated_at"])
    _announce(message)
    return True


def record_delivery_status(*, account: ChannelAccount, status: DeliveryStatus) -> dict:
    """Move our outbound message(s) named by the receipt forward. A receipt for a message we do not
    know (sent from the provider's own app, or before the account was connected) is skipped."""
    with transaction.atomic():
        outbound = Message.objects.select_for_update(of=("self",)).select_related("ticket").filter(
            channel_account=account, direction=Message.Direction.OUTBOUND
        )
        if status.external_id:
            messages = list(outbound.filter(external_id=status.external_id))
        elif status.watermark is not None and status.recipient is not None:
            # "Everything we sent this customer up to the watermark" (Messenger read/delivery).
            messages = list(
                outbound.filter(external_thread_id=status.recipient.value, created_at__lte=status.watermark)
                .exclude(delivery_state__in=[State.READ, State.QUEUED])
                .order_by("created_at")[:500]
            )
        else:
            return _skipped("receipt without a message id or watermark")
        if not messages:
            return _skipped(f"{status.state} receipt for a message not sent from the helpdesk")
        changed = [message.pk for message in messages if _apply(message, status)]
    if not changed:
        return {"kind": "delivery", "state": status.state, "message_ids": [], "reason": "already at this state or later"}
    return {"kind": "delivery", "state": status.state, "message_id": changed[0], "message_ids": changed}


def record_reaction(*, account: ChannelAccount, reaction: MessageReaction) -> dict:
    """Note the customer's reaction on the message it is about (ours or theirs)."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("ticket")
            .filter(channel_account=account, external_id=reaction.target_external_id).first()
        )
        if message is None:
            return _skipped("reaction to a message the helpdesk does not have")
        metadata = dict(message.metadata or {})
        reactions = [item for item in metadata.get("reactions") or [] if item.get("by") != "customer"]
        if not reaction.removed and reaction.emoji:
            reactions.append({"emoji": reaction.emoji, "by": "customer",
                              "at": (reaction.at or timezone.now()).isoformat()})
        metadata["reactions"] = reactions
        message.metadata = metadata
        message.save(update_fields=["metadata"])
        publish_on_commit([ticket_group(message.ticket_id)], ticket_changed_payload(message.ticket))
    return {"kind": "reaction", "message_id": message.pk, "removed": reaction.removed}


def record_unsent(*, account: ChannelAccount, unsent: MessageUnsent) -> dict:
    """The customer deleted a message: its content is removed (Meta requires it) and the message
    is marked, so the conversation shows that something was withdrawn."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("ticket")
            .filter(channel_account=account, external_id=unsent.external_id,
                    direction=Message.Direction.INBOUND).first()
        )
        if message is None:
            return _skipped("unsent message the helpdesk never received")
        metadata = dict(message.metadata or {})
        metadata["unsent_at"] = (unsent.at or timezone.now()).isoformat()
        message.metadata = metadata
        message.body_text = message.visible_text = message.body_html = ""
        message.save(update_fields=["metadata", "body_text", "visible_text", "body_html"])
        message.attachments.all().delete()
        publish_on_commit([ticket_group(message.ticket_id)], ticket_changed_payload(message.ticket))
    return {"kind": "unsent", "message_id": message.pk}


def record_echo(*, account: ChannelAccount, echo: OutboundEcho) -> dict:
    """A copy of a message the page sent. Our own reply coming back changes nothing; one sent from
    the provider's app (Meta Business Suite) joins the customer's conversation as a sent reply, so
    the agents see the whole exchange. Never a customer message."""
    from tickets import actions

    if Message.objects.filter(channel_account=account, external_id=echo.external_id).exists():
        return _skipped("echo of a message sent from the helpdesk")
    ticket = (
        Ticket.objects.filter(channel_account=account, external_thread_id=echo.recipient.value)
        .order_by("-created_at").first()
    )
    if ticket is None:
        return _skipped("echo of a message sent outside the helpdesk to a customer with no conversation here")
    message = actions.add_message(
        ticket=ticket,
        direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.SYSTEM,
        body_text=echo.text,
        external_id=echo.external_id,
        delivery_state=State.SENT,
        created_at=echo.sent_at,
        metadata={**echo.metadata, "echo": True, "sent_outside_helpdesk": True},
    )
    return {"kind": "echo", "message_id": message.pk}


def record_opt_out(*, account: ChannelAccount, opt_out: OptOut) -> dict:
    """Mark the customer's phone number opted out of text messages (STOP) or back in (START)."""
    handle = opt_out.customer
    identity = ChannelIdentity.objects.filter(kind=handle.kind, value=handle.value, account=None).first()
    if identity is None:
        return _skipped("opt-out for a number the helpdesk does not know")
    when = timezone.now() if opt_out.opted_out else None
    if bool(identity.opted_out_at) == opt_out.opted_out:
        return {"kind": "opt_out", "customer_id": identity.customer_id, "opted_out": opt_out.opted_out,
                "reason": "unchanged"}
    identity.opted_out_at = when
    identity.save(update_fields=["opted_out_at"])
    return {"kind": "opt_out", "customer_id": identity.customer_id, "opted_out": opt_out.opted_out}


def phone_opted_out(phone: str) -> datetime | None:
    """When this phone number opted out of text messages (None: it may be sent to)."""
    return (
        ChannelIdentity.objects.filter(kind=ChannelIdentity.Kind.PHONE, value=phone, account=None)
        .values_list("opted_out_at", flat=True).first()
    )


def last_customer_message_time(ticket: Ticket) -> datetime | None:
    """When the customer last wrote on this ticket's channel account (the provider's own time when
    it sent one: the window runs from the customer's message, not from our receipt of it)."""
    return _written_at(
        Message.objects.filter(ticket=ticket, direction=Message.Direction.INBOUND, is_auto_reply=False)
    )


def last_customer_message_time_on(customer_id: int, account_id: int | None) -> datetime | None:
    """When the customer last wrote on one channel account, on any of their tickets: the window of
    a reply sent on another of the customer's channels than the ticket's."""
    return _written_at(
        Message.objects.filter(ticket__customer_id=customer_id, channel_account_id=account_id,
                               direction=Message.Direction.INBOUND, is_auto_reply=False)
    )


def _written_at(inbound) -> datetime | None:
    message = inbound.order_by("-created_at").only("created_at", "metadata").first()
    if message is None:
        return None
    sent_at = (message.metadata or {}).get("sent_at")
    if sent_at:
        try:
            return datetime.fromisoformat(sent_at)
        except ValueError:
            pass
    return message.created_at


def reply_window_closes_at(ticket: Ticket) -> datetime | None:
    """When the provider stops accepting free-form replies on this ticket (None: no such window
    on this channel, or the customer never wrote)."""
    hours = REPLY_WINDOW_HOURS.get(ticket.channel)
    if hours is None:
        return None
    last = last_customer_message_time(ticket)
    return last + timedelta(hours=hours) if last is not None else None


def message_window_closes_at(message: Message) -> datetime | None:
    """The reply window that one outbound message is sent in: the ticket's, or, for a reply on
    another of the customer's channels, that channel's (from the customer's last message on the
    message's account)."""
    ticket = message.ticket
    if message.channel == ticket.channel and message.channel_account_id in (None, ticket.channel_account_id):
        return reply_window_closes_at(ticket)
    hours = REPLY_WINDOW_HOURS.get(message.channel)
    if hours is None:
        return None
    last = last_customer_message_time_on(ticket.customer_id, message.channel_account_id)
    return last + timedelta(hours=hours) if last is not None else None


class ReplyWindow:
    """What the ticket page tells the agent about the provider's reply window."""

    def __init__(self, *, closes_at: datetime | None, is_open: bool, fallback: str = "",
                 fallback_until: datetime | None = None, opted_out_at: datetime | None = None) -> None:
        self.closes_at = closes_at
        self.is_open = is_open
        # SMS: when the customer texted STOP (replies are blocked until START).
        self.opted_out_at = opted_out_at
        # When closed: "human_agent" (Messenger/Instagram HUMAN_AGENT tag, until fallback_until),
        # "template" (WhatsApp's approved template) or "" (replies are blocked).
        self.fallback = fallback
        self.fallback_until = fallback_until


def reply_window(ticket: Ticket, now: datetime | None = None) -> ReplyWindow | None:
    """The reply window of a messaging ticket (None on channels without one). On SMS there is no
    window, but a customer who texted STOP closes it until they text START."""
    if ticket.channel == Channel.SMS:
        phone = ticket.external_thread_id or ticket.customer.phone
        opted_out_at = phone_opted_out(phone) if phone else None
        return ReplyWindow(closes_at=None, is_open=False, opted_out_at=opted_out_at) if opted_out_at else None
    if ticket.channel not in REPLY_WINDOW_HOURS:
        return None
    now = now or timezone.now()
    closes_at = reply_window_closes_at(ticket)
    if closes_at is not None and now <= closes_at:
        return ReplyWindow(closes_at=closes_at, is_open=True)
    settings = (ticket.channel_account.settings or {}) if ticket.channel_account_id else {}
    if ticket.channel == Channel.WHATSAPP and settings.get("template_name"):
        return ReplyWindow(closes_at=closes_at, is_open=False, fallback="template")
    if ticket.channel != Channel.WHATSAPP and settings.get("human_agent_tag") and closes_at is not None:
        until = closes_at - timedelta(hours=REPLY_WINDOW_HOURS[ticket.channel]) + timedelta(days=HUMAN_AGENT_WINDOW_DAYS)
        if now <= until:
            return ReplyWindow(closes_at=closes_at, is_open=False, fallback="human_agent", fallback_until=until)
    return ReplyWindow(closes_at=closes_at, is_open=False)
