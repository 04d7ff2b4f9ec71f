"""The outbound road: a queued reply is sent once through its adapter, and its state (sent, failed
with a reason, or still queued while a passing fault lasts) is what the ticket shows. Sending is
real SMTP to a loopback server; the last test runs a real Celery worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from channels_ingest import outbound, registry
from channels_ingest.base import TransientError
from channels_ingest.email.adapter_base import EmailAdapter
from channels_ingest.outbound_tasks import SEND_MAX_RETRIES, send_message_task
from tests.factories import MessageFactory, UserFactory
from tests.test_email_send import (  # noqa: F401  (smtp_server is a fixture)
    CUSTOMER,
    CUSTOMER_MESSAGE_ID,
    email_thread,
    free_port,
    mailbox_account,
    smtp_server,
)
from tests.workers import celery_worker_process, isolated_queues, queued_task_calls  # noqa: F401
from tickets.actions import add_message
from tickets.models import Message

PROVIDER = "loopback-smtp"
ADAPTER_PATH = "tests.test_outbound.LoopbackEmailAdapter"


class LoopbackEmailAdapter(EmailAdapter):
    """An email adapter that only sends: the real email adapters receive in their own ways and
    share this sending through EmailAdapter."""

    slug = PROVIDER
    channel = "email"


@pytest.fixture(autouse=True)
def loopback_adapter(monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, PROVIDER, ADAPTER_PATH)
    registry.get_adapter.cache_clear()
    yield
    registry.get_adapter.cache_clear()


@pytest.fixture
def account(db, smtp_server):  # noqa: F811
    return mailbox_account(smtp_server.port, provider=PROVIDER)


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


# --- send_message ------------------------------------------------------------------------------


def test_queued_reply_is_sent_and_marked_sent(account, smtp_server):  # noqa: F811
    reply = email_thread(account)
    before = timezone.now()

    outbound.send_message(reply.pk)

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.SENT
    assert reply.failure_reason == ""
    assert reply.delivery_updated_at >= before
    mail = smtp_server.messages[0]
    assert "".join(mail["Message-ID"].split()) == f"<{reply.external_id}>"  # may be folded
    assert mail["In-Reply-To"] == f"<{CUSTOMER_MESSAGE_ID}>"
    assert reply.metadata["to"] == CUSTOMER
    assert reply.metadata["references"][-1] == CUSTOMER_MESSAGE_ID


def test_delivering_the_task_twice_sends_one_email(account, smtp_server):  # noqa: F811
    reply = email_thread(account)

    outbound.send_message(reply.pk)
    outbound.send_message(reply.pk)

    assert len(smtp_server.handler.envelopes) == 1
    assert reload(reply).delivery_state == Message.DeliveryState.SENT


@pytest.mark.parametrize(
    "state",
    [Message.DeliveryState.SENT, Message.DeliveryState.DELIVERED, Message.DeliveryState.READ,
     Message.DeliveryState.FAILED],
)
def test_reply_that_is_not_queued_is_never_sent(account, smtp_server, state):  # noqa: F811
    reply = email_thread(account)
    Message.objects.filter(pk=reply.pk).update(delivery_state=state, failure_reason="earlier")

    outbound.send_message(reply.pk)

    assert smtp_server.handler.envelopes == []
    reply = reload(reply)
    assert (reply.delivery_state, reply.failure_reason, reply.external_id) == (state, "earlier", "")


@pytest.mark.parametrize("direction", [Message.Direction.INBOUND, Message.Direction.NOTE])
def test_only_outbound_messages_are_sent(account, smtp_server, direction):  # noqa: F811
    reply = email_thread(account)
    Message.objects.filter(pk=reply.pk).update(direction=direction)

    outbound.send_message(reply.pk)

    assert smtp_server.handler.envelopes == []
    assert reload(reply).delivery_state == Message.DeliveryState.QUEUED


def test_deleted_message_is_ignored(account, smtp_server):  # noqa: F811
    reply = email_thread(account)
    reply_id = reply.pk
    reply.delete()

    outbound.send_message(reply_id)

    assert smtp_server.handler.envelopes == []


def test_refused_recipient_fails_the_reply_with_the_servers_reason(account, smtp_server):  # noqa: F811
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "550 5.1.1 <marta.gil@correo.example>: User unknown"
    reply = email_thread(account)

    outbound.send_message(reply.pk)  # permanent: no exception, nothing to retry

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.FAILED
    assert "550" in reply.failure_reason
    assert "User unknown" in reply.failure_reason
    assert reply.external_id == ""
    assert reply.delivery_updated_at is not None
    assert smtp_server.handler.envelopes == []


def test_temporary_refusal_keeps_the_reply_queued_and_asks_for_a_retry(account, smtp_server):  # noqa: F811
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "451 4.7.1 Greylisted, try again in 5 minutes"
    reply = email_thread(account)

    with pytest.raises(TransientError, match="451"):
        outbound.send_message(reply.pk)

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.QUEUED
    assert reply.failure_reason == ""
    assert reply.metadata["send_attempts"] == 1
    assert "451" in reply.metadata["last_send_error"]
    assert smtp_server.handler.envelopes == []


def test_temporary_refusal_on_the_last_attempt_fails_the_reply(account, smtp_server):  # noqa: F811
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "451 4.7.1 Greylisted, try again in 5 minutes"
    reply = email_thread(account)

    outbound.send_message(reply.pk, final_attempt=True)

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.FAILED
    assert "451" in reply.failure_reason


def test_reply_sent_after_a_temporary_refusal_forgets_the_error(account, smtp_server):  # noqa: F811
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "451 4.7.1 Greylisted"
    reply = email_thread(account)
    with pytest.raises(TransientError):
        outbound.send_message(reply.pk)
    smtp_server.handler.refuse_rcpt.clear()

    outbound.send_message(reply.pk)

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.SENT
    assert "last_send_error" not in reply.metadata
    assert reply.metadata["send_attempts"] == 1


def test_account_without_an_adapter_fails_the_reply(account, smtp_server):  # noqa: F811
    account.provider = "carrier-pigeon"
    account.save()
    reply = email_thread(account)

    outbound.send_message(reply.pk)

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.FAILED
    assert "carrier-pigeon" in reply.failure_reason
    assert smtp_server.handler.envelopes == []


@pytest.mark.django_db(transaction=True)
def test_reply_being_sent_by_another_worker_is_skipped(smtp_server):  # noqa: F811
    """Two workers holding the same task never both send: the second finds the row locked."""
    reply = email_thread(mailbox_account(smtp_server.port, provider=PROVIDER))
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Message.objects.select_for_update().get(pk=reply.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        outbound.send_message(reply.pk)
    finally:
        release.set()
        thread.join()

    assert smtp_server.handler.envelopes == []
    assert reload(reply).delivery_state == Message.DeliveryState.QUEUED


# --- The task --------------------------------------------------------------------------------------


def test_task_retries_a_temporary_refusal_then_fails_the_reply_with_its_reason(account, smtp_server):  # noqa: F811
    """Run in-process (apply), where Celery performs the retries at once instead of after backoff."""
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "451 4.3.0 Mailbox temporarily unavailable"
    reply = email_thread(account)

    send_message_task.apply(args=(reply.pk,))

    assert smtp_server.handler.rcpt_attempts == 1 + SEND_MAX_RETRIES
    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.FAILED
    assert "451" in reply.failure_reason
    assert reply.metadata["send_attempts"] == SEND_MAX_RETRIES


def test_isolated_queues_route_there_only_for_the_block():
    from helpdesk.celery import app

    with isolated_queues(["outbound"]) as names:
        assert app.amqp.router.route({}, "outbound.send_message")["queue"].name == names["outbound"]
        assert app.amqp.router.route({}, "sla.sweep")["queue"].name == "sla"

    assert app.amqp.router.route({}, "outbound.send_message")["queue"].name == "outbound"


def test_task_is_routed_to_the_outbound_queue_and_retries_with_backoff():
    from helpdesk.celery import app

    assert app.amqp.router.route({}, "outbound.send_message")["queue"].name == "outbound"
    assert send_message_task.acks_late is True
    assert send_message_task.reject_on_worker_lost is True
    assert send_message_task.autoretry_for == (TransientError,)
    assert send_message_task.retry_backoff is True
    assert send_message_task.retry_backoff_max == outbound.RETRY_BACKOFF_MAX_SECONDS == 600
    assert send_message_task.max_retries == SEND_MAX_RETRIES == 6


# --- Dispatch: add_message, the broker, the sweeper -------------------------------------------------


@pytest.fixture
def outbound_queue():
    with isolated_queues(["outbound"]) as names:
        yield names["outbound"]


def test_agent_reply_is_dispatched_once_committed(account, outbound_queue, django_capture_on_commit_callbacks):
    ticket = email_thread(account).ticket
    agent = UserFactory(username="lucia", role="agent")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply = add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Ya va.", author_user=agent)
    # Nothing reaches the broker before the commit: a worker could not see the row yet.
    assert queued_task_calls(outbound_queue) == []
    for callback in callbacks:
        callback()

    assert reply.delivery_state == Message.DeliveryState.QUEUED
    assert queued_task_calls(outbound_queue) == [("outbound.send_message", [reply.pk])]


@pytest.mark.parametrize(
    ("direction", "delivery_state"),
    [
        (Message.Direction.OUTBOUND, Message.DeliveryState.SENT),
        (Message.Direction.OUTBOUND, Message.DeliveryState.DELIVERED),
        (Message.Direction.OUTBOUND, Message.DeliveryState.FAILED),
        (Message.Direction.NOTE, None),
        (Message.Direction.INBOUND, None),
    ],
)
def test_messages_that_are_not_queued_replies_are_not_dispatched(
    account, outbound_queue, django_capture_on_commit_callbacks, direction, delivery_state
):
    """The demo data adds replies that were sent, delivered or failed long ago."""
    ticket = email_thread(account).ticket

    with django_capture_on_commit_callbacks(execute=True):
        add_message(ticket=ticket, direction=direction, body_text="…", delivery_state=delivery_state)

    assert queued_task_calls(outbound_queue) == []


def test_reply_on_a_ticket_without_a_channel_account_is_not_dispatched(
    account, outbound_queue, django_capture_on_commit_callbacks
):
    ticket = email_thread(account).ticket
    ticket.channel_account = None
    ticket.save()

    with django_capture_on_commit_callbacks(execute=True):
        reply = add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Hola")

    assert reply.delivery_state == Message.DeliveryState.QUEUED
    assert queued_task_calls(outbound_queue) == []


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point this process's Celery producer at another broker for the block."""
    from helpdesk.celery import app

    original = {"broker_url": app.conf.broker_url, "task_publish_retry": app.conf.task_publish_retry}

    def forget_connections() -> None:
        # What Celery itself does after a fork: the pools are rebuilt from the settings on next use.
        app._pool = None
        app.amqp._producer_pool = None

    # Without Celery's publish retries, so that the test is quick.
    app.conf.update(broker_url=url, task_publish_retry=False)
    forget_connections()
    try:
        yield
    finally:
        app.conf.update(**original)
        forget_connections()


