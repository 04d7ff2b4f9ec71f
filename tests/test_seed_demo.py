"""`manage.py seed_demo` builds a realistic helpdesk once; running it again changes nothing."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Count

from tickets.models import (
    AgentProfile,
    CannedResponse,
    Channel,
    ChannelAccount,
    Message,
    Order,
    Store,
    Ticket,
    TicketEvent,
)

DEMO_ROLES = {
    "admin": AgentProfile.Role.ADMIN,
    "manager": AgentProfile.Role.MANAGER,
    "lucia": AgentProfile.Role.AGENT,
    "andrei": AgentProfile.Role.AGENT,
    "emma": AgentProfile.Role.AGENT,
}


def row_counts() -> dict[str, int]:
    """Rows in every table of every installed app, including many-to-many tables."""
    counts = {}
    for model in apps.get_models(include_auto_created=True):
        counts[model._meta.db_table] = model._default_manager.count()
    return counts


def checksum(model, fields: list[str]) -> str:
    rows = model.objects.order_by("pk").values_list("pk", *fields)
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def snapshot() -> dict[str, object]:
    return {
        "counts": row_counts(),
        "tickets": checksum(Ticket, ["updated_at", "status", "priority", "assignee_id", "team_id", "subject",
                                     "first_response_at", "solved_at", "closed_at", "last_customer_message_at"]),
        "messages": checksum(Message, ["ticket_id", "created_at", "direction", "delivery_state", "body_text",
                                       "body_html", "delivery_updated_at"]),
        "events": checksum(TicketEvent, ["ticket_id", "kind", "created_at", "data"]),
        "orders": checksum(Order, ["updated_at", "status", "total", "customer_id"]),
        "users": checksum(apps.get_model("auth", "User"), ["password", "last_login", "is_superuser"]),
    }


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_builds_a_realistic_helpdesk_once_and_changes_nothing_the_second_time(client) -> None:
    first_output = seed()

    assert set(Store.objects.values_list("slug", "default_language", "currency")) == {
        ("casa-lumbre", "es", "EUR"), ("atelier-carpati", "ro", "RON"),
    }
    assert set(ChannelAccount.objects.values_list("channel", flat=True)) == set(Channel.values)
    assert not any(account.has_secrets for account in ChannelAccount.objects.all())

    profiles = {p.user.username: p for p in AgentProfile.objects.select_related("user")}
    assert {name: profiles[name].role for name in DEMO_ROLES} == DEMO_ROLES
    assert profiles["admin"].user.is_superuser and profiles["admin"].user.is_staff
    assert {name: profiles[name].language for name in ("lucia", "andrei", "emma")} == {
        "lucia": "es", "andrei": "ro", "emma": "en",
    }

    tickets = Ticket.objects.all()
    assert 250 <= tickets.count() <= 350
    assert set(tickets.values_list("channel", flat=True)) == set(Channel.values)
    assert set(tickets.values_list("status", flat=True)) == set(Ticket.Status.values)
    assert set(tickets.values_list("priority", flat=True)) == set(Ticket.Priority.values)
    assert set(tickets.values_list("language", flat=True)) == {"es", "ro", "en"}
    assert tickets.filter(assignee__isnull=True).exists() and tickets.filter(assignee__isnull=False).exists()
    # Timestamps are historic and consistent with the conversation.
    assert not tickets.filter(status__in=["solved", "closed"], solved_at__isnull=True).exists()
    assert not tickets.filter(status="closed", closed_at__isnull=True).exists()
    replied = tickets.filter(messages__direction=Message.Direction.OUTBOUND).distinct()
    assert not replied.filter(first_response_at__isnull=True).exists()
    assert tickets.order_by("created_at").first().created_at < tickets.order_by("-created_at").first().created_at
    assert (tickets.order_by("-updated_at").first().updated_at - tickets.order_by("created_at").first().created_at).days >= 45
    assert Message.objects.exclude(body_html="").exists()
    assert Message.objects.filter(direction=Message.Direction.NOTE).exists()

    orders = Order.objects.all()
    assert orders.filter(lines__isnull=False).distinct().count() == orders.count()
    assert orders.filter(shipments__isnull=False).exists()
    assert set(orders.values_list("marketplace", flat=True)) >= {
        Channel.AMAZON, Channel.EBAY, Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.MARKETPLACE,
    }
    assert orders.filter(marketplace=Channel.AMAZON, number__regex=r"^\d{3}-\d{7}-\d{7}$").exists()
    assert set(CannedResponse.objects.values_list("language", flat=True)) == {"en", "es", "ro"}
    # One person across channels: some customers wrote on two different channels.
    assert Ticket.objects.values("customer").annotate(n=Count("channel", distinct=True)).filter(n__gte=2).exists()
    assert "tickets" in first_output

    before = snapshot()
    second_output = seed()
    assert snapshot() == before
    assert "nothing to do" in second_output

    for username in DEMO_ROLES:
        assert client.login(username=username, password="demo"), username
