"""What happens in a widget conversation: business actions, no sockets.

- `start_conversation` gives a visitor a new conversation and its token (shown once, stored hashed);
- `find_conversation` finds a visitor's conversation by token, only within the same widget;
- `visitor_says` records what the visitor wrote: to the bot until the handoff, then straight into
  the ticket through `tickets.ingest.ingest_message` (threading, SLA, rules and live events as for
  any channel);
- `hand_off` turns the bot conversation into a chat ticket: the customer (chat identity, plus their
  email address if given), every line of the transcript as a message, the identified order linked,
  the automation rules run;
- `public_history` and `public_message` are all the visitor ever sees: this conversation's own
  messages from and to the customer, never internal notes, agents' addresses or other tickets.

The consumer (`channels_ingest.widget.consumers`) and the upload view call these and send the
returned payloads to the conversation's group.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_ingest.base import CustomerHandle, InboundAttachment, NormalizedMessage
from channels_ingest.widget.models import WidgetConversation, WidgetSettings, hash_token
from tickets import actions, ingest
from tickets.events import live_events_suppressed, publish_on_commit, ticket_group
from tickets.models import (
    Channel,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    Ticket,
)

logger = logging.getLogger(__name__)

# Lines of history replayed to a returning visitor.
HISTORY_LIMIT = 200


def max_message_chars() -> int:
    return int(getattr(django_settings, "HELPDESK_WIDGET_MAX_MESSAGE_CHARS", 2000))


class WidgetError(Exception):
    """Something the visitor asked for that cannot be done; `code` for the widget, the message
    translated for the visitor."""

    def __init__(self, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra

    def payload(self) -> dict:
        return {"type": "error", "code": self.code, "message": str(self), **self.extra}


@dataclass
class Said:
    """What a visitor's message produced: the payloads for the conversation's sockets, in order."""

    events: list[dict] = field(default_factory=list)
    handed_off: bool = False
    language: str = ""  # the conversation's language after this message


# --- Settings and the chat account ---------------------------------------------------------------


def widget_for_key(public_key: str) -> WidgetSettings | None:
    return (
        WidgetSettings.objects.select_related("store", "account", "calendar")
        .filter(public_key=public_key, enabled=True).first()
    )


def ensure_account(widget: WidgetSettings) -> ChannelAccount:
    """The chat account that carries the widget's tickets, created for the store on first need."""
    if widget.account_id:
        return widget.account
    with transaction.atomic():
        locked = WidgetSettings.objects.select_for_update().get(pk=widget.pk)
        if locked.account_id is None:
            locked.account = ChannelAccount.objects.create(
                store=widget.store, channel=Channel.CHAT, provider="chat",
                display_name=_("Chat widget · %(store)s") % {"store": widget.store.name},
                external_id=f"widget-{widget.public_key}",
            )
            locked.save(update_fields=["account", "updated_at"])
    widget.account = locked.account
    return widget.account


def greeting(widget: WidgetSettings, language: str) -> list[str]:
    """The bot's first words in `language`, shown to every visitor who opens the chat."""
    from channels_ingest.widget import bot

    with translation.override(language):
        return [str(line) for line in bot.greeting(widget, timezone.now(), language=language)]


def menu_options(widget: WidgetSettings, state: dict | None = None, *, language: str | None = None) -> list[str]:
    """The quick replies offered under the greeting."""
    from channels_ingest.widget import bot

    return [str(option) for option in bot.menu_options(widget, state or {}, language=language)]


# --- Conversations -------------------------------------------------------------------------------


def start_conversation(widget: WidgetSettings, *, language: str = "", page_url: str = "") -> tuple[WidgetConversation, str]:
    """A new conversation; returns it with the visitor's token, which is never stored or shown again."""
    token = secrets.token_urlsafe(32)
    languages = {code for code, _name in django_settings.LANGUAGES}
    conversation = WidgetConversation.objects.create(
        settings=widget,
        token_hash=hash_token(token),
        visitor_key=secrets.token_hex(16),
        language=language if language in languages else widget.conversation_language,
        page_url=page_url[:1000] if page_url.startswith(("http://", "https://")) else "",
    )
    return conversation, token