def test_broker_down_leaves_the_reply_queued(account):
    """The reply must survive the outage: dispatch reports it and the sweeper sends it later."""
    reply = email_thread(account)

    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):  # nobody answers there
        assert outbound.dispatch_queued_message(reply.pk) is False

    assert reload(reply).delivery_state == Message.DeliveryState.QUEUED


def test_sweeper_dispatches_replies_left_queued(account, outbound_queue, settings):
    settings.HELPDESK_OUTBOUND_REQUEUE_AFTER_SECONDS = 120
    now = timezone.now()
    ticket = email_thread(account).ticket
    Message.objects.filter(ticket=ticket, direction=Message.Direction.OUTBOUND).delete()

    def reply(created_minutes_ago: float, tried_minutes_ago: float | None = None, **fields) -> Message:
        return MessageFactory(
            ticket=ticket, direction=Message.Direction.OUTBOUND, author_type=Message.AuthorType.AGENT,
            author_customer=None, channel_account=fields.pop("channel_account", account),
            delivery_state=fields.pop("delivery_state", Message.DeliveryState.QUEUED),
            created_at=now - timedelta(minutes=created_minutes_ago),
            delivery_updated_at=None if tried_minutes_ago is None else now - timedelta(minutes=tried_minutes_ago),
            **fields,
        )

    never_dispatched = reply(10)
    retries_lost = reply(60, tried_minutes_ago=30)
    reply(1)  # just saved: its task is on its way
    reply(30, tried_minutes_ago=5)  # a retry may still be waiting in the broker
    reply(30, delivery_state=Message.DeliveryState.SENT)
    reply(30, delivery_state=Message.DeliveryState.FAILED)
    reply(30, channel_account=None)  # nowhere to send it from

    assert outbound.requeue_stuck_outbound(now=now) == 2

    assert queued_task_calls(outbound_queue) == [
        ("outbound.send_message", [retries_lost.pk]),
        ("outbound.send_message", [never_dispatched.pk]),
    ]


