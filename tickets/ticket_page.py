"""What the ticket page shows, read with a fixed number of queries whatever the number of messages,
orders, identities or events.

- the conversation: by default every message of the customer across all their tickets and
  channels, oldest first, the newest `CONVERSATION_PAGE_SIZE` of them with a link to older ones
  (keyset on (created_at, id): no OFFSET); "this ticket only" narrows it to the ticket;
- the customer panel: identities, language, local time, previous tickets and their outcomes,
  lifetime value, survey answers;
- the timeline: the ticket's events (and those of tickets merged into it) as sentences;
- the ticket's links to other tickets, both ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.db.models import Q, Subquery
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from metrics.customer_value import lifetime_value
from tickets import display
from tickets.access import visible_store_ids, visible_tickets
from tickets.models import (
    Attachment,
    ChannelIdentity,
    Customer,
    Language,
    Message,
    Team,
    Ticket,
    TicketEvent,
    TicketLink,
)

CONVERSATION_PAGE_SIZE = 50
TIMELINE_LIMIT = 100
PREVIOUS_TICKETS_LIMIT = 10
SURVEY_ANSWERS_LIMIT = 10

SCOPE_ALL = "all"
SCOPE_TICKET = "ticket"


# --- Conversation ---------------------------------------------------------------------------


_BLOCK_TAG = re.compile(r"<(?:br|p|div|li|tr|h[1-6]|blockquote|img)\b", re.IGNORECASE)


def frame_height_rem(body_html: str, shown_images: int) -> int:
    """A first guess at the iframe's height (it cannot size itself without scripts); the frame's
    wrapper can be resized by the agent. An image that loads counts as a few lines of text."""
    lines = len(_BLOCK_TAG.findall(body_html)) + len(strip_tags(body_html)) // 90 + 3 * shown_images
    return max(5, min(32, 3 + int(lines * 1.5)))


def person_name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def author_label(message: Message, customer: Customer) -> str:
    if message.author_type == Message.AuthorType.CUSTOMER:
        return str(message.author_customer or customer)
    if message.author_user is not None:
        return person_name(message.author_user)
    return str(Message.AuthorType(message.author_type).label)


@dataclass(frozen=True)
class ConversationEntry:
    message: Message
    author: str
    frame_document: str
    frame_height_rem: int
    blocked_images: int
    show_images_url: str
    visible_text: str  # the new part of a plain-text message, "" when nothing is folded away
    auto_reply: display.AutoReplyLabel | None
    shows_delivery: bool
    is_undelivered: bool
    attachments: list[Attachment]
    # Messages of the customer's other tickets are shown too, marked with their ticket.
    is_other_ticket: bool = False
    ticket_subject: str = ""
    receipts: list[Receipt] = field(default_factory=list)  # the provider's receipts, in order
    mention_html: str = ""  # a note with @mentions, escaped, the mentions marked


def note_with_mentions(message: Message) -> str:
    """An internal note's text, escaped, with line breaks and its @mentions of agents who were
    notified marked up; "" for other messages and for notes without such mentions."""
    metadata = message.metadata if isinstance(message.metadata, dict) else {}
    if message.direction != Message.Direction.NOTE or not metadata.get("mentions"):
        return ""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    from tickets.mentions import MENTION

    # Escaped first; a mention is only word characters and . + - so wrapping it stays safe.
    text = escape(message.body_text).replace("\r\n", "\n")
    notified = {name.lower() for name in metadata.get("mentioned_usernames") or []}

    def mark(match) -> str:
        name = match.group(1).rstrip(".")
        if name.lower() not in notified:
            return match.group(0)
        return f'<strong class="mention">@{name}</strong>' + match.group(1)[len(name):]

    marked = MENTION.sub(mark, text)
    return mark_safe(marked.replace("\n", "<br>"))


@dataclass(frozen=True)
class Receipt:
    state: str
    label: str
    at: datetime | None


def receipts_of(message: Message) -> list[Receipt]:
    """The delivery receipts recorded on an outbound message (sent, delivered, read, failed) with
    their times, in the order of the states."""
    metadata = message.metadata if isinstance(message.metadata, dict) else {}
    recorded = metadata.get("delivery")
    if not isinstance(recorded, dict):
        return []
    order = list(Message.DeliveryState.values)
    found = []
    for state in sorted((s for s in recorded if s in order), key=order.index):
        try:
            at = datetime.fromisoformat(str(recorded[state]))
        except ValueError:
            at = None
        found.append(Receipt(state=state, label=str(Message.DeliveryState(state).label), at=at))
    return found


@dataclass(frozen=True)
class ConversationPage:
    entries: list[ConversationEntry]
    scope: str
    older_url: str  # "" when the oldest message is shown
    newest_url: str  # "" on the newest page
    scope_urls: dict[str, str]
    other_ticket_count: int  # messages shown from the customer's other tickets


def images_shown(raw: str) -> frozenset[int]:
    """Ids of the messages whose remote images the agent chose to see (`?images=12,15`); anything
    that is not an id is ignored, so a hand-edited URL shows fewer images, never an error."""
    parts = raw.split(",")
    return frozenset(int(part) for part in parts if re.fullmatch(r"[0-9]{1,18}", part.strip()))


def _page_url(detail_url: str, origin: str = "", **params: str) -> str:
    """The page's address with its parameters, keeping the inbox view the agent came from."""
    params["from"] = origin
    query = urlencode({name: value for name, value in params.items() if value}, safe=",")
    return f"{detail_url}?{query}" if query else detail_url


