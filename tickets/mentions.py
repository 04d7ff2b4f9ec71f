"""@mentions in internal notes: who can be mentioned on a ticket, and notifying them.

A mention is `@username`. Only agents who may read the ticket (`tickets.access.viewers_condition`)
are offered by the autocomplete and notified; a mention of anyone else is left as plain text, so
a note never tells an agent about a ticket they cannot open.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from tickets.access import viewers_condition
from tickets.models import Message, Ticket
from tickets.notify import notify

# Django usernames: letters, digits and @ . + - _ ; a mention ends before a trailing full stop.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]{1,150})")
NOTIFICATION_KIND = "mention"


def mentioned_usernames(text: str) -> list[str]:
    """The usernames mentioned in `text`, in order, each once (case kept as written)."""
    seen: dict[str, str] = {}
    for match in MENTION.finditer(text or ""):
        name = match.group(1).rstrip(".")
        if name:
            seen.setdefault(name.lower(), name)
    return list(seen.values())


def helpdesk_users() -> QuerySet:
    """Active users with a helpdesk role (an agent profile, or superusers)."""
    return get_user_model().objects.filter(is_active=True).filter(
        Q(agent_profile__isnull=False) | Q(is_superuser=True)
    )


def mentionable_agents(ticket: Ticket, *, query: str = "", limit: int = 10) -> list:
    """Agents who may read the ticket whose username or name starts with `query`, for the
    autocomplete (at most `limit`)."""
    users = helpdesk_users().select_related("agent_profile").order_by("username")
    query = query.strip().lstrip("@")
    if query:
        users = users.filter(
            Q(username__istartswith=query) | Q(first_name__istartswith=query) | Q(last_name__istartswith=query)
        )
    return list(users.filter(viewers_condition(ticket))[:limit])


def mentioned_agents(ticket: Ticket, text: str, *, author=None) -> list:
    """The agents the text mentions who may read the ticket (the author left out)."""
    names = mentioned_usernames(text)
    if not names:
        return []
    condition = Q()
    for name in names:
        condition |= Q(username__iexact=name)
    users = helpdesk_users().filter(condition).filter(viewers_condition(ticket))
    if author is not None:
        users = users.exclude(pk=author.pk)
    return list(users.select_related("agent_profile"))


def notify_mentions(*, message: Message, ticket: Ticket, author=None) -> list:
    """Notify the agents a note mentions (in the app and by email, in each one's language) and
    record them on the message (`metadata["mentions"]`). Returns the users notified."""
    users = mentioned_agents(ticket, message.body_text, author=author)
    if not users:
        return []
    excerpt = Truncator(message.body_text).chars(200)
    name = (author.get_full_name() or author.get_username()) if author is not None else ""

    def text(user) -> str:
        return _("%(name)s mentioned you on ticket #%(id)s: %(excerpt)s") % {
            "name": name, "id": ticket.pk, "excerpt": excerpt}

    notify(users, ticket=ticket, kind=NOTIFICATION_KIND, text=text)
    metadata = dict(message.metadata or {})
    metadata["mentions"] = [user.pk for user in users]
    metadata["mentioned_usernames"] = [user.get_username() for user in users]
    Message.objects.filter(pk=message.pk).update(metadata=metadata)
    message.metadata = metadata
    return users