# --- The whole road, with a real worker --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_agent_reply_is_delivered_by_a_real_worker(celery_worker_process, smtp_server):  # noqa: F811
    worker = celery_worker_process(
        queues=("outbound",), include=("channels_ingest.outbound_tasks",), adapters={PROVIDER: ADAPTER_PATH}
    )
    ticket = email_thread(mailbox_account(smtp_server.port, provider=PROVIDER)).ticket
    Message.objects.filter(ticket=ticket, direction=Message.Direction.OUTBOUND).delete()
    agent = UserFactory(username="lucia", role="agent")

    reply = add_message(
        ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Hola Marta, llega mañana.",
        author_user=agent,
    )
    assert reply.delivery_state == Message.DeliveryState.QUEUED

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and reload(reply).delivery_state == Message.DeliveryState.QUEUED:
        time.sleep(0.1)

    reply = reload(reply)
    assert reply.delivery_state == Message.DeliveryState.SENT, reply.failure_reason
    assert [envelope.rcpt_tos for envelope in smtp_server.handler.envelopes] == [[CUSTOMER]]
    mail = smtp_server.messages[0]
    # A long id may be folded onto a continuation line (legal, RFC 5322): compare it unfolded.
    assert "".join(mail["Message-ID"].split()) == f"<{reply.external_id}>"
    assert "".join(mail["In-Reply-To"].split()) == f"<{CUSTOMER_MESSAGE_ID}>"
    assert mail.get_body(("plain",)).get_content() == "Hola Marta, llega mañana.\n"
    assert "Task outbound.send_message[" in worker.log()