def conversation_page(
    ticket: Ticket,
    user,
    *,
    scope: str,
    before: int | None,
    origin: str,
    detail_url: str,
    shown: frozenset[int],
    inbox_origin: str = "",
) -> ConversationPage:
    """One page of the conversation, oldest first: the newest page by default, or the page just
    older than message `before`. Two queries (messages with their authors and tickets, then their
    attachments). `origin` is this site's origin (for the frames' inline images); `inbox_origin`
    the inbox view the agent came from, kept in the page's links."""
    scope = scope if scope in (SCOPE_ALL, SCOPE_TICKET) else SCOPE_ALL
    if scope == SCOPE_TICKET:
        rows = Message.objects.filter(ticket=ticket)
    else:
        # Only tickets the agent may read: another store's ticket of the same person stays hidden.
        rows = Message.objects.filter(
            ticket__in=visible_tickets(user).filter(customer_id=ticket.customer_id).values("pk")
        )
    if before is not None:
        anchor = Subquery(Message.objects.filter(pk=before).values("created_at")[:1])
        rows = rows.filter(
            Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before)
        )
    newest_first = list(
        rows.select_related("author_user", "author_customer", "ticket")
        .prefetch_related("attachments")
        .order_by("-created_at", "-pk")[: CONVERSATION_PAGE_SIZE + 1]
    )
    has_older = len(newest_first) > CONVERSATION_PAGE_SIZE
    messages = newest_first[:CONVERSATION_PAGE_SIZE][::-1]
    images = ",".join(str(pk) for pk in sorted(shown))
    entries = [_entry(message, ticket, origin=origin, detail_url=detail_url, shown=shown, scope=scope,
                      inbox_origin=inbox_origin)
               for message in messages]
    scope_param = "" if scope == SCOPE_ALL else scope
    return ConversationPage(
        entries=entries,
        scope=scope,
        older_url=_page_url(detail_url, inbox_origin, scope=scope_param, before=str(messages[0].pk), images=images)
        + "#conversation" if has_older else "",
        newest_url=_page_url(detail_url, inbox_origin, scope=scope_param, images=images) if before is not None else "",
        scope_urls={
            SCOPE_ALL: _page_url(detail_url, inbox_origin, images=images),
            SCOPE_TICKET: _page_url(detail_url, inbox_origin, scope=SCOPE_TICKET, images=images),
        },
        other_ticket_count=sum(1 for entry in entries if entry.is_other_ticket),
    )


