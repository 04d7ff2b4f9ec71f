"""Bulk actions from the inbox: assign, change status, tag, merge, mark as spam. Each ticket is
changed by the ticket's own business action (with its timeline event) and checked on its own; a
ticket the agent may not see is refused and left exactly as it was."""

from __future__ import annotations

import pytest

from tests.factories import (
    MessageFactory,
    StoreFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
    agent_of,
)
from tickets.inbox.bulk import BulkError, apply_bulk_action
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db

BULK = "/tickets/bulk/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def events(ticket: Ticket, kind: str) -> list[dict]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind).values_list("data", flat=True))


@pytest.fixture
def store():
    return StoreFactory()


@pytest.fixture
def agent(store):
    return agent_of(store, username="sofia")


def test_assign_to_an_agent_and_a_team(client, agent, store):
    olga = UserFactory(username="olga", role="agent")
    team = TeamFactory(name="Returns")
    tickets = TicketFactory.create_batch(3, store=store)
    client.force_login(agent)

    response = client.post(
        BULK,
        {
            "action": "assign",
            "ticket": [t.pk for t in tickets[:2]],
            "assignee": olga.pk,
            "team": team.pk,
            "next": "/tickets/?view=open",
        },
        follow=True,
    )

    assert response.redirect_chain == [("/tickets/?view=open", 302)]
    assert "2 tickets updated." in messages_of(response)
    for ticket in tickets[:2]:
        ticket.refresh_from_db()
        assert (ticket.assignee, ticket.team) == (olga, team)
        assert events(ticket, "assigned") == [{"from": None, "to": olga.pk}]
        assert [e.actor for e in TicketEvent.objects.filter(ticket=ticket, kind="assigned")] == [
            agent
        ]
    tickets[2].refresh_from_db()
    assert tickets[2].assignee is None


def test_assign_to_me_and_unassign(client, agent, store):
    ticket = TicketFactory(store=store)
    client.force_login(agent)

    client.post(BULK, {"action": "assign", "ticket": [ticket.pk], "assignee": "me"})
    ticket.refresh_from_db()
    assert ticket.assignee == agent

    client.post(BULK, {"action": "assign", "ticket": [ticket.pk], "assignee": "none"})
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_change_status(client, agent, store):
    tickets = TicketFactory.create_batch(2, store=store, status=Ticket.Status.OPEN)
    client.force_login(agent)

    client.post(BULK, {"action": "status", "ticket": [t.pk for t in tickets], "status": "pending"})

    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.PENDING
        assert events(ticket, "status_changed") == [{"from": "open", "to": "pending"}]


def test_tag_adds_to_the_tags_a_ticket_has(client, agent, store):
    vip, refund = TagFactory(name="vip"), TagFactory(name="refund")
    tagged = TicketFactory(store=store)
    tagged.tags.add(vip)
    plain = TicketFactory(store=store)
    client.force_login(agent)

    client.post(BULK, {"action": "tag", "ticket": [tagged.pk, plain.pk], "tag": refund.pk})

    assert sorted(tagged.tags.values_list("name", flat=True)) == ["refund", "vip"]
    assert list(plain.tags.values_list("name", flat=True)) == ["refund"]
    assert events(tagged, "tagged") == [{"from": ["vip"], "to": ["refund", "vip"]}]


def test_merge_into_the_chosen_ticket(client, agent, store):
    target, first, second = TicketFactory.create_batch(3, store=store)
    MessageFactory(ticket=first, body_text="first")
    MessageFactory(ticket=second, body_text="second")
    client.force_login(agent)

    response = client.post(
        BULK,
        {"action": "merge", "ticket": [first.pk, target.pk, second.pk], "merge_target": target.pk},
        follow=True,
    )

    assert "2 tickets updated." in messages_of(response)
    assert sorted(target.messages.values_list("body_text", flat=True)) == ["first", "second"]
    for source in (first, second):
        source.refresh_from_db()
        assert (source.merged_into, source.status) == (target, Ticket.Status.CLOSED)


def test_merge_without_a_choice_goes_into_the_oldest_ticket(agent, store):
    oldest, newer = TicketFactory(store=store), TicketFactory(store=store)

    result = apply_bulk_action(agent, [newer.pk, oldest.pk], "merge")

    newer.refresh_from_db()
    assert newer.merged_into == oldest
    assert result.done == [newer.pk]


def test_merge_into_a_ticket_not_selected_is_refused(agent, store):
    a, b, elsewhere = TicketFactory.create_batch(3, store=store)

    with pytest.raises(BulkError):
        apply_bulk_action(agent, [a.pk, b.pk], "merge", merge_target_id=elsewhere.pk)

    assert not Ticket.objects.filter(merged_into__isnull=False).exists()