def find_conversation(widget: WidgetSettings, token: str) -> WidgetConversation | None:
    """The visitor's conversation on this widget, or None: a token of another store's widget, a
    made-up one or one of a deleted conversation all find nothing."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return (
        WidgetConversation.objects.select_related("settings", "settings__store", "ticket")
        .filter(settings=widget, token_hash=hash_token(token)).first()
    )


def forget_abandoned(*, now: datetime | None = None) -> int:
    """Delete the conversations that never reached a person and whose visitor has not been seen
    for HELPDESK_WIDGET_KEEP_DAYS (30): their transcript is personal data with no use left.
    Conversations with a ticket stay (their messages are the ticket's). Returns how many went."""
    from datetime import timedelta

    days = int(getattr(django_settings, "HELPDESK_WIDGET_KEEP_DAYS", 30))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _by_model = WidgetConversation.objects.filter(ticket__isnull=True, last_seen_at__lt=cutoff).delete()
    return deleted


def touch(conversation_id: int) -> None:
    WidgetConversation.objects.filter(pk=conversation_id).update(last_seen_at=timezone.now())


def set_visitor_email(conversation: WidgetConversation, email: str) -> str:
    """Record the address replies go to when the visitor has gone away; returns it normalised."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise WidgetError("invalid_email", _("That does not look like an email address.")) from None
    conversation.visitor_email = email[:254]
    conversation.save(update_fields=["visitor_email"])
    if conversation.ticket_id:
        # Known from now on as this customer's address, unless it is already another customer's
        # (see `_customer`: a typed address proves nothing).
        customer = conversation.ticket.customer
        ingest._add_identity(customer, ChannelIdentity.Kind.EMAIL, email, None, customer.name)
        if not customer.email:
            Customer.objects.filter(pk=customer.pk).update(email=email)
    return conversation.visitor_email


def clean_text(text: object) -> str:
    if not isinstance(text, str):
        raise WidgetError("invalid", _("The message could not be read."))
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise WidgetError("empty", _("The message is empty."))
    limit = max_message_chars()
    if len(text) > limit:
        raise WidgetError(
            "too_long", _("The message is too long: at most %(limit)s characters.") % {"limit": limit}, limit=limit
        )
    return text


def visitor_says(
    conversation: WidgetConversation, text: str, *, client_id: str = "", now: datetime | None = None,
    attachments: list[InboundAttachment] | None = None, language: str | None = None,
) -> Said:
    """Record one message of the visitor (text already cleaned) and whatever it causes.
    `language` is the one the shop page asked for explicitly (`?lang=`), if any: the bot keeps to
    it rather than guessing from the visitor's words."""
    said = _visitor_says(conversation, text, client_id=client_id, now=now, attachments=attachments,
                         language=language)
    said.language = WidgetConversation.objects.filter(pk=conversation.pk).values_list("language", flat=True).first() or ""
    return said


def _visitor_says(
    conversation: WidgetConversation, text: str, *, client_id: str, now: datetime | None,
    attachments: list[InboundAttachment] | None, language: str | None,
) -> Said:
    now = now or timezone.now()
    client_id = str(client_id or "")[:64]
    with transaction.atomic():
        conversation = (
            WidgetConversation.objects.select_for_update(of=("self",))
            .select_related("settings", "settings__store", "settings__calendar", "settings__account")
            .get(pk=conversation.pk)
        )
        if conversation.ticket_id is None and not attachments:
            if client_id and any(line.get("client_id") == client_id for line in conversation.transcript):
                return Said()  # the widget sent it again after a reconnect: already answered
            return _to_bot(conversation, text, client_id=client_id, now=now, language=language)
        if conversation.ticket_id is None:
            # A file is for a person to look at: it hands the conversation over first.
            if text:
                conversation.transcript = [*conversation.transcript, _line("visitor", text, now, client_id)]
            conversation.save(update_fields=["transcript"])
            said = Said(events=[_line_event(conversation, len(conversation.transcript) - 1)] if text else [],
                        handed_off=True)
            _hand_off_locked(conversation, now=now)
            said.events.append({"type": "handoff", "email": conversation.visitor_email})
            text = ""
        else:
            said = Said()
        message = _into_ticket(conversation, text, client_id=client_id, attachments=attachments or [], now=now)
        if message is not None:
            said.events.append({"type": "message", "message": public_message(message, client_id=client_id)})
        if text and _bot_still_listening(conversation):
            said.events.extend(_bot_after_handoff(conversation, text, now=now))
        return said


def _bot_still_listening(conversation: WidgetConversation) -> bool:
    from channels_ingest.widget import bot

    return bool(conversation.state) and bot.needs_bot(conversation.state)


def _bot_after_handoff(conversation: WidgetConversation, text: str, *, now: datetime) -> list[dict]:
    """After a handoff outside business hours the bot still asks for an email address: its
    answers join the ticket as the bot's messages."""
    from channels_ingest.widget import bot

    turn = bot.respond(conversation.settings, dict(conversation.state or {}), text,
                       visitor_key=conversation.visitor_key, now=now)
    conversation.state = turn.state or {}
    conversation.save(update_fields=["state"])
    if turn.customer_email and not conversation.visitor_email:
        try:
            set_visitor_email(conversation, turn.customer_email)
        except WidgetError:
            pass
    events = []
    for reply in turn.replies:
        message = actions.add_message(
            ticket=conversation.ticket, direction=Message.Direction.OUTBOUND, author_type=Message.AuthorType.BOT,
            body_text=str(reply), channel=Channel.CHAT, delivery_state=Message.DeliveryState.DELIVERED,
            is_auto_reply=True, created_at=timezone.now(),
        )
        events.append({"type": "message", "message": public_message(message)})
    events.extend(_turn_extras(turn))
    return events


def _turn_extras(turn) -> list[dict]:
    extras = []
    options = [str(option) for option in (getattr(turn, "options", None) or [])]
    if options:
        extras.append({"type": "options", "options": options})
    if getattr(turn, "wants_email", False):
        extras.append({"type": "ask_email"})
    return extras


def _line(who: str, text: str, at: datetime, client_id: str = "") -> dict:
    line = {"who": who, "text": text, "at": at.isoformat()}
    if client_id:
        line["client_id"] = client_id
    return line


def _line_event(conversation: WidgetConversation, index: int) -> dict:
    return {"type": "message", "message": transcript_payload(conversation, index)}


def _to_bot(conversation: WidgetConversation, text: str, *, client_id: str, now: datetime,
            language: str | None = None) -> Said:
    from channels_ingest.widget import bot

    with translation.override(conversation.language):
        turn = bot.respond(conversation.settings, dict(conversation.state or {}), text,
                           visitor_key=conversation.visitor_key, now=now, language=language)
    transcript = list(conversation.transcript)
    first = len(transcript)
    transcript.append(_line("visitor", text, now, client_id))
    for reply in turn.replies:
        transcript.append(_line("bot", str(reply), timezone.now()))
    conversation.transcript = transcript
    conversation.state = turn.state or {}
    fields = ["transcript", "state", "last_seen_at"]
    conversation.last_seen_at = now
    chosen = conversation.state.get("lang")
    if chosen in {code for code, _name in django_settings.LANGUAGES} and chosen != conversation.language:
        # The bot settled the conversation's language (the visitor wrote in it): the ticket and
        # the widget's own messages follow.
        conversation.language = chosen
        fields.append("language")
    if turn.order is not None and conversation.order_id is None:
        conversation.order = turn.order
        fields.append("order")
    if turn.customer_email and not conversation.visitor_email:
        try:
            validate_email(turn.customer_email)
        except ValidationError:
            pass
        else:
            conversation.visitor_email = turn.customer_email.strip().lower()[:254]
            fields.append("visitor_email")
    conversation.save(update_fields=fields)
    said = Said(events=[_line_event(conversation, index) for index in range(first, len(transcript))])
    if turn.handoff:
        _hand_off_locked(conversation, now=timezone.now())
        said.handed_off = True
        said.events.append({"type": "handoff", "email": conversation.visitor_email})
    said.events.extend(_turn_extras(turn))
    return said


def hand_off(conversation: WidgetConversation, *, now: datetime | None = None) -> Ticket:
    """Give the conversation to the team (see the module's docstring); returns its ticket. Does
    nothing more when it already has one."""
    with transaction.atomic():
        conversation = (
            WidgetConversation.objects.select_for_update(of=("self",))
            .select_related("settings", "settings__store", "settings__account").get(pk=conversation.pk)
        )
        if conversation.ticket_id is None:
            _hand_off_locked(conversation, now=now or timezone.now())
        return conversation.ticket


def visitor_handle(conversation: WidgetConversation) -> CustomerHandle:
    return CustomerHandle(
        kind=ChannelIdentity.Kind.CHAT_VISITOR, value=conversation.visitor_key,
        display_name=conversation.visitor_name, email=conversation.visitor_email, scoped_to_account=True,
    )


def _customer(conversation: WidgetConversation, account: ChannelAccount) -> Customer:
    handle = visitor_handle(conversation)
    known = ChannelIdentity.objects.filter(kind=handle.kind, value=handle.value, account=account).exists()
    order: Order | None = conversation.order
    if not known and order is not None and order.customer_id is not None:
        customer = ingest._surviving(order.customer)
        their_addresses = {customer.email.lower(), *ChannelIdentity.objects.filter(
            customer=customer, kind=ChannelIdentity.Kind.EMAIL).values_list("value", flat=True)}
        if not handle.email or handle.email in their_addresses:
            # The visitor proved they hold this order (its number and its email or postcode), and
            # gave no other address: the order's customer is who is writing.
            ingest._add_identity(customer, handle.kind, handle.value, account, handle.display_name)
            if handle.email:
                ingest._add_identity(customer, ChannelIdentity.Kind.EMAIL, handle.email, None, handle.display_name)
            return customer
    if known or not handle.email:
        return ingest.resolve_customer(account=account, handle=handle, language=conversation.language)
    # An address typed into the chat proves nothing: the visitor's customer is not joined to a
    # customer already known by it (an agent would show a stranger that person's orders). The
    # address becomes this customer's unless it belongs to someone else already; agents can merge
    # the two customers once they are sure.
    unproven = CustomerHandle(kind=handle.kind, value=handle.value, display_name=handle.display_name,
                              scoped_to_account=True)
    customer = ingest.resolve_customer(account=account, handle=unproven, language=conversation.language)
    ingest._add_identity(customer, ChannelIdentity.Kind.EMAIL, handle.email, None, handle.display_name)
    if not customer.email:
        customer.email = handle.email
        customer.save(update_fields=["email", "updated_at"])
    return customer


def _hand_off_locked(conversation: WidgetConversation, *, now: datetime) -> None:
    """Call inside a transaction holding the conversation's row lock."""
    widget = conversation.settings
    account = ensure_account(widget)
    handle = visitor_handle(conversation)
    with live_events_suppressed():
        ingest._advisory_lock(ingest.lock_key(account, handle))
        customer = _customer(conversation, account)
        lines = list(conversation.transcript)
        started = _parse_time(lines[0]["at"]) if lines else now
        first_visitor_line = next((line["text"] for line in lines if line.get("who") == "visitor"), "")
        subject = first_visitor_line.splitlines()[0][:80] if first_visitor_line else _("Chat conversation")
        ticket = actions.create_ticket(
            store=widget.store, channel=Channel.CHAT, channel_account=account, customer=customer,
            subject=subject, external_thread_id=conversation.visitor_key, language=conversation.language,
            created_at=started,
        )
        last_visitor_message: Message | None = None
        for index, line in enumerate(lines):
            at = _parse_time(line.get("at")) or now
            if line.get("who") == "visitor":
                last_visitor_message = actions.add_message(
                    ticket=ticket, ticket_is_locked=True, direction=Message.Direction.INBOUND,
                    author_customer=customer, body_text=line["text"], visible_text=line["text"],
                    channel=Channel.CHAT, external_id=_visitor_external_id(conversation, line.get("client_id"), index),
                    created_at=at, metadata={"widget": {"transcript_line": index}},
                )
            else:
                # The bot's words: an automatic message, never an agent's response for the SLA.
                actions.add_message(
                    ticket=ticket, ticket_is_locked=True, direction=Message.Direction.OUTBOUND,
                    author_type=Message.AuthorType.BOT, body_text=line["text"], channel=Channel.CHAT,
                    delivery_state=Message.DeliveryState.DELIVERED, is_auto_reply=True, created_at=at,
                    metadata={"widget": {"transcript_line": index}},
                )
        if conversation.order_id is not None:
            actions.link_order(ticket=ticket, order=conversation.order, created_at=now)
        conversation.ticket = ticket
        conversation.handed_off_at = now
        from channels_ingest.widget import bot

        state = dict(conversation.state or {})
        if state.get("step") != bot.AWAIT_EMAIL:
            # A person has it now (whether the bot or a file handed it over): the bot stays quiet.
            state["step"] = bot.HANDED_OFF
        conversation.state = state
        conversation.save(update_fields=["ticket", "handed_off_at", "state"])
        if last_visitor_message is not None:
            last_visitor_message.ticket = ticket
            from tickets.routing import rules as routing_rules

            last_visitor_message.ticket = routing_rules.run_rules(
                ticket, routing_rules.TICKET_CREATED, message=last_visitor_message
            ).ticket
            announced = last_visitor_message
        else:
            announced = None
    if announced is not None:
        ingest._announce_after_commit(announced)


def _visitor_external_id(conversation: WidgetConversation, client_id: str | None, index: int) -> str:
    return f"chat:{conversation.visitor_key}:{client_id or f'line-{index}'}"[:255]


def _parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _into_ticket(
    conversation: WidgetConversation, text: str, *, client_id: str, attachments: list[InboundAttachment],
    now: datetime,
) -> Message | None:
    account = ensure_account(conversation.settings)
    normalized = NormalizedMessage(
        channel=Channel.CHAT,
        external_id=_visitor_external_id(conversation, client_id or secrets.token_hex(8), 0),
        customer=visitor_handle(conversation),
        body_text=text,
        visible_text=text,
        thread_key=conversation.visitor_key,
        sent_at=now,
        language=conversation.language,
        attachments=attachments,
        metadata={"widget": {"conversation": conversation.pk}},
    )
    outcome = ingest.ingest_message(account=account, normalized=normalized)
    if outcome.ticket_id and outcome.ticket_id != conversation.ticket_id:
        # A follow-up ticket (the old one was solved long ago): the conversation goes on there.
        conversation.ticket_id = outcome.ticket_id
        conversation.save(update_fields=["ticket"])
    if outcome.message_id is None:
        return None
    return Message.objects.select_related("author_user").prefetch_related("attachments").get(pk=outcome.message_id)


# --- What the visitor sees ------------------------------------------------------------------------


def transcript_payload(conversation: WidgetConversation, index: int) -> dict:
    line = conversation.transcript[index]
    payload = {
        "id": f"t{conversation.pk}-{index}",
        "from": "visitor" if line.get("who") == "visitor" else "bot",
        "text": line.get("text", ""),
        "at": line.get("at"),
        "attachments": [],
    }
    if line.get("client_id"):
        payload["client_id"] = line["client_id"]
    return payload


def public_message(message: Message, *, client_id: str = "") -> dict:
    """One message as the visitor sees it. Agents appear by first name only."""
    if message.direction == Message.Direction.INBOUND:
        sender, author = "visitor", ""
    elif message.author_type == Message.AuthorType.BOT:
        sender, author = "bot", ""
    else:
        sender = "agent"
        user = message.author_user
        author = (user.first_name or "").strip() if user is not None else ""
    payload = {
        "id": f"m{message.pk}",
        "from": sender,
        "author": author,
        "text": message.visible_text or message.body_text,
        "at": message.created_at.isoformat(),
        "attachments": [{"id": item.pk, "name": item.filename, "size": item.size} for item in message.attachments.all()],
    }
    client_id = client_id or (message.external_id.rpartition(":")[2] if sender == "visitor" else "")
    if client_id:
        payload["client_id"] = client_id
    return payload


def public_messages_queryset(conversation: WidgetConversation):
    """This conversation's messages the visitor may see: theirs and the replies to them on the chat
    (never notes, never failed or unsent replies, never another conversation's)."""
    account_id = conversation.settings.account_id
    return (
        Message.objects.filter(
            channel_account_id=account_id, external_thread_id=conversation.visitor_key,
            direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND],
        )
        .exclude(delivery_state__in=[Message.DeliveryState.QUEUED, Message.DeliveryState.FAILED],
                 direction=Message.Direction.OUTBOUND)
        .select_related("author_user")
        .prefetch_related("attachments")
    )


