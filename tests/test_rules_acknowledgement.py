"""The automatic acknowledgement, sent by SMTP to a real server on loopback: the expected answer
time from the SLA policy's business calendar, never to automatic mail, never on Amazon or eBay,
once per wait, and never counted as a response."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from channels_ingest.outbound import send_message
from tests.routing_helpers import customer_message, thread
from tests.test_email_send import mailbox_account, smtp_server  # noqa: F401  (fixture)
from tests.workers import celery_worker_process  # noqa: F401  (fixture)
from tickets import actions
from tickets.models import (
    AutomationRule,
    BusinessCalendar,
    BusinessHoursPeriod,
    Channel,
    Message,
    ResponseFact,
    SLAPolicy,
    Ticket,
)

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
# A Friday afternoon: four business hours from here end on Monday at 11:00.
FRIDAY_4PM = dt.datetime(2026, 11, 20, 16, 0, tzinfo=MADRID)
MONDAY_11AM = dt.datetime(2026, 11, 23, 11, 0, tzinfo=MADRID)


@pytest.fixture
def mailbox(smtp_server):  # noqa: F811
    return mailbox_account(smtp_server.port)


@pytest.fixture
def policy():
    calendar = BusinessCalendar.objects.create(name="Madrid office", time_zone="Europe/Madrid")
    for weekday in range(5):
        BusinessHoursPeriod.objects.create(calendar=calendar, weekday=weekday, opens_at=dt.time(9), closes_at=dt.time(18))
    return SLAPolicy.objects.create(
        name="Email standard", calendar=calendar, hours=SLAPolicy.Hours.BUSINESS, first_response_minutes=240,
        next_response_minutes=480, resolution_minutes=None,
    )


@pytest.fixture
def acknowledge():
    return AutomationRule.objects.create(
        name="Acknowledge email", on_ticket_created=True, on_customer_replied=True, send_acknowledgement=True,
    )


def acknowledgements(ticket: Ticket) -> list[Message]:
    return list(ticket.messages.filter(direction=Message.Direction.OUTBOUND, is_auto_reply=True).order_by("pk"))


def arrive(mailbox, django_capture_on_commit_callbacks, **message) -> tuple[Ticket, Message]:
    # The commit's callbacks (the outbound dispatch to the broker) are not run: the test sends
    # the acknowledgement itself, through the same function the outbound worker runs.
    with django_capture_on_commit_callbacks(execute=False):
        return thread(mailbox, customer_message(**message))


def test_acknowledgement_is_mailed_with_the_expected_answer_time(
    mailbox, smtp_server, policy, acknowledge, django_capture_on_commit_callbacks  # noqa: F811
):
    with time_machine.travel(FRIDAY_4PM, tick=False):
        ticket, inbound = arrive(mailbox, django_capture_on_commit_callbacks, email="marta.gil@correo.example",
                                 subject="¿Dónde está mi pedido?", text="Hola, no ha llegado.")
        [ack] = acknowledgements(ticket)
        send_message(ack.pk)

    ack.refresh_from_db()
    assert ack.delivery_state == Message.DeliveryState.SENT
    assert ack.author_type == Message.AuthorType.SYSTEM
    assert ack.metadata["auto_acknowledgement"] is True
    assert dt.datetime.fromisoformat(ack.metadata["expected_answer_at"]) == MONDAY_11AM

    [mail] = smtp_server.messages
    assert smtp_server.handler.envelopes[0].rcpt_tos == ["marta.gil@correo.example"]
    assert mail["Subject"] == f"Re: ¿Dónde está mi pedido? [#{ticket.pk}]"
    assert mail["In-Reply-To"] == f"<{inbound.metadata['message_id']}>"
    # Marked automatic (RFC 3834), so the customer's out-of-office does not answer it.
    assert mail["Auto-Submitted"] == "auto-replied"
    text = mail.get_body(("plain",)).get_content()
    # The store is Spanish: the date is written in Spanish, in the calendar's time zone.
    assert "lunes 23 noviembre 2026, 11:00 (Europe/Madrid)" in text
    assert f"#{ticket.pk}" in text


def test_acknowledgement_is_not_a_response(mailbox, policy, acknowledge, django_capture_on_commit_callbacks):
    with time_machine.travel(FRIDAY_4PM, tick=False):
        ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks)

    ticket.refresh_from_db()
    assert len(acknowledgements(ticket)) == 1
    assert ticket.first_response_at is None
    assert ticket.last_agent_message_at is None
    assert ticket.status == Ticket.Status.NEW
    assert ticket.first_response_due_at == MONDAY_11AM
    first_response = ResponseFact.objects.get(ticket=ticket, kind=ResponseFact.Kind.FIRST_RESPONSE)
    assert first_response.completed_at is None


def test_without_a_policy_the_customer_is_told_as_soon_as_possible(
    mailbox, smtp_server, acknowledge, django_capture_on_commit_callbacks  # noqa: F811
):
    ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks, language="en")
    [ack] = acknowledgements(ticket)

    send_message(ack.pk)

    assert "expected_answer_at" not in ack.metadata
    assert "as soon as possible" in smtp_server.messages[0].get_body(("plain",)).get_content()


def test_the_rules_own_text_fills_its_placeholders(mailbox, policy, django_capture_on_commit_callbacks):
    AutomationRule.objects.create(
        name="Own text", send_acknowledgement=True,
        acknowledgement_text="Hola {{ customer_first_name }}: {{ store_name }} te responde antes del "
                             "{{ expected_answer }} (caso {{ ticket_id }}).",
    )
    with time_machine.travel(FRIDAY_4PM, tick=False):
        ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks)

    [ack] = acknowledgements(ticket)
    assert ack.body_text == (
        f"Hola Marta: Casa Lumbre te responde antes del lunes 23 noviembre 2026, 11:00 (Europe/Madrid) "
        f"(caso {ticket.pk})."
    )


def test_never_in_answer_to_an_automatic_reply(mailbox, acknowledge, django_capture_on_commit_callbacks):
    ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks, email="marta@example.es", thread_key="t-1")
    agent_answer = actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Hola")
    Message.objects.filter(pk=agent_answer.pk).update(delivery_state=Message.DeliveryState.SENT)

    # The customer's out-of-office answers our reply: it joins the ticket, nobody answers it.
    arrive(mailbox, django_capture_on_commit_callbacks, email="marta@example.es", thread_key="t-1",
           subject="Fuera de la oficina", is_auto_reply=True)

    assert len(acknowledgements(ticket)) == 1  # the first one only


@pytest.mark.parametrize(("channel", "marketplace"), [
    (Channel.AMAZON, "amazon.es"),
    (Channel.EBAY, "ebay.es"),
    (Channel.EMAIL, "amazon.de"),  # relay mail recorded as email with an Amazon marketplace
])
def test_never_on_marketplaces_that_forbid_it(mailbox, acknowledge, django_capture_on_commit_callbacks, channel,
                                              marketplace):
    ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks, channel=channel, marketplace=marketplace)

    assert acknowledgements(ticket) == []
    assert ticket.messages.count() == 1


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.CHAT, Channel.SMS])
def test_only_by_email(mailbox, acknowledge, django_capture_on_commit_callbacks, channel):
    ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks, channel=channel)
    assert acknowledgements(ticket) == []


def test_once_per_wait_then_again_after_an_agents_answer(mailbox, acknowledge, django_capture_on_commit_callbacks):
    ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks, email="marta@example.es", thread_key="t-2")
    arrive(mailbox, django_capture_on_commit_callbacks, email="marta@example.es", thread_key="t-2", text="¿Hola?")
    assert len(acknowledgements(ticket)) == 1

    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Lo miramos")
    arrive(mailbox, django_capture_on_commit_callbacks, email="marta@example.es", thread_key="t-2",
           text="Sigue sin llegar")

    assert len(acknowledgements(ticket)) == 2


def test_a_rule_that_does_not_match_sends_nothing(mailbox, django_capture_on_commit_callbacks):
    AutomationRule.objects.create(name="Refunds only", text_contains=["reembolso"], send_acknowledgement=True)

    ticket, _ = arrive(mailbox, django_capture_on_commit_callbacks, text="¿Dónde está mi pedido?")

    assert acknowledgements(ticket) == []


@pytest.mark.django_db(transaction=True)
def test_the_outbound_worker_mails_it_after_the_commit(celery_worker_process, smtp_server):  # noqa: F811
    worker = celery_worker_process(queues=("outbound",), include=("channels_ingest.outbound_tasks",))
    mailbox = mailbox_account(smtp_server.port)
    AutomationRule.objects.create(name="Acknowledge", send_acknowledgement=True)

    ticket, _ = thread(mailbox, customer_message(email="marta.gil@correo.example", subject="Pedido 1042"))

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not smtp_server.handler.envelopes:
        time.sleep(0.1)
    assert [envelope.rcpt_tos for envelope in smtp_server.handler.envelopes] == [["marta.gil@correo.example"]], (
        worker.log()[-3000:]
    )
    assert smtp_server.messages[0]["Subject"] == f"Re: Pedido 1042 [#{ticket.pk}]"
    [ack] = acknowledgements(ticket)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Message.objects.get(pk=ack.pk).delivery_state == "queued":
        time.sleep(0.1)
    assert Message.objects.get(pk=ack.pk).delivery_state == Message.DeliveryState.SENT