def _show_images_url(
    detail_url: str, shown: frozenset[int], message_id: int, scope: str, inbox_origin: str
) -> str:
    ids = ",".join(str(pk) for pk in sorted(shown | {message_id}))
    scope_param = "" if scope == SCOPE_ALL else scope
    return _page_url(detail_url, inbox_origin, scope=scope_param, images=ids) + f"#message-{message_id}"


def _entry(
    message: Message, ticket: Ticket, *, origin: str, detail_url: str, shown: frozenset[int], scope: str,
    inbox_origin: str = "",
) -> ConversationEntry:
    attachments = list(message.attachments.all())
    frame = (
        display.frame_document(
            message.body_html,
            origin=origin,
            inline_urls=display.inline_images(attachments),
            show_remote=message.pk in shown,
        )
        if message.body_html
        else display.MessageHtml("", 0)
    )
    outbound = message.direction == Message.Direction.OUTBOUND
    return ConversationEntry(
        message=message,
        author=author_label(message, ticket.customer),
        frame_document=frame.html,
        frame_height_rem=frame_height_rem(message.body_html, frame.shown_images) if message.body_html else 0,
        blocked_images=frame.blocked_images,
        show_images_url=_show_images_url(detail_url, shown, message.pk, scope, inbox_origin)
        if frame.blocked_images else "",
        visible_text="" if message.body_html else display.folded_text(message),
        auto_reply=display.auto_reply_label(message),
        shows_delivery=outbound,
        is_undelivered=outbound and message.delivery_state == Message.DeliveryState.FAILED,
        attachments=attachments,
        is_other_ticket=message.ticket_id != ticket.pk,
        ticket_subject=message.ticket.subject if message.ticket_id != ticket.pk else "",
        receipts=receipts_of(message) if outbound else [],
        mention_html=note_with_mentions(message),
    )


def last_message_id(ticket: Ticket) -> int:
    """The newest message id of the ticket (0 without messages): what the composer has "seen"."""
    return Message.objects.filter(ticket=ticket).order_by("-pk").values_list("pk", flat=True).first() or 0


# --- Customer panel -------------------------------------------------------------------------


@cache
def _country_zones() -> dict[str, str]:
    """ISO country code -> its first time zone in the system's zone.tab (the most populous one for
    countries with several)."""
    zones: dict[str, str] = {}
    for candidate in (Path("/usr/share/zoneinfo/zone.tab"), Path("/usr/share/zoneinfo/zone1970.tab")):
        try:
            lines = candidate.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) >= 3:
                for country in parts[0].split(","):
                    zones.setdefault(country.upper(), parts[2])
        if zones:
            break
    return zones


@dataclass(frozen=True)
class LocalTime:
    now: datetime
    zone: str
    from_country: bool  # guessed from the country: may be off in countries with several zones


def local_time(customer: Customer, *, now: datetime | None = None) -> LocalTime | None:
    """The customer's local time: from their time zone, else their country's; None when neither
    is known (or the zone name is not one the system knows)."""
    now = now or timezone.now()
    name, from_country = customer.time_zone, False
    if not name and customer.country:
        name, from_country = _country_zones().get(customer.country.upper(), ""), True
    if not name:
        return None
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return LocalTime(now=now.astimezone(zone), zone=name, from_country=from_country)


def language_label(code: str) -> str:
    try:
        return str(Language(code).label)
    except ValueError:
        return code


@dataclass(frozen=True)
class PreviousTicket:
    ticket: Ticket
    answers: list  # its survey answers among the customer's latest ones


@dataclass(frozen=True)
class CustomerPanel:
    customer: Customer
    language: str
    local_time: LocalTime | None
    identities: list[ChannelIdentity]
    previous_tickets: list[PreviousTicket]
    lifetime: list
    survey_answers: list


