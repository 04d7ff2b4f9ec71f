"""When a ticket is solved its survey is scheduled after the store's delay; at send time the rules
are checked again. Never on Amazon or eBay, never for spam or merged tickets, never twice to a
customer within the store's period, never on a channel the store turned off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from surveys import actions
from surveys.models import Survey, SurveySettings
from tests.factories import CustomerFactory, StoreFactory, TicketFactory, UserFactory
from tests.workers import isolated_queues, queued_task_calls
from tickets.actions import change_status
from tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    SurveySettings.objects.create(store=store, delay_minutes=30, period_days=30, ask_csat=True)
    return store


@pytest.fixture
def outbound_queue():
    with isolated_queues(["outbound"]) as names:
        yield names["outbound"]


def solved_ticket(store, **fields) -> Ticket:
    return TicketFactory(store=store, status=Ticket.Status.SOLVED, solved_at=timezone.now(), **fields)


def solve(ticket: Ticket, callbacks_fixture) -> None:
    with callbacks_fixture(execute=True):
        change_status(ticket=ticket, status=Ticket.Status.SOLVED)


# --- Scheduling ---------------------------------------------------------------------------------


def test_solving_schedules_the_survey_after_the_delay(store, outbound_queue, django_capture_on_commit_callbacks):
    agent = UserFactory(username="alice", role="agent")
    ticket = TicketFactory(store=store, assignee=agent)
    before = timezone.now()

    solve(ticket, django_capture_on_commit_callbacks)

    survey = Survey.objects.get(ticket=ticket)
    assert survey.status == Survey.Status.SCHEDULED
    assert before + timedelta(minutes=30) <= survey.due_at <= timezone.now() + timedelta(minutes=30)
    assert survey.kinds == ["csat"]
    assert survey.agent == agent
    assert survey.customer_id == ticket.customer_id
    # The send task waits in the broker with its eta at the due time.
    assert queued_task_calls(outbound_queue) == [("surveys.send_survey", [survey.pk])]


def test_send_task_carries_the_due_time_as_eta(store, outbound_queue, django_capture_on_commit_callbacks):
    from helpdesk.celery import app

    ticket = TicketFactory(store=store)
    solve(ticket, django_capture_on_commit_callbacks)
    survey = Survey.objects.get(ticket=ticket)
    with app.connection_for_write() as connection:
        import json

        raw = connection.default_channel.client.lrange(outbound_queue, 0, -1)[0]
    eta = json.loads(raw)["headers"]["eta"]
    assert eta.startswith(survey.due_at.strftime("%Y-%m-%dT%H:%M"))


def test_closing_a_solved_ticket_schedules_nothing_more(store, outbound_queue, django_capture_on_commit_callbacks):
    ticket = TicketFactory(store=store)
    solve(ticket, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        change_status(ticket=ticket, status=Ticket.Status.CLOSED)
    assert Survey.objects.filter(ticket=ticket).count() == 1


def test_scheduling_twice_keeps_one_waiting_survey(store):
    ticket = solved_ticket(store)
    first = actions.schedule_survey(ticket)
    second = actions.schedule_survey(ticket)
    assert first.pk == second.pk
    assert Survey.objects.filter(ticket=ticket).count() == 1


def test_back_dated_solve_schedules_nothing(store, django_capture_on_commit_callbacks):
    ticket = TicketFactory(store=store)
    with django_capture_on_commit_callbacks(execute=True):
        change_status(ticket=ticket, status=Ticket.Status.SOLVED, created_at=timezone.now() - timedelta(days=200))
    assert not Survey.objects.exists()


@pytest.mark.parametrize("channel", [Channel.AMAZON, Channel.EBAY])
def test_never_on_amazon_or_ebay(store, channel, django_capture_on_commit_callbacks):
    ticket = TicketFactory(store=store, channel=channel)
    solve(ticket, django_capture_on_commit_callbacks)
    assert not Survey.objects.exists()


def test_never_on_amazon_even_when_turned_on_everywhere(store):
    SurveySettings.objects.filter(store=store).update(disabled_channels=[])
    assert actions.schedule_survey(solved_ticket(store, channel=Channel.AMAZON)) is None


@pytest.mark.parametrize("marketplace", ["amazon.de", "ebay.co.uk"])
def test_never_for_a_ticket_carrying_amazon_or_ebay_messages(store, marketplace):
    assert actions.schedule_survey(solved_ticket(store, channel=Channel.EMAIL, marketplace=marketplace)) is None


def test_not_on_a_channel_the_store_turned_off(store):
    SurveySettings.objects.filter(store=store).update(disabled_channels=["whatsapp"])
    assert actions.schedule_survey(solved_ticket(store, channel=Channel.WHATSAPP)) is None
    assert actions.schedule_survey(solved_ticket(store, channel=Channel.EMAIL)) is not None


def test_other_marketplaces_are_off_until_the_store_turns_them_on(store):
    assert actions.schedule_survey(solved_ticket(store, channel=Channel.MARKETPLACE)) is None


def test_never_for_spam(store):
    assert actions.schedule_survey(solved_ticket(store, is_spam=True)) is None
    assert not Survey.objects.exists()


def test_never_for_a_merged_ticket(store):
    target = TicketFactory(store=store)
    assert actions.schedule_survey(solved_ticket(store, merged_into=target)) is None


def test_not_for_a_store_without_surveys(db):
    assert actions.schedule_survey(solved_ticket(StoreFactory())) is None


def test_not_when_the_store_turned_surveys_off(store):
    SurveySettings.objects.filter(store=store).update(enabled=False)
    assert actions.schedule_survey(solved_ticket(store)) is None


def test_not_twice_to_a_customer_within_the_period(store):
    customer = CustomerFactory()
    earlier = solved_ticket(store, customer=customer)
    Survey.objects.create(
        ticket=earlier, store=store, customer=customer, channel="email", kinds=["csat"], due_at=timezone.now(),
        status=Survey.Status.SENT, sent_at=timezone.now() - timedelta(days=29),
    )
    assert actions.schedule_survey(solved_ticket(store, customer=customer)) is None


def test_again_once_the_period_has_passed(store):
    customer = CustomerFactory()
    earlier = solved_ticket(store, customer=customer)
    Survey.objects.create(
        ticket=earlier, store=store, customer=customer, channel="email", kinds=["csat"], due_at=timezone.now(),
        status=Survey.Status.SENT, sent_at=timezone.now() - timedelta(days=31),
    )
    assert actions.schedule_survey(solved_ticket(store, customer=customer)) is not None


def test_another_stores_survey_does_not_count_towards_the_period(store):
    customer = CustomerFactory()
    other = StoreFactory()
    Survey.objects.create(
        ticket=solved_ticket(other, customer=customer), store=other, customer=customer, channel="email",
        kinds=["csat"], due_at=timezone.now(), status=Survey.Status.SENT, sent_at=timezone.now(),
    )
    assert actions.schedule_survey(solved_ticket(store, customer=customer)) is not None


# --- Checked again at send time ------------------------------------------------------------------


def due(survey: Survey):
    return survey.due_at + timedelta(seconds=1)


def test_sent_when_due_by_email_in_the_customers_language(store):
    customer = CustomerFactory(name="María", email="maria@example.org", language="es")
    survey = actions.schedule_survey(solved_ticket(store, customer=customer))

    assert actions.send_survey(survey.pk, now=due(survey)) == Survey.Status.SENT

    survey.refresh_from_db()
    assert survey.sent_at == due(survey)
    assert survey.expires_at == due(survey) + timedelta(days=30)
    assert survey.language == "es"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["maria@example.org"]


def test_not_sent_before_it_is_due(store):
    survey = actions.schedule_survey(solved_ticket(store))
    assert actions.send_survey(survey.pk, now=survey.due_at - timedelta(minutes=1)) == Survey.Status.SCHEDULED
    assert mail.outbox == []


def test_sent_once_however_often_the_task_runs(store):
    survey = actions.schedule_survey(solved_ticket(store))
    actions.send_survey(survey.pk, now=due(survey))
    actions.send_survey(survey.pk, now=due(survey))
    assert len(mail.outbox) == 1


def test_skipped_when_the_ticket_was_reopened_meanwhile(store):
    ticket = solved_ticket(store)
    survey = actions.schedule_survey(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN)

    assert actions.send_survey(survey.pk, now=due(survey)) == Survey.Status.SKIPPED

    survey.refresh_from_db()
    assert survey.skip_reason == "The ticket is no longer solved."
    assert mail.outbox == []


def test_skipped_when_marked_spam_meanwhile(store):
    ticket = solved_ticket(store)
    survey = actions.schedule_survey(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(is_spam=True)
    assert actions.send_survey(survey.pk, now=due(survey)) == Survey.Status.SKIPPED
    assert mail.outbox == []


def test_skipped_when_merged_meanwhile(store):
    ticket = solved_ticket(store)
    survey = actions.schedule_survey(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(merged_into=TicketFactory(store=store))
    assert actions.send_survey(survey.pk, now=due(survey)) == Survey.Status.SKIPPED
    assert mail.outbox == []


def test_skipped_when_the_channel_was_turned_off_meanwhile(store):
    survey = actions.schedule_survey(solved_ticket(store))
    SurveySettings.objects.filter(store=store).update(disabled_channels=["email"])
    assert actions.send_survey(survey.pk, now=due(survey)) == Survey.Status.SKIPPED
    assert mail.outbox == []


def test_of_two_waiting_surveys_for_one_customer_only_the_first_is_sent(store):
    customer = CustomerFactory()
    first = actions.schedule_survey(solved_ticket(store, customer=customer))
    second = actions.schedule_survey(solved_ticket(store, customer=customer))

    assert actions.send_survey(first.pk, now=due(first)) == Survey.Status.SENT
    assert actions.send_survey(second.pk, now=due(second)) == Survey.Status.SKIPPED

    assert len(mail.outbox) == 1


def test_failed_with_the_reason_when_the_customer_has_no_address(store):
    customer = CustomerFactory(email="")
    survey = actions.schedule_survey(solved_ticket(store, customer=customer))
    assert actions.send_survey(survey.pk, now=due(survey)) == Survey.Status.FAILED
    survey.refresh_from_db()
    assert "email address is not known" in survey.skip_reason


def test_sweep_dispatches_surveys_whose_task_was_lost(store, outbound_queue):
    survey = actions.schedule_survey(solved_ticket(store))  # its on-commit dispatch never ran here
    assert actions.dispatch_due_surveys(now=survey.due_at) == 0  # not yet late
    assert actions.dispatch_due_surveys(now=survey.due_at + timedelta(minutes=6)) == 1
    assert queued_task_calls(outbound_queue) == [("surveys.send_survey", [survey.pk])]


def test_a_long_delay_is_left_to_the_sweep_not_held_in_the_broker(store, outbound_queue,
                                                                   django_capture_on_commit_callbacks):
    SurveySettings.objects.filter(store=store).update(delay_minutes=24 * 60)
    ticket = TicketFactory(store=store)

    solve(ticket, django_capture_on_commit_callbacks)

    survey = Survey.objects.get(ticket=ticket)
    assert queued_task_calls(outbound_queue) == []
    assert actions.dispatch_due_surveys(now=survey.due_at - timedelta(seconds=1)) == 0
    assert actions.dispatch_due_surveys(now=survey.due_at) == 1
    assert queued_task_calls(outbound_queue) == [("surveys.send_survey", [survey.pk])]


def test_the_database_holds_one_waiting_survey_per_ticket(store):
    from django.db import IntegrityError, transaction

    ticket = solved_ticket(store)
    survey = actions.schedule_survey(ticket)
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.create(ticket=ticket, store=store, customer=ticket.customer, channel="email",
                              kinds=["csat"], due_at=timezone.now())
    # A sent survey does not stop a later one (the period rule decides that).
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.SENT)
    assert Survey.objects.create(ticket=ticket, store=store, customer=ticket.customer, channel="email",
                                 kinds=["csat"], due_at=timezone.now()).pk
