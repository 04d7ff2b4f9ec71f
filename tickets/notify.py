"""In-app notifications, also sent by email.

    notify([assignee, lead], ticket=ticket, kind="sla_breached", text=...)

creates one `Notification` per distinct user, pushes it live to the user's pages (the
`agent-<id>` group) and, after the commit, queues a task that emails it. `text` may be a string,
a lazy translation, or a function of the recipient (to write in their language and time zone).
The email task is idempotent: a notification is emailed once, however often the task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tickets.events import agent_group, publish_many_on_commit
from tickets.models import Notification, Ticket

logger = logging.getLogger(__name__)

Text = str | Callable[[AbstractBaseUser], str]


def language_of(user: AbstractBaseUser) -> str:
    profile = getattr(user, "agent_profile", None)
    return getattr(profile, "language", None) or settings.LANGUAGE_CODE


def _text_for(text: Text, user: AbstractBaseUser) -> str:
    with translation.override(language_of(user)):
        return text(user) if callable(text) else str(text)


def notify(
    users: Iterable[AbstractBaseUser | None], *, ticket: Ticket | None = None, kind: str, text: Text,
    email: bool = True,
) -> list[Notification]:
    """Notify each distinct, active user once (None entries are skipped); returns the notifications."""
    return notify_many([(users, ticket, kind, text)], email=email)


def notify_many(
    items: Iterable[tuple[Iterable[AbstractBaseUser | None], Ticket | None, str, Text]], *, email: bool = True
) -> list[Notification]:
    """Several `notify` calls at once, (users, ticket, kind, text) each: one insert, one email task.
    `ticket` may be anything with the ticket's `pk`."""
    rows: list[Notification] = []
    now = timezone.now()
    for users, ticket, kind, text in items:
        recipients: dict[int, AbstractBaseUser] = {}
        for user in users:
            if user is not None and user.pk is not None and getattr(user, "is_active", True):
                recipients.setdefault(user.pk, user)
        rows.extend(
            Notification(recipient=user, ticket_id=ticket.pk if ticket is not None else None, kind=kind,
                         text=_text_for(text, user), created_at=now)
            for user in recipients.values()
        )
    if not rows:
        return []
    with transaction.atomic(savepoint=False):
        notifications = Notification.objects.bulk_create(rows)
        publish_many_on_commit([
            ([agent_group(n.recipient_id)], {
                "type": "notification.created",
                "notification": {"id": n.pk, "kind": n.kind, "text": n.text, "ticket_id": n.ticket_id},
            })
            for n in notifications
        ])
        if email:
            transaction.on_commit(partial(queue_emails, [n.pk for n in notifications]), robust=True)
    return notifications


def queue_emails(notification_ids: list[int]) -> None:
    from tickets.sla.tasks import email_notifications

    email_notifications.delay(notification_ids)


def mark_read(user: AbstractBaseUser, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications (all unread ones by default) as read; returns how many."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def unread_count(user: AbstractBaseUser) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def email_subject(notification: Notification) -> str:
    if notification.ticket_id:
        return _("[Helpdesk] Ticket #%(id)s: %(text)s") % {"id": notification.ticket_id, "text": notification.text[:120]}
    return _("[Helpdesk] %(text)s") % {"text": notification.text[:120]}


def email_body(notification: Notification) -> str:
    lines = [notification.text, ""]
    if notification.ticket_id:
        lines.append(settings.PUBLIC_URL + reverse("tickets:detail", args=[notification.ticket_id]))
    lines.append(settings.PUBLIC_URL + reverse("notifications:list"))
    return "\n".join(lines)


def send_emails(notification_ids: Iterable[int]) -> int:
    """Email the given notifications that were not emailed yet; returns how many were sent.

    Each row is locked while it is sent (SKIP LOCKED: a concurrent run skips it) and marked as
    emailed in the same transaction, so a notification is emailed once. A user without an email
    address is marked too: there is nothing to retry."""
    sent = 0
    for notification_id in notification_ids:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient", "recipient__agent_profile")
                .filter(pk=notification_id, emailed_at__isnull=True)
                .first()
            )
            if notification is None:
                continue
            address = notification.recipient.email
            if address:
                with translation.override(language_of(notification.recipient)):
                    send_mail(email_subject(notification), email_body(notification), None, [address])
                sent += 1
            notification.emailed_at = timezone.now()
            notification.save(update_fields=["emailed_at"])
    return sent
