"""Round-robin assignment: fair turns, capacity, availability, skills (store, channel, language),
an agent going offline, and the queue handed out when room appears."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.factories import ChannelAccountFactory, StoreFactory, TeamFactory, TicketFactory
from tests.routing_helpers import customer_message, make_agent, thread
from tickets import actions
from tickets.models import (
    AgentProfile,
    AutomationRule,
    Channel,
    Notification,
    Team,
    TeamRotation,
    Ticket,
    TicketEvent,
)
from tickets.routing.assignment import assign_waiting_tickets, auto_assign
from tickets.routing.availability import set_availability

pytestmark = pytest.mark.django_db

ONLINE, AWAY, OFFLINE = AgentProfile.Availability.ONLINE, AgentProfile.Availability.AWAY, AgentProfile.Availability.OFFLINE


@pytest.fixture
def team():
    return TeamFactory(name="Soporte ES", auto_assign=True)


def new_ticket(team: Team, **fields) -> Ticket:
    fields.setdefault("status", Ticket.Status.NEW)
    return TicketFactory(team=team, **fields)


def test_tickets_go_round_the_team_in_turn(team):
    ana, bea, carla = (make_agent(name, team) for name in ("ana", "bea", "carla"))

    assignees = [auto_assign(new_ticket(team)) for _ in range(9)]

    assert [user.username for user in assignees] == ["ana", "bea", "carla"] * 3
    counts = Counter(Ticket.objects.filter(team=team).values_list("assignee__username", flat=True))
    assert counts == {"ana": 3, "bea": 3, "carla": 3}
    assert TeamRotation.objects.get(team=team).last_agent == carla


def test_spread_stays_even_for_many_tickets_over_several_agents(team):
    agents = [make_agent(f"agent{n}", team) for n in range(7)]

    for _ in range(100):
        auto_assign(new_ticket(team))

    counts = Counter(Ticket.objects.filter(team=team).values_list("assignee_id", flat=True))
    assert sorted(counts.values()) == [14, 14, 14, 14, 14, 15, 15]
    assert set(counts) == {agent.pk for agent in agents}


def test_assignment_is_on_the_timeline_and_in_the_agents_notifications(team):
    ana = make_agent("ana", team)
    ticket = new_ticket(team, subject="Pedido 1042")

    auto_assign(ticket)

    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ASSIGNED)
    assert event.actor is None
    assert event.data == {"from": None, "to": ana.pk}
    notification = Notification.objects.get(recipient=ana)
    assert (notification.ticket, notification.kind) == (ticket, "ticket_assigned")
    assert notification.text == f"Ticket #{ticket.pk} was assigned to you: Pedido 1042"
    assert notification.emailed_at is None


def test_an_agent_at_capacity_is_skipped_until_a_ticket_closes(team):
    ana = make_agent("ana", team, capacity=2)
    bea = make_agent("bea", team, capacity=0)  # unlimited
    for _ in range(2):
        TicketFactory(team=team, assignee=ana, status=Ticket.Status.OPEN)

    assert [auto_assign(new_ticket(team)) for _ in range(3)] == [bea, bea, bea]

    actions.change_status(ticket=Ticket.objects.filter(assignee=ana).first(), status=Ticket.Status.SOLVED)
    assert auto_assign(new_ticket(team)) == ana


def test_capacity_counts_open_tickets_of_every_team_and_status(team):
    other_team = TeamFactory(name="Returns")
    ana = make_agent("ana", team, other_team, capacity=3)
    TicketFactory(team=other_team, assignee=ana, status=Ticket.Status.PENDING)
    TicketFactory(team=team, assignee=ana, status=Ticket.Status.ON_HOLD)
    TicketFactory(team=team, assignee=ana, status=Ticket.Status.SOLVED)  # not open: does not count
    TicketFactory(team=team, assignee=ana, status=Ticket.Status.CLOSED)

    first, second = new_ticket(team), new_ticket(team)
    assert auto_assign(first) == ana
    assert auto_assign(second) is None
    second.refresh_from_db()
    assert second.assignee is None


def test_when_everyone_is_full_the_ticket_waits_in_the_team_queue(team):
    ana = make_agent("ana", team, capacity=1)
    assert auto_assign(new_ticket(team)) == ana
    waiting = new_ticket(team)

    assert auto_assign(waiting) is None
    waiting.refresh_from_db()
    assert waiting.assignee is None and waiting.team == team


@pytest.mark.parametrize("availability", [AWAY, OFFLINE])
def test_away_and_offline_agents_get_nothing(team, availability):
    make_agent("ana", team, availability=availability)
    bea = make_agent("bea", team)

    assert [auto_assign(new_ticket(team)) for _ in range(3)] == [bea, bea, bea]


def test_nobody_online_leaves_the_ticket_unassigned(team):
    make_agent("ana", team, availability=AWAY)
    ticket = new_ticket(team)

    assert auto_assign(ticket) is None
    assert not TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNED).exists()


def test_inactive_users_and_other_teams_members_get_nothing(team):
    other = TeamFactory(name="Other")
    make_agent("outsider", other)
    gone = make_agent("gone", team)
    gone.is_active = False
    gone.save()
    bea = make_agent("bea", team)

    assert [auto_assign(new_ticket(team)) for _ in range(2)] == [bea, bea]


def test_tickets_without_a_team_closed_or_assigned_are_left_alone(team):
    ana = make_agent("ana", team)
    bea = make_agent("bea", team)
    no_team = TicketFactory(team=None, status=Ticket.Status.NEW)
    solved = new_ticket(team, status=Ticket.Status.SOLVED)
    taken = new_ticket(team, assignee=bea)

    assert auto_assign(no_team) is None
    assert auto_assign(solved) is None
    assert auto_assign(taken) is None
    taken.refresh_from_db()
    assert taken.assignee == bea
    assert not Ticket.objects.filter(assignee=ana).exists()


def test_agents_get_only_the_stores_they_serve(team):
    spain, romania = StoreFactory(slug="casa-lumbre"), StoreFactory(slug="magazin-ro")
    lucia = make_agent("lucia", team, stores=[spain])
    andrei = make_agent("andrei", team, stores=[romania])
    emma = make_agent("emma", team)  # every store

    spanish = [auto_assign(new_ticket(team, store=spain)) for _ in range(4)]
    romanian = [auto_assign(new_ticket(team, store=romania)) for _ in range(2)]

    assert set(spanish) == {lucia, emma} and andrei not in spanish
    assert set(romanian) <= {andrei, emma} and lucia not in romanian


def test_agents_get_only_the_channels_they_serve(team):
    mail_only = make_agent("mail", team, channels=[Channel.EMAIL])
    chat_only = make_agent("chat", team, channels=[Channel.WHATSAPP, Channel.CHAT])

    assert {auto_assign(new_ticket(team, channel=Channel.WHATSAPP)) for _ in range(3)} == {chat_only}
    assert {auto_assign(new_ticket(team, channel=Channel.EMAIL)) for _ in range(3)} == {mail_only}
    assert auto_assign(new_ticket(team, channel=Channel.AMAZON)) is None


def test_agents_get_only_the_languages_they_speak(team):
    spanish = make_agent("lucia", team, languages=["es"])
    romanian = make_agent("andrei", team, languages=["ro", "en"])

    assert auto_assign(new_ticket(team, language="es-ES")) == spanish
    assert auto_assign(new_ticket(team, language="ro")) == romanian
    assert auto_assign(new_ticket(team, language="en")) == romanian
    assert auto_assign(new_ticket(team, language="de")) is None


def test_a_full_agent_does_not_stop_the_turn_of_the_others(team):
    ana = make_agent("ana", team, capacity=1)
    bea = make_agent("bea", team)
    carla = make_agent("carla", team)

    assert [auto_assign(new_ticket(team)) for _ in range(5)] == [ana, bea, carla, bea, carla]


# --- Going offline ------------------------------------------------------------------------------


def test_offline_agent_of_a_returning_team_gives_open_tickets_back_to_the_queue(team):
    team.offline_policy = Team.OfflinePolicy.RETURN
    team.save()
    ana = make_agent("ana", team)
    bea = make_agent("bea", team, availability=OFFLINE)
    open_ticket = new_ticket(team, assignee=ana, status=Ticket.Status.OPEN)
    pending = new_ticket(team, assignee=ana, status=Ticket.Status.PENDING)
    solved = new_ticket(team, assignee=ana, status=Ticket.Status.SOLVED)

    returned = set_availability(agent=ana, availability=OFFLINE)

    assert sorted(returned) == sorted([open_ticket.pk, pending.pk])
    assert list(Ticket.objects.filter(pk__in=returned).values_list("assignee", flat=True)) == [None, None]
    solved.refresh_from_db()
    assert solved.assignee == ana  # finished work keeps its agent
    ana.agent_profile.refresh_from_db()
    assert ana.agent_profile.availability == OFFLINE
    assert ana.agent_profile.availability_changed_at is not None
    assert bea.assigned_tickets.count() == 0


def test_returned_tickets_go_to_the_online_colleagues(team, django_capture_on_commit_callbacks):
    team.offline_policy = Team.OfflinePolicy.RETURN
    team.save()
    ana = make_agent("ana", team)
    bea = make_agent("bea", team)
    carla = make_agent("carla", team)
    tickets = [new_ticket(team, assignee=ana, status=Ticket.Status.OPEN) for _ in range(4)]

    with django_capture_on_commit_callbacks(execute=True):
        set_availability(agent=ana, availability=OFFLINE)

    counts = Counter(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("assignee_id", flat=True))
    assert counts == {bea.pk: 2, carla.pk: 2}


def test_the_team_lead_is_told_which_tickets_came_back(team):
    lead = make_agent("lead", availability=OFFLINE)
    team.offline_policy = Team.OfflinePolicy.RETURN
    team.lead = lead
    team.save()
    ana = make_agent("ana", team)
    for _ in range(2):
        new_ticket(team, assignee=ana, status=Ticket.Status.OPEN)

    set_availability(agent=ana, availability=OFFLINE)

    [notification] = Notification.objects.filter(recipient=lead)
    assert notification.kind == "tickets_returned"
    assert notification.text == "Ana went offline: 2 tickets went back to the Soporte ES queue."


def test_offline_agent_of_a_keeping_team_keeps_their_tickets(team):
    assert team.offline_policy == Team.OfflinePolicy.KEEP
    ana = make_agent("ana", team)
    ticket = new_ticket(team, assignee=ana, status=Ticket.Status.OPEN)

    assert set_availability(agent=ana, availability=OFFLINE) == []

    ticket.refresh_from_db()
    assert ticket.assignee == ana


def test_the_policy_is_the_one_of_each_tickets_team(team):
    returning = TeamFactory(name="Chat", offline_policy=Team.OfflinePolicy.RETURN)
    ana = make_agent("ana", team, returning)
    kept = new_ticket(team, assignee=ana, status=Ticket.Status.OPEN)
    given_back = new_ticket(returning, assignee=ana, status=Ticket.Status.OPEN)

    assert set_availability(agent=ana, availability=OFFLINE) == [given_back.pk]
    kept.refresh_from_db()
    assert kept.assignee == ana


def test_going_away_keeps_the_tickets_but_stops_new_ones(team):
    team.offline_policy = Team.OfflinePolicy.RETURN
    team.save()
    ana = make_agent("ana", team)
    bea = make_agent("bea", team)
    mine = new_ticket(team, assignee=ana, status=Ticket.Status.OPEN)

    assert set_availability(agent=ana, availability=AWAY) == []

    mine.refresh_from_db()
    assert mine.assignee == ana
    assert auto_assign(new_ticket(team)) == bea


def test_coming_online_hands_out_the_waiting_queue(team, django_capture_on_commit_callbacks):
    ana = make_agent("ana", team, availability=OFFLINE, capacity=2)
    waiting = [new_ticket(team) for _ in range(3)]
    assert [auto_assign(ticket) for ticket in waiting] == [None, None, None]

    with django_capture_on_commit_callbacks(execute=True):
        set_availability(agent=ana, availability=ONLINE)

    assignees = [Ticket.objects.get(pk=t.pk).assignee for t in waiting]
    assert assignees == [ana, ana, None]  # oldest first, up to her capacity


def test_unknown_availability_is_refused(team):
    ana = make_agent("ana", team)
    with pytest.raises(ValueError):
        set_availability(agent=ana, availability="lunch")


def test_waiting_tickets_of_teams_without_automatic_assignment_are_left(team):
    manual = TeamFactory(name="Manual", auto_assign=False)
    make_agent("ana", team, manual)
    manual_ticket = TicketFactory(team=manual, status=Ticket.Status.NEW)
    auto_ticket = new_ticket(team)

    assert assign_waiting_tickets() == 1

    manual_ticket.refresh_from_db()
    auto_ticket.refresh_from_db()
    assert manual_ticket.assignee is None and auto_ticket.assignee is not None


# --- From the ingest path -----------------------------------------------------------------------


def test_a_new_ticket_arriving_in_an_auto_assigning_team_is_assigned_after_the_commit(
    team, django_capture_on_commit_callbacks
):
    account = ChannelAccountFactory(channel=Channel.EMAIL)
    AutomationRule.objects.create(name="Everything to Soporte ES", set_team=team)
    ana = make_agent("ana", team)

    with django_capture_on_commit_callbacks(execute=True):
        ticket, _message = thread(account, customer_message())

    ticket.refresh_from_db()
    assert ticket.team == team
    assert ticket.assignee == ana


def test_a_customer_reply_to_a_waiting_ticket_gets_it_assigned(team, django_capture_on_commit_callbacks):
    account = ChannelAccountFactory(channel=Channel.EMAIL)
    first = customer_message(email="marta@example.es", thread_key="conv-1")
    ticket, _ = thread(account, first)
    Ticket.objects.filter(pk=ticket.pk).update(team=team)
    ana = make_agent("ana", team)

    with django_capture_on_commit_callbacks(execute=True):
        again, _ = thread(account, customer_message(email="marta@example.es", thread_key="conv-1", text="Any news?"))

    assert again.pk == ticket.pk
    assert Ticket.objects.get(pk=ticket.pk).assignee == ana
