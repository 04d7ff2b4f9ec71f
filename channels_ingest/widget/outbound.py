"""Agents' replies on chat tickets: to the visitor's open widget, or by email once they have gone.

The reply takes the same road as every channel's (`channels_ingest.outbound.send_message` calls
the "chat" adapter's `send_reply`, which is `send_chat_reply`):
- the visitor has the chat open (a live socket, see `limits.visitor_online`): the reply is pushed
  to the conversation's sockets and marked sent; the widget's acknowledgements move it on to
  delivered and read;
- the visitor has gone and left an email address: the reply is emailed from the store's mailbox
  (SMTP, as every email reply), after a short grace period in case they are only reloading the page;
- the visitor has gone without an address: the reply is kept (sent, "waiting for the visitor")
  and shown when they come back; the widget then acknowledges it.

`notify_visitor_typing(ticket)` shows the visitor that an agent is writing.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.base import ChannelError, SendResult
from channels_ingest.widget import limits
from channels_ingest.widget.conversations import public_message
from channels_ingest.widget.models import WidgetConversation, visitor_group
from tickets.events import publish
from tickets.models import Channel, ChannelAccount, Message, Ticket


def away_grace_seconds() -> int:
    """How long after the visitor's last sign of life a reply waits before going by email."""
    return int(getattr(settings, "HELPDESK_WIDGET_EMAIL_AFTER_SECONDS", 45))


def conversation_of(thread: str, account_id: int | None) -> WidgetConversation | None:
    return (
        WidgetConversation.objects.select_related("settings", "settings__store", "settings__email_account")
        .filter(visitor_key=thread, settings__account_id=account_id).first()
        if thread else None
    )


def group_event(event: dict) -> dict:
    """A channel-layer message for the visitor's sockets; the consumer sends `event` as it is."""
    return {"type": "widget.event", "event": event}


def send_chat_reply(message: Message) -> SendResult:
    conversation = conversation_of(
        message.external_thread_id or message.ticket.external_thread_id, message.channel_account_id
    )
    if conversation is None:
        raise ChannelError(_("This chat conversation no longer exists, so the reply cannot be shown to the visitor."),
                           permanent=True)
    external_id = f"chat-out-{message.pk}"
    if limits.visitor_online(conversation.pk):
        layer = get_channel_layer()
        try:
            async_to_sync(layer.group_send)(
                visitor_group(conversation.pk), group_event({"type": "message", "message": public_message(message)})
            )
        except Exception as exc:  # the channel layer's Redis is unreachable: try again later
            raise ChannelError(_("The chat server could not be reached: %(error)s") % {"error": exc},
                               permanent=False) from exc
        return SendResult(external_id=external_id, metadata={"via": "chat"})
    if conversation.visitor_email:
        away_for = timezone.now() - conversation.last_seen_at
        if away_for < timedelta(seconds=away_grace_seconds()):
            # Perhaps only reloading the page: the task tries again in a moment.
            raise ChannelError(_("The visitor has just left the chat; the reply waits a moment before going by email."),
                               permanent=False)
        mailbox = _mailbox(conversation)
        if mailbox is not None:
            return _send_by_email(message, conversation, mailbox)
    return SendResult(external_id=external_id, metadata={"via": "chat", "waiting_for_visitor": True})


def _mailbox(conversation: WidgetConversation) -> ChannelAccount | None:
    widget = conversation.settings
    if widget.email_account_id:
        return widget.email_account
    return (
        ChannelAccount.objects.filter(store_id=widget.store_id, channel=Channel.EMAIL,
                                      status=ChannelAccount.Status.ACTIVE)
        .order_by("pk").first()
    )


def _send_by_email(message: Message, conversation: WidgetConversation, mailbox: ChannelAccount) -> SendResult:
    """The reply as an email from the store's mailbox to the address the visitor gave, with the
    ticket reference in the subject so that their answer joins the same ticket."""
    from channels_ingest.email.send import build_reply, deliver, mailbox_address, smtp_settings

    smtp = smtp_settings(mailbox)
    sender = mailbox_address(mailbox)
    # The same message, sent from the mailbox: the reply keeps its chat account in the database.
    as_email = copy.copy(message)
    as_email.channel_account = mailbox
    mime, _references, message_id = build_reply(as_email, conversation.visitor_email, None)
    deliver(mime, sender=sender, recipient=conversation.visitor_email, smtp=smtp, helo=sender.rpartition("@")[2])
    return SendResult(external_id=message_id, metadata={"via": "email", "to": conversation.visitor_email,
                                                         "from": sender})


def chat_presence(ticket: Ticket) -> dict | None:
    """For the ticket page: whether the visitor of this chat ticket has the chat open now, and the
    address replies go to once they have gone ({"online": bool, "email": str}); None when the
    ticket is not a widget conversation."""
    conversation = WidgetConversation.objects.filter(ticket=ticket).order_by("-pk").first()
    if conversation is None:
        return None
    return {"online": limits.visitor_online(conversation.pk), "email": conversation.visitor_email}


def notify_visitor_typing(ticket: Ticket, *, typing: bool = True) -> int:
    """Show (or stop showing) "typing..." in the widget of each visitor of this chat ticket.
    Returns how many conversations were told."""
    if ticket.channel != Channel.CHAT:
        return 0
    ids = list(WidgetConversation.objects.filter(ticket=ticket).values_list("pk", flat=True))
    for conversation_id in ids:
        publish([visitor_group(conversation_id)], group_event({"type": "typing", "from": "agent", "typing": bool(typing)}))
    return len(ids)