def public_attachment(conversation: WidgetConversation, attachment_id: int):
    """A file of one of the conversation's public messages, or None."""
    from tickets.models import Attachment

    if conversation.ticket_id is None:
        return None
    return Attachment.objects.filter(pk=attachment_id, message__in=public_messages_queryset(conversation)).first()


def public_history(conversation: WidgetConversation) -> list[dict]:
    if conversation.ticket_id is None or conversation.settings.account_id is None:
        count = len(conversation.transcript)
        return [transcript_payload(conversation, index) for index in range(max(0, count - HISTORY_LIMIT), count)]
    recent = list(public_messages_queryset(conversation).order_by("-created_at", "-pk")[:HISTORY_LIMIT])
    return [public_message(message) for message in reversed(recent)]


def record_acknowledgement(conversation: WidgetConversation, message_ids: list, state: str) -> int:
    """The widget showed these agent replies (delivered) or the visitor read them (read).
    Ids of anything but this conversation's replies are ignored. Returns how many moved."""
    from channels_ingest.base import DeliveryStatus
    from tickets.delivery import record_delivery_status

    if state not in (Message.DeliveryState.DELIVERED, Message.DeliveryState.READ) or conversation.ticket_id is None:
        return 0
    wanted = []
    for value in message_ids[:100] if isinstance(message_ids, list) else []:
        if isinstance(value, str) and value.startswith("m") and value[1:].isdigit():
            wanted.append(int(value[1:]))
    if not wanted:
        return 0
    done = [Message.DeliveryState.READ] if state == Message.DeliveryState.READ else [
        Message.DeliveryState.DELIVERED, Message.DeliveryState.READ]
    # A reconnection acknowledges the whole history again: what is already there costs one query.
    mine = public_messages_queryset(conversation).filter(
        pk__in=wanted, direction=Message.Direction.OUTBOUND, author_type=Message.AuthorType.AGENT,
    ).exclude(delivery_state__in=done).values_list("external_id", flat=True)
    moved = 0
    account = conversation.settings.account
    for external_id in mine:
        if external_id.startswith("chat-out-"):
            result = record_delivery_status(account=account, status=DeliveryStatus(state=state, external_id=external_id))
            moved += len(result.get("message_ids") or [])
    return moved


def announce_visitor_typing(conversation: WidgetConversation, typing: bool) -> None:
    """Tell the agents on the ticket page that the visitor is (or stopped) typing."""
    if conversation.ticket_id is None:
        return
    publish_on_commit(
        [ticket_group(conversation.ticket_id)],
        {"type": "visitor.typing", "ticket_id": conversation.ticket_id, "typing": bool(typing)},
    )