def _visible_condition(user) -> list[Q]:
    """[] or [condition] restricting rows with a `ticket` to the tickets the user may read."""
    from tickets.access import ticket_condition

    condition = ticket_condition(user, "ticket__")
    return [] if condition is None else [condition]


def customer_panel(ticket: Ticket, user) -> CustomerPanel:
    from surveys.models import SurveyAnswer

    customer = ticket.customer
    identities = list(
        ChannelIdentity.objects.filter(customer=customer).select_related("account").order_by("kind", "value")
    )
    previous = list(
        visible_tickets(user).filter(customer=customer).exclude(pk=ticket.pk)
        .only("pk", "subject", "status", "channel", "created_at", "solved_at", "merged_into")
        .order_by("-created_at", "-pk")[:PREVIOUS_TICKETS_LIMIT]
    )
    answers = list(
        SurveyAnswer.objects.filter(*_visible_condition(user), customer=customer)
        .only("pk", "kind", "score", "comment", "answered_at", "ticket_id")
        .order_by("-answered_at", "-pk")[:SURVEY_ANSWERS_LIMIT]
    )
    return CustomerPanel(
        customer=customer,
        language=language_label(customer.language),
        local_time=local_time(customer),
        identities=identities,
        previous_tickets=[
            PreviousTicket(ticket=item, answers=[answer for answer in answers if answer.ticket_id == item.pk])
            for item in previous
        ],
        lifetime=lifetime_value(customer, visible_store_ids(user)),
        survey_answers=answers,
    )


# --- Links ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkView:
    link: TicketLink
    other: Ticket
    label: str


def _link_label(link: TicketLink, outgoing: bool) -> str:
    if link.kind == TicketLink.Kind.DUPLICATE:
        return _("Duplicate of") if outgoing else _("Has a duplicate")
    if link.kind == TicketLink.Kind.FOLLOW_UP:
        return _("Follow-up of") if outgoing else _("Followed up in")
    return _("Related to")


def ticket_links(ticket: Ticket, user) -> list[LinkView]:
    """The ticket's links both ways, with the other ticket; links to tickets the agent cannot
    read are left out. One query."""
    visible = visible_tickets(user).values("pk")
    rows = (
        TicketLink.objects.filter(
            Q(from_ticket=ticket, to_ticket__in=visible) | Q(to_ticket=ticket, from_ticket__in=visible)
        )
        .select_related("from_ticket", "to_ticket")
        .order_by("created_at", "pk")
    )
    views = []
    for link in rows:
        outgoing = link.from_ticket_id == ticket.pk
        views.append(LinkView(link=link, other=link.to_ticket if outgoing else link.from_ticket,
                              label=_link_label(link, outgoing)))
    return views


# --- Timeline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    event: TicketEvent
    text: str
    from_ticket: int | None  # set for events of a ticket merged into this one


