"""In-app notifications: created once per person, listed on their page, counted in the top bar,
marked read, and emailed once over real SMTP (loopback)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import TicketFactory, UserFactory
from tests.test_email_send import smtp_server  # noqa: F401  (a fixture)
from tickets.models import Notification
from tickets.notify import mark_read, notify, send_emails, unread_count

pytestmark = pytest.mark.django_db

LIST = "/notifications/"


def test_notify_creates_one_notification_per_distinct_user(alice, bob):
    ticket = TicketFactory()
    created = notify([alice, None, bob, alice], ticket=ticket, kind="assigned", text="Ticket for you")
    assert sorted(n.recipient.username for n in created) == ["alice", "bob"]
    assert Notification.objects.filter(ticket=ticket, kind="assigned", read_at__isnull=True).count() == 2


def test_notify_nobody_is_nothing():
    assert notify([None], kind="x", text="y") == []
    assert not Notification.objects.exists()


def test_text_can_depend_on_the_recipient(alice, bob):
    notify([alice, bob], kind="hello", text=lambda user: f"Hello {user.username}")
    assert sorted(Notification.objects.values_list("text", flat=True)) == ["Hello alice", "Hello bob"]


def test_inactive_users_are_not_notified(alice):
    alice.is_active = False
    alice.save()
    assert notify([alice], kind="x", text="y") == []


def test_page_lists_only_my_notifications_and_the_top_bar_counts_unread(client, alice, bob):
    notify([alice], kind="a", text="For Alice")
    notify([bob], kind="b", text="For Bob")
    client.force_login(alice)
    page = client.get(LIST).content.decode()
    assert "For Alice" in page and "For Bob" not in page
    assert re.search(r'class="count-badge"[^>]*>1</span>', page)


def test_opening_a_notification_marks_it_read_and_goes_to_the_ticket(client, alice):
    ticket = TicketFactory()
    [notification] = notify([alice], ticket=ticket, kind="sla_breached", text="Late!")
    client.force_login(alice)
    response = client.post(reverse("notifications:open", args=[notification.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:detail", args=[ticket.pk])
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert 'class="count-badge"' not in client.get(LIST).content.decode()


def test_someone_elses_notification_cannot_be_opened(client, alice, bob):
    [notification] = notify([bob], kind="x", text="Bob's")
    client.force_login(alice)
    assert client.post(reverse("notifications:open", args=[notification.pk])).status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read(client, alice, bob):
    notify([alice, bob], kind="x", text="One")
    notify([alice], kind="x", text="Two")
    client.force_login(alice)
    assert client.post(reverse("notifications:read_all")).status_code == 302
    assert unread_count(alice) == 0
    assert unread_count(bob) == 1
    assert mark_read(bob) == 1


def test_pages_need_a_helpdesk_role(client, mallory):
    client.force_login(mallory)
    assert client.get(LIST).status_code == 403


def test_email_is_sent_once_in_the_recipients_language(settings, smtp_server, alice, bob):  # noqa: F811
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    alice.agent_profile.language = "es"
    alice.agent_profile.save()
    ticket = TicketFactory()
    notifications = notify([alice, bob], ticket=ticket, kind="sla_breached", text="SLA!")
    ids = [n.pk for n in notifications]
    assert send_emails(ids) == 2
    assert send_emails(ids) == 0  # already emailed
    by_recipient = {m["To"]: m for m in smtp_server.messages}
    assert set(by_recipient) == {"alice@example.com", "bob@example.com"}
    assert by_recipient["bob@example.com"]["Subject"] == f"[Helpdesk] Ticket #{ticket.pk}: SLA!"
    body = by_recipient["bob@example.com"].get_content()
    assert f"/tickets/{ticket.pk}/" in body and "/notifications/" in body
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_user_without_email_address_is_marked_and_not_retried(settings, smtp_server):  # noqa: F811
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    nobody = UserFactory(username="noemail", email="", role="agent")
    [notification] = notify([nobody], kind="x", text="y")
    assert send_emails([notification.pk]) == 0
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    assert smtp_server.messages == []