def test_mark_as_spam(client, agent, store):
    ticket = TicketFactory(store=store, status=Ticket.Status.OPEN)
    client.force_login(agent)

    client.post(BULK, {"action": "spam", "ticket": [ticket.pk]})

    ticket.refresh_from_db()
    assert (ticket.is_spam, ticket.status) == (True, Ticket.Status.CLOSED)
    assert events(ticket, "spam") == [{"spam": True, "from": "open", "to": "closed"}]
    assert ticket.pk not in [t.pk for t in Ticket.objects.filter(is_spam=False)]


def test_tickets_the_agent_cannot_see_are_refused_and_untouched(client, agent, store):
    mine = TicketFactory(store=store, status=Ticket.Status.OPEN)
    elsewhere = TicketFactory(store=StoreFactory(), status=Ticket.Status.OPEN)
    client.force_login(agent)

    response = client.post(
        BULK,
        {"action": "status", "ticket": [mine.pk, elsewhere.pk, 987654], "status": "solved"},
        follow=True,
    )

    mine.refresh_from_db()
    elsewhere.refresh_from_db()
    assert mine.status == Ticket.Status.SOLVED
    assert elsewhere.status == Ticket.Status.OPEN
    assert not TicketEvent.objects.filter(ticket=elsewhere).exists()
    shown = messages_of(response)
    assert "1 ticket updated." in shown
    assert f"Ticket #{elsewhere.pk} not changed: not found or not yours to change" in shown
    assert "Ticket #987654 not changed: not found or not yours to change" in shown


def test_merge_cannot_pull_in_a_ticket_of_another_store(agent, store):
    mine = TicketFactory(store=store)
    other = TicketFactory(store=StoreFactory())
    MessageFactory(ticket=other, body_text="secret")

    with pytest.raises(BulkError):
        apply_bulk_action(agent, [mine.pk, other.pk], "merge", merge_target_id=mine.pk)

    other.refresh_from_db()
    assert other.merged_into is None
    assert not mine.messages.exists()


@pytest.mark.parametrize(
    "form",
    [
        {"action": "assign"},
        {"action": "status", "status": "nonsense"},
        {"action": "tag", "tag": 123456},
        {"action": "explode"},
        {"action": "status", "status": "solved", "ticket": []},
    ],
)
def test_a_wrong_request_changes_nothing(client, agent, store, form):
    ticket = TicketFactory(store=store, status=Ticket.Status.OPEN)
    client.force_login(agent)

    response = client.post(BULK, {"ticket": [ticket.pk], **form}, follow=True)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.assignee is None
    assert not TicketEvent.objects.filter(ticket=ticket).exists()
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_users_without_a_helpdesk_role_cannot_post(client, mallory):
    ticket = TicketFactory()
    client.force_login(mallory)

    assert client.post(BULK, {"action": "spam", "ticket": [ticket.pk]}).status_code == 403
    ticket.refresh_from_db()
    assert not ticket.is_spam


def test_an_unsafe_next_url_goes_back_to_the_inbox(client, agent, store):
    ticket = TicketFactory(store=store)
    client.force_login(agent)

    response = client.post(
        BULK, {"action": "spam", "ticket": [ticket.pk], "next": "https://evil.example/"}
    )

    assert response.url == "/tickets/"


# --- The same over the API -------------------------------------------------------------------


def test_the_api_runs_the_same_bulk_action(client, agent, store):
    mine = TicketFactory(store=store, status=Ticket.Status.OPEN)
    elsewhere = TicketFactory(store=StoreFactory(), status=Ticket.Status.OPEN)
    client.force_login(agent)

    response = client.post(
        "/api/v1/tickets/bulk/",
        {"action": "status", "tickets": [mine.pk, elsewhere.pk], "status": "pending"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "done": [mine.pk],
        "unchanged": [],
        "refused": [{"ticket": elsewhere.pk, "reason": "not found or not yours to change"}],
    }
    mine.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (mine.status, elsewhere.status) == (Ticket.Status.PENDING, Ticket.Status.OPEN)


def test_the_api_refuses_a_wrong_request_whole(client, agent, store):
    ticket = TicketFactory(store=store)
    client.force_login(agent)

    wrong_tag = client.post(
        "/api/v1/tickets/bulk/",
        {"action": "tag", "tickets": [ticket.pk], "tag": 99999},
        content_type="application/json",
    )
    no_tickets = client.post(
        "/api/v1/tickets/bulk/", {"action": "spam", "tickets": []}, content_type="application/json"
    )

    assert (wrong_tag.status_code, wrong_tag.json()) == (400, {"detail": "Choose a tag."})
    assert no_tickets.status_code == 400
    assert not TicketEvent.objects.filter(ticket=ticket).exists()
