"""The SLA sweep records each warning and breach once, moves the next check on, notifies the
assignee and the team lead, and escalates breaches as the policy says."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import CustomerFactory, StoreFactory, TagFactory, TeamFactory, UserFactory
from tickets import actions
from tickets.models import Message, Notification, ResponseFact, SLAPolicy, Ticket, TicketEvent
from tickets.sla.sweep import sweep

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


@pytest.fixture
def chat_policy():
    """Calendar hours: first response in 60 minutes, warned 15 minutes before."""
    return SLAPolicy.objects.create(name="Chat", channels=["chat"], hours=SLAPolicy.Hours.CALENDAR,
                                    first_response_minutes=60, next_response_minutes=30, warning_minutes=15)


@pytest.fixture
def lead():
    return UserFactory(username="lena", role="manager")


@pytest.fixture
def team(lead):
    return TeamFactory(name="Chat team", lead=lead)


def waiting_ticket(*, assignee=None, team=None) -> Ticket:
    ticket = actions.create_ticket(store=StoreFactory(), channel="chat", customer=CustomerFactory(), subject="Size?",
                                   created_at=T0)
    if assignee is not None or team is not None:
        actions.assign_ticket(ticket=ticket, assignee=assignee, team=team, created_at=T0)
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Which size?", created_at=T0)
    return Ticket.objects.get(pk=ticket.pk)


def sla_events(ticket: Ticket) -> list[tuple[str, str]]:
    return [(e.kind, e.data["clock"]) for e in ticket.events.filter(kind__in=["sla_warning", "sla_breached"]).order_by("pk")]


def test_nothing_is_due_before_the_warning(chat_policy):
    ticket = waiting_ticket()
    assert ticket.sla_next_check_at == minutes(45)
    result = sweep(now=minutes(44))
    assert (result.tickets, result.warnings, result.breaches) == (0, 0, 0)
    assert sla_events(ticket) == []


def test_warning_then_breach_each_recorded_once(chat_policy, alice, team):
    ticket = waiting_ticket(assignee=alice, team=team)
    first = sweep(now=minutes(46))
    assert (first.warnings, first.breaches) == (1, 0)
    ticket.refresh_from_db()
    assert ticket.sla_next_check_at == minutes(60)
    assert sweep(now=minutes(47)).tickets == 0  # not due again until the deadline
    second = sweep(now=minutes(61))
    assert (second.warnings, second.breaches) == (0, 1)
    ticket.refresh_from_db()
    assert ticket.sla_next_check_at is None
    assert sweep(now=minutes(120)).tickets == 0
    assert sla_events(ticket) == [("sla_warning", "first_response"), ("sla_breached", "first_response")]
    clock = ResponseFact.objects.get(ticket=ticket, kind="first_response")
    assert (clock.warned_at, clock.breached_at) == (minutes(46), minutes(61))


def test_a_late_sweep_records_only_the_breach(chat_policy):
    ticket = waiting_ticket()
    result = sweep(now=minutes(90))
    assert (result.warnings, result.breaches) == (0, 1)
    assert sla_events(ticket) == [("sla_breached", "first_response")]


def test_a_sweep_repeated_over_the_same_tickets_records_nothing_twice(chat_policy):
    ticket = waiting_ticket()
    # As if a second sweep had read the ticket before the first one moved its next check.
    Ticket.objects.filter(pk=ticket.pk).update(sla_next_check_at=minutes(0))
    sweep(now=minutes(61))
    ResponseFact.objects.filter(ticket=ticket).update(breached_at=None, warned_at=None)
    Ticket.objects.filter(pk=ticket.pk).update(sla_next_check_at=minutes(0))
    result = sweep(now=minutes(62))
    assert (result.breaches, result.duplicates_skipped) == (0, 1)
    assert TicketEvent.objects.filter(ticket=ticket, kind="sla_breached").count() == 1


def test_breached_clock_that_is_answered_late_is_marked_breached(chat_policy, alice):
    ticket = waiting_ticket()
    sweep(now=minutes(61))
    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Sorry!", author_user=alice,
                        created_at=minutes(70))
    clock = ResponseFact.objects.get(ticket=ticket, kind="first_response")
    assert (clock.breached, clock.calendar_seconds, clock.agent_id) == (True, 70 * 60, alice.pk)


def test_next_response_clock_gets_its_own_warning_and_breach(chat_policy, alice):
    ticket = waiting_ticket()
    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Hi", author_user=alice,
                        created_at=minutes(10))
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="And?", created_at=minutes(20))
    ticket.refresh_from_db()
    assert ticket.next_response_due_at == minutes(50)
    sweep(now=minutes(36))
    sweep(now=minutes(51))
    assert sla_events(ticket) == [("sla_warning", "next_response"), ("sla_breached", "next_response")]


def test_assignee_and_team_lead_are_notified(chat_policy, alice, lead, team):
    ticket = waiting_ticket(assignee=alice, team=team)
    sweep(now=minutes(46))
    sweep(now=minutes(61))
    rows = list(Notification.objects.filter(ticket=ticket).order_by("pk").values_list("recipient__username", "kind"))
    assert sorted(rows) == sorted([("alice", "sla_warning"), ("lena", "sla_warning"),
                                   ("alice", "sla_breached"), ("lena", "sla_breached")])
    text = Notification.objects.get(recipient=alice, kind="sla_breached").text
    assert text.startswith(f"SLA breached: the first response of ticket #{ticket.pk}")


def test_notification_follows_the_recipients_language(chat_policy, alice, team):
    alice.agent_profile.language = "es"
    alice.agent_profile.time_zone = "Europe/Madrid"
    alice.agent_profile.save()
    ticket = waiting_ticket(assignee=alice, team=team)
    sweep(now=minutes(61))
    text = Notification.objects.get(recipient=alice).text
    assert f"#{ticket.pk}" in text
    assert "primera respuesta" in text
    assert "2 de marzo de 2026 a las 11:00" in text  # 10:00 UTC in Madrid, written in Spanish


def test_policy_can_turn_off_notifying_the_lead(chat_policy, alice, team):
    chat_policy.notify_team_lead = False
    chat_policy.save()
    waiting_ticket(assignee=alice, team=team)
    sweep(now=minutes(61))
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["alice"]


def test_breach_escalates_as_the_policy_says(chat_policy, alice):
    supervisor = UserFactory(username="sam", role="manager")
    escalations = TeamFactory(name="Escalations", lead=supervisor)
    late = TagFactory(name="sla-late")
    chat_policy.escalate_priority = Ticket.Priority.URGENT
    chat_policy.escalate_team = escalations
    chat_policy.escalate_assign_team_lead = True
    chat_policy.escalate_tag = late
    chat_policy.save()
    chat_policy.notify_users.set([UserFactory(username="owner", role="admin")])
    ticket = waiting_ticket(assignee=alice)

    sweep(now=minutes(46))  # a warning escalates nothing
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.team_id, ticket.assignee_id) == (Ticket.Priority.NORMAL, None, alice.pk)

    sweep(now=minutes(61))
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.team_id, ticket.assignee_id) == (Ticket.Priority.URGENT, escalations.pk, supervisor.pk)
    assert list(ticket.tags.values_list("name", flat=True)) == ["sla-late"]
    kinds = list(ticket.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-5:] == ["sla_breached", "priority_changed", "team_changed", "assigned", "tagged"]
    breach_recipients = set(Notification.objects.filter(kind="sla_breached").values_list("recipient__username", flat=True))
    assert breach_recipients == {"alice", "owner"}
    # A second sweep escalates nothing more.
    sweep(now=minutes(200))
    assert ticket.events.count() == len(kinds)


def test_solved_ticket_leaves_the_sweep(chat_policy, alice):
    ticket = waiting_ticket()
    actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED, actor=alice, created_at=minutes(5))
    ticket.refresh_from_db()
    assert ticket.sla_next_check_at is None
    assert sweep(now=minutes(200)).tickets == 0


def test_merged_ticket_stops_its_clocks(chat_policy, alice):
    source, target = waiting_ticket(), waiting_ticket()
    actions.merge_tickets(source=source, target=target, actor=alice)
    source.refresh_from_db()
    assert source.sla_next_check_at is None
    assert not ResponseFact.objects.filter(ticket=source, completed_at__isnull=True).exists()
    sweep(now=minutes(61))
    assert sla_events(source) == []
    assert sla_events(target) == [("sla_breached", "first_response")]


def test_ticket_closed_behind_the_actions_back_gets_no_breach(chat_policy):
    ticket = waiting_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.CLOSED)
    result = sweep(now=minutes(61))
    assert (result.tickets, result.breaches) == (1, 0)
    ticket.refresh_from_db()
    assert ticket.sla_next_check_at is None
