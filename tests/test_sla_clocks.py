"""SLA clocks follow the ticket: customer messages start them, agent replies and resolution stop
them, notes and automatic messages do not, pending and on-hold pause them (per policy)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.factories import CustomerFactory, StoreFactory
from tickets import actions
from tickets.models import Message, ResponseFact, SLAPolicy, Ticket
from tickets.sla.engine import expected_first_response_at
from tickets.sla.presets import install_presets, make_calendar, office_hours

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
HOUR = 3600
Kind = ResponseFact.Kind


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MADRID)


# Monday 2 March 2026, in Madrid; office hours 09:00–18:00 Monday to Friday.
MONDAY = (2026, 3, 2)
TUESDAY = (2026, 3, 3)


@pytest.fixture
def office():
    return make_calendar("Office", time_zone="Europe/Madrid", hours=office_hours())


@pytest.fixture
def email_policy(office):
    return SLAPolicy.objects.create(
        name="Email", channels=["email"], calendar=office, first_response_minutes=120, next_response_minutes=60,
        resolution_minutes=16 * 60, warning_minutes=30,
    )


def new_ticket(channel: str = "email", when: dt.datetime | None = None, **kwargs) -> Ticket:
    return actions.create_ticket(store=StoreFactory(), channel=channel, customer=CustomerFactory(), subject="Where is it?",
                                 created_at=when, **kwargs)


def customer_writes(ticket: Ticket, when: dt.datetime) -> Ticket:
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Hello?", created_at=when)
    return Ticket.objects.get(pk=ticket.pk)


def agent_replies(ticket: Ticket, when: dt.datetime, agent) -> Ticket:
    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Here", author_user=agent,
                        created_at=when)
    return Ticket.objects.get(pk=ticket.pk)


def clock(ticket: Ticket, kind: str) -> ResponseFact:
    return ResponseFact.objects.get(ticket=ticket, kind=kind)


def test_customer_message_starts_first_response_and_resolution_clocks(email_policy):
    ticket = customer_writes(new_ticket(when=at(*MONDAY, 9, 55)), at(*MONDAY, 10, 0))
    assert ticket.first_response_due_at == at(*MONDAY, 12, 0)
    assert ticket.next_response_due_at is None
    assert ticket.resolution_due_at == at(*TUESDAY, 17, 0)
    assert ticket.sla_next_check_at == at(*MONDAY, 11, 30)  # the first-response warning
    first = clock(ticket, Kind.FIRST_RESPONSE)
    assert (first.started_at, first.completed_at, first.policy_id, first.store_id) == (
        at(*MONDAY, 10, 0), None, email_policy.pk, ticket.store_id)


def test_agent_reply_stops_the_response_clock(email_policy, alice):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    ticket = agent_replies(ticket, at(*MONDAY, 11, 0), alice)
    first = clock(ticket, Kind.FIRST_RESPONSE)
    assert first.completed_at == at(*MONDAY, 11, 0)
    assert (first.business_seconds, first.calendar_seconds, first.breached, first.agent_id) == (HOUR, HOUR, False, alice.pk)
    assert ticket.first_response_due_at is None
    assert ticket.sla_next_check_at == at(*TUESDAY, 16, 30)  # the resolution warning is next


def test_internal_note_and_automatic_acknowledgement_are_not_responses(email_policy, alice):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    actions.add_message(ticket=ticket, direction=Message.Direction.NOTE, body_text="VIP", author_user=alice,
                        created_at=at(*MONDAY, 10, 5))
    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="We got your message",
                        author_type=Message.AuthorType.SYSTEM, is_auto_reply=True, created_at=at(*MONDAY, 10, 6))
    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Bot here",
                        author_type=Message.AuthorType.BOT, created_at=at(*MONDAY, 10, 7))
    ticket.refresh_from_db()
    assert clock(ticket, Kind.FIRST_RESPONSE).completed_at is None
    assert ticket.first_response_due_at == at(*MONDAY, 12, 0)


def test_next_response_counts_from_the_oldest_unanswered_customer_message(email_policy, alice):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    ticket = agent_replies(ticket, at(*MONDAY, 10, 30), alice)
    ticket = customer_writes(ticket, at(*MONDAY, 14, 0))
    assert ticket.next_response_due_at == at(*MONDAY, 15, 0)
    ticket = customer_writes(ticket, at(*MONDAY, 14, 30))
    assert ticket.next_response_due_at == at(*MONDAY, 15, 0)
    ticket = agent_replies(ticket, at(*MONDAY, 14, 45), alice)
    assert ticket.next_response_due_at is None
    facts = list(ResponseFact.objects.filter(ticket=ticket, kind=Kind.NEXT_RESPONSE).values_list(
        "started_at", "business_seconds", "breached"))
    assert facts == [(at(*MONDAY, 14, 0), 45 * 60, False)]


def test_late_reply_is_a_breach_measured_in_business_and_calendar_time(email_policy, alice):
    # Friday 17:00: due Monday 10:00 (one hour on Friday, one on Monday); answered Monday 11:00.
    ticket = customer_writes(new_ticket(), at(2026, 3, 6, 17, 0))
    assert ticket.first_response_due_at == at(*MONDAY[:2], 9, 10, 0)
    ticket = agent_replies(ticket, at(2026, 3, 9, 11, 0), alice)
    first = clock(ticket, Kind.FIRST_RESPONSE)
    assert (first.business_seconds, first.calendar_seconds, first.breached) == (3 * HOUR, 66 * HOUR, True)


def test_pending_pauses_the_clocks_and_the_customer_reply_resumes_them(email_policy, alice):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    actions.change_status(ticket=ticket, status=Ticket.Status.PENDING, actor=alice, created_at=at(*MONDAY, 11, 0))
    ticket.refresh_from_db()
    assert (ticket.first_response_due_at, ticket.resolution_due_at, ticket.sla_next_check_at) == (None, None, None)
    # A day later the customer answers: the ticket reopens and the clocks go on where they stopped.
    ticket = customer_writes(ticket, at(*TUESDAY, 10, 0))
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.first_response_due_at == at(*TUESDAY, 11, 0)  # 1 h used, 1 h left
    assert ticket.resolution_due_at == at(2026, 3, 4, 16, 0)  # 15 h left: 8 on Tuesday, 7 on Wednesday
    ticket = agent_replies(ticket, at(*TUESDAY, 10, 30), alice)
    first = clock(ticket, Kind.FIRST_RESPONSE)
    assert (first.business_seconds, first.paused_seconds, first.breached) == (90 * 60, 8 * HOUR, False)


def test_on_hold_pauses_only_when_the_policy_says_so(email_policy, alice):
    email_policy.pause_when_on_hold = False
    email_policy.save()
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    actions.change_status(ticket=ticket, status=Ticket.Status.ON_HOLD, actor=alice, created_at=at(*MONDAY, 11, 0))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(*MONDAY, 12, 0)
    email_policy.pause_when_on_hold = True
    email_policy.save()
    actions.change_status(ticket=ticket, status=Ticket.Status.OPEN, actor=alice, created_at=at(*MONDAY, 11, 30))
    actions.change_status(ticket=ticket, status=Ticket.Status.ON_HOLD, actor=alice, created_at=at(*MONDAY, 11, 45))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at is None


def test_solving_stops_every_clock(email_policy, alice, bob):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    ticket = agent_replies(ticket, at(*MONDAY, 10, 30), alice)
    ticket = customer_writes(ticket, at(*MONDAY, 11, 0))
    actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED, actor=bob, created_at=at(*MONDAY, 12, 0))
    ticket.refresh_from_db()
    assert not ResponseFact.objects.filter(ticket=ticket, completed_at__isnull=True).exists()
    resolution = clock(ticket, Kind.RESOLUTION)
    assert (resolution.business_seconds, resolution.breached, resolution.agent_id) == (2 * HOUR, False, bob.pk)
    next_response = clock(ticket, Kind.NEXT_RESPONSE)  # due 12:00: solving at 12:00 is in time
    assert (next_response.completed_at, next_response.business_seconds, next_response.breached) == (
        at(*MONDAY, 12, 0), HOUR, False)
    assert (ticket.resolution_due_at, ticket.sla_next_check_at) == (None, None)


def test_amazon_counts_24_calendar_hours_over_the_weekend_and_does_not_pause(alice):
    install_presets()
    ticket = new_ticket(channel="amazon")
    # Friday 20:00 (after office hours): due Saturday 20:00, weekend or not.
    ticket = customer_writes(ticket, at(2026, 3, 6, 20, 0))
    assert ticket.first_response_due_at == at(2026, 3, 7, 20, 0)
    assert ticket.sla_next_check_at == at(2026, 3, 7, 16, 0)  # warned 4 hours before
    actions.change_status(ticket=ticket, status=Ticket.Status.PENDING, actor=alice, created_at=at(2026, 3, 6, 21, 0))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(2026, 3, 7, 20, 0)


def test_amazon_24_hours_are_elapsed_hours_across_the_dst_change():
    install_presets()
    ticket = customer_writes(new_ticket(channel="amazon"), at(2026, 3, 28, 12, 0))
    assert ticket.first_response_due_at == at(2026, 3, 29, 13, 0)  # clocks went forward at 02:00


def test_a_new_priority_can_bring_a_stricter_policy(email_policy, office):
    SLAPolicy.objects.create(name="Urgent", position=1, priorities=[Ticket.Priority.URGENT], calendar=office,
                             first_response_minutes=30, warning_minutes=10)
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    assert ticket.first_response_due_at == at(*MONDAY, 12, 0)
    actions.set_priority(ticket=ticket, priority=Ticket.Priority.URGENT, created_at=at(*MONDAY, 10, 5))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(*MONDAY, 10, 30)
    assert ticket.resolution_due_at is None  # the urgent policy sets no resolution target
    assert ticket.sla_next_check_at == at(*MONDAY, 10, 20)


def test_without_a_policy_response_times_are_still_measured(alice):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    assert (ticket.first_response_due_at, ticket.sla_next_check_at) == (None, None)
    ticket = agent_replies(ticket, at(*MONDAY, 10, 20), alice)
    first = clock(ticket, Kind.FIRST_RESPONSE)
    assert (first.business_seconds, first.calendar_seconds, first.due_at, first.breached) == (1200, 1200, None, None)


def test_expected_first_response_time(email_policy):
    ticket = customer_writes(new_ticket(), at(*MONDAY, 17, 0))
    assert expected_first_response_at(ticket) == at(*TUESDAY, 10, 0)
    assert expected_first_response_at(new_ticket(channel="sms")) is None


def test_clock_update_costs_three_queries_per_event(email_policy, alice, django_assert_num_queries):
    from tickets.sla.engine import update_clocks

    ticket = customer_writes(new_ticket(), at(*MONDAY, 10, 0))
    reply = Message.objects.create(ticket=ticket, direction=Message.Direction.OUTBOUND, author_type="agent",
                                   author_user=alice, channel="email", created_at=at(*MONDAY, 10, 30))
    ticket.first_response_at = reply.created_at
    # The running clocks, the finished clock, the ticket's deadlines: no query per policy or clock.
    with django_assert_num_queries(3):
        update_clocks(ticket, at=reply.created_at, message=reply)
    message = Message.objects.create(ticket=ticket, direction=Message.Direction.INBOUND, author_type="customer",
                                     channel="email", created_at=at(*MONDAY, 11, 0))
    # The running clocks, the new clock, the ticket's deadlines.
    with django_assert_num_queries(3):
        update_clocks(ticket, at=message.created_at, message=message)