def _choice_label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _describe(event: TicketEvent, users: dict[int, Any], teams: dict[int, str]) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    kind = event.kind
    Kind = TicketEvent.Kind
    if kind == Kind.CREATED:
        return _("Ticket created")
    if kind == Kind.MESSAGE:
        return {
            Message.Direction.INBOUND: _("The customer wrote"),
            Message.Direction.OUTBOUND: _("Reply sent"),
            Message.Direction.NOTE: _("Internal note added"),
        }.get(data.get("direction"), _("Message added"))
    if kind == Kind.ASSIGNED:
        to = users.get(data.get("to"))
        return _("Assigned to %(name)s") % {"name": person_name(to)} if to else _("Unassigned")
    if kind == Kind.TEAM_CHANGED:
        team = teams.get(data.get("to"))
        return _("Moved to the team %(team)s") % {"team": team} if team else _("Removed from its team")
    if kind == Kind.STATUS_CHANGED:
        return _("Status changed from %(from)s to %(to)s") % {
            "from": _choice_label(Ticket.Status, data.get("from")), "to": _choice_label(Ticket.Status, data.get("to"))}
    if kind == Kind.PRIORITY_CHANGED:
        return _("Priority changed from %(from)s to %(to)s") % {
            "from": _choice_label(Ticket.Priority, data.get("from")),
            "to": _choice_label(Ticket.Priority, data.get("to"))}
    if kind == Kind.TAGGED:
        tags = ", ".join(data.get("to") or [])
        return _("Tags set to %(tags)s") % {"tags": tags} if tags else _("All tags removed")
    if kind == Kind.ORDER_LINKED:
        return _("Order %(number)s linked") % {"number": data.get("number", "")}
    if kind == Kind.ORDER_UNLINKED:
        return _("Order %(number)s unlinked") % {"number": data.get("number", "")}
    if kind == Kind.ORDER_ACTION:
        return _("Order %(number)s: %(result)s") % {"number": data.get("number", ""), "result": data.get("message", "")}
    if kind == Kind.MERGED:
        if data.get("merged_into"):
            return _("Merged into #%(id)s") % {"id": data["merged_into"]}
        return _("Ticket #%(id)s merged into this one") % {"id": data.get("merged_ticket", "")}
    if kind == Kind.CUSTOMER_MERGED:
        return _("The customer's records were merged")
    if kind == Kind.REOPENED:
        return _("Reopened by a message from the customer")
    if kind in (Kind.SLA_WARNING, Kind.SLA_BREACHED):
        from tickets.sla.escalation import clock_label

        clock = clock_label(data.get("clock", "")) if data.get("clock") else ""
        if kind == Kind.SLA_WARNING:
            return _("SLA warning: %(clock)s") % {"clock": clock} if clock else _("SLA warning")
        return _("SLA breached: %(clock)s") % {"clock": clock} if clock else _("SLA breached")
    if kind == Kind.RULE_APPLIED:
        return _("Automation rule “%(rule)s” applied") % {"rule": data.get("rule", "")}
    if kind == getattr(Kind, "SPAM", None):
        return _("Marked as spam") if data.get("spam", True) else _("Marked as not spam")
    if kind == Kind.SPLIT:
        if data.get("to_ticket"):
            return _("A message was split off into #%(id)s") % {"id": data["to_ticket"]}
        return _("Split off from #%(id)s") % {"id": data.get("from_ticket", "")}
    if kind == Kind.LINKED:
        other = data.get("to_ticket") or data.get("from_ticket")
        return _("Linked to #%(id)s (%(kind)s)") % {"id": other, "kind": _choice_label(TicketLink.Kind, data.get("kind"))}
    if kind == Kind.UNLINKED:
        other = data.get("to_ticket") or data.get("from_ticket")
        return _("Link to #%(id)s removed") % {"id": other}
    return _choice_label(TicketEvent.Kind, kind)


def timeline(ticket: Ticket) -> list[TimelineEntry]:
    """The newest `TIMELINE_LIMIT` events of the ticket and of tickets merged into it, oldest
    first, as sentences. Message events are left out: the conversation shows the messages.
    Three queries (events, then the people and teams they name)."""
    events = list(
        TicketEvent.objects.filter(Q(ticket=ticket) | Q(ticket__merged_into=ticket))
        .exclude(kind=TicketEvent.Kind.MESSAGE)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:TIMELINE_LIMIT]
    )[::-1]
    user_ids = {e.data.get("to") for e in events if e.kind == TicketEvent.Kind.ASSIGNED and isinstance(e.data, dict)}
    team_ids = {e.data.get("to") for e in events if e.kind == TicketEvent.Kind.TEAM_CHANGED and isinstance(e.data, dict)}
    user_ids.discard(None)
    team_ids.discard(None)
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name")) if team_ids else {}
    return [
        TimelineEntry(event=event, text=_describe(event, users, teams),
                      from_ticket=event.ticket_id if event.ticket_id != ticket.pk else None)
        for event in events
    ]
