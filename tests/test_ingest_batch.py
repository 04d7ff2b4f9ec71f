"""Batched processing (`process_events` and `tickets.ingest_bulk`) threads exactly as processing
one event at a time does: the same customers, identities, tickets, messages, timeline events and
event outcomes, for the common case and for every case it hands to the one-message path."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from django.utils import timezone

from channels_ingest.actions import process_event, process_events
from channels_ingest.models import InboundEvent
from helpdesk.bulk import update_rows
from tests.factories import ChannelAccountFactory, CustomerFactory
from tickets import actions
from tickets.consumers import InboxConsumer
from tickets.models import ChannelIdentity, Customer, Message, SLAPolicy, Ticket, TicketEvent


@pytest.fixture
def account():
    account = ChannelAccountFactory(channel="marketplace", provider="generic", display_name="eMAG")
    account.set_secrets({"signing_secret": "whsec"})
    account.save()
    return account


def store(account, event_id: str, **message) -> InboundEvent:
    body = {"id": f"m-{event_id}", "customer": {"id": "buyer-1", "name": "Ana Pop"}, "text": "Salut"}
    body.update(message)
    return InboundEvent.objects.create(
        provider="generic", account=account, event_id=event_id,
        body=json.dumps({"id": event_id, "type": "message.created", "message": body}).encode(),
    )


def scenario(account) -> list[InboundEvent]:
    """History first (processed one by one), then a burst of events covering every road."""
    # Earlier history: a customer known by email on another channel; a recently solved ticket;
    # a ticket solved long ago; a message that will be delivered again.
    # Calendar hours keep the deadlines independent of when the test runs.
    SLAPolicy.objects.create(
        name="Marketplace", hours=SLAPolicy.Hours.CALENDAR, first_response_minutes=24 * 60,
        next_response_minutes=12 * 60, resolution_minutes=72 * 60, warning_minutes=60,
    )
    known = CustomerFactory(name="Known Buyer", email="known@example.com")
    ChannelIdentity.objects.create(customer=known, kind="email", value="known@example.com")
    for event_id, thread in (("h-recent", "t-recent"), ("h-old", "t-old")):
        process_event(store(account, event_id, thread_id=thread, customer={"id": f"buyer-{thread}"}).pk)
        ticket = Ticket.objects.get(external_thread_id=thread)
        actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED)
    Ticket.objects.filter(external_thread_id="t-old").update(solved_at=timezone.now() - timedelta(days=365))
    process_event(store(account, "h-earlier", id="m-earlier", thread_id="t-9").pk)

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    return [
        store(account, "e1", thread_id="t-1", subject="Unde este coletul?"),
        store(account, "e2", thread_id="t-1", text="Încă aștept."),
        store(account, "e3", thread_id="t-2", customer={"id": "buyer-2", "name": "Ion"},
              html="<p>Hi<script>alert(1)</script><img src=x onerror=alert(2)></p>"),
        store(account, "e4", thread_id="t-3", subject="Altă comandă"),
        store(account, "e5", customer={"id": "buyer-3"}, text="No thread, first"),
        store(account, "e6", customer={"id": "buyer-3"}, text="No thread, second"),
        store(account, "e7", id="m-e2", thread_id="t-1"),  # the same message as e2, in another event
        store(account, "e8", thread_id="t-8", customer={"id": "buyer-8", "email": "Known@Example.com"}),
        store(account, "e9", thread_id="t-recent", customer={"id": "buyer-t-recent"}),
        store(account, "e10", thread_id="t-old", customer={"id": "buyer-t-old"}),
        store(account, "e11", thread_id="t-11", customer={"id": "buyer-11"}, order_number="ORD-1"),
        InboundEvent.objects.create(provider="generic", account=account, event_id="e12", body=b'{"id": "e12", '),
        store(account, "e13", thread_id="t-13", customer={"id": "buyer-13"},
              attachments=[{"filename": "foto.png", "content_type": "image/png", "content_base64": png}]),
        store(account, "e14", id="m-earlier", thread_id="t-9"),  # delivered before the burst
        store(account, "e15", thread_id="t-15", customer={"id": "buyer-15"}, subject="[#999999] not mine"),
    ]


def snapshot(account) -> dict:
    """Everything threading wrote, without database ids."""
    def customer_key(customer: Customer) -> tuple:
        identities = sorted(
            (identity.kind, identity.value, identity.account_id is not None) for identity in customer.identities.all()
        )
        return (customer.name, customer.email, customer.phone, customer.language, tuple(identities))

    tickets = []
    for ticket in Ticket.objects.prefetch_related("messages", "events").select_related("customer", "follow_up_of"):
        tickets.append((
            ticket.subject, ticket.status, ticket.channel, ticket.external_thread_id, ticket.language,
            ticket.marketplace, customer_key(ticket.customer),
            ticket.follow_up_of.external_thread_id if ticket.follow_up_of else None,
            ticket.last_customer_message_at is not None, ticket.solved_at is not None,
            tuple(
                (message.external_id, message.body_html, message.author_customer_id == ticket.customer_id,
                 message.inbound_event.event_id if message.inbound_event else None, message.attachments.count())
                for message in ticket.messages.order_by("created_at", "pk")
            ),
            tuple(sorted(event.kind for event in ticket.events.all())),
            # The SLA clocks, and the ticket's deadlines relative to its running clocks' start.
            tuple(sorted(
                (fact.kind, fact.completed_at is None, fact.due_at - fact.started_at if fact.due_at else None,
                 fact.policy_id is not None)
                for fact in ticket.response_facts.all()
            )),
            _deadlines(ticket),
        ))
    events = []
    for event in InboundEvent.objects.filter(account=account).order_by("event_id"):
        outcomes = [
            {key: value for key, value in result.items() if key not in ("ticket_id", "message_id")}
            for result in event.result.get("messages", [])
        ]
        events.append((event.event_id, event.state, event.attempts, bool(event.error), outcomes,
                       event.result.get("reason")))
    return {
        "tickets": sorted(tickets, key=repr),
        "customers": sorted((customer_key(customer) for customer in Customer.objects.all()), key=repr),
        "events": events,
        "messages": Message.objects.count(),
        "timeline": TicketEvent.objects.count(),
    }


def _deadlines(ticket: Ticket) -> tuple | None:
    starts = [fact.started_at for fact in ticket.response_facts.all() if fact.completed_at is None]
    if not starts:
        return None
    return tuple(
        getattr(ticket, field) - min(starts) if getattr(ticket, field) else None
        for field in ("first_response_due_at", "next_response_due_at", "resolution_due_at", "sla_next_check_at")
    )


class _Undo(Exception):
    pass


@pytest.mark.django_db
def test_a_batch_threads_exactly_as_one_event_at_a_time(account, django_capture_on_commit_callbacks):
    results = {}
    for mode in ("one by one", "batched"):
        try:
            with transaction.atomic():
                events = scenario(account)
                if mode == "one by one":
                    for event in events:
                        process_events(event.pk, batch_size=1)
                else:
                    with django_capture_on_commit_callbacks():
                        process_events(events[0].pk, batch_size=100)
                    # Each event's own task comes later and finds it done.
                    for event in events[1:]:
                        process_events(event.pk, batch_size=100)
                results[mode] = snapshot(account)
                raise _Undo
        except _Undo:
            pass

    one, batched = results["one by one"], results["batched"]
    assert batched == one
    assert any(ticket[12] for ticket in one["tickets"]) and any(ticket[13] for ticket in one["tickets"])
    # And the outcome is the intended one, not merely the same.
    states = {event_id: state for event_id, state, *_ in one["events"]}
    assert states["e12"] == "failed"
    assert all(state == "processed" for event_id, state in states.items() if event_id != "e12")
    by_thread = {ticket[3]: ticket for ticket in one["tickets"]}
    assert [message[0] for message in by_thread["t-1"][10]] == ["m-e1", "m-e2"]
    assert "script" not in by_thread["t-2"][10][0][1] and "onerror" not in by_thread["t-2"][10][0][1]
    assert by_thread["t-recent"][1] == "open" and "reopened" in by_thread["t-recent"][11]
    assert by_thread["t-8"][6][0] == "Known Buyer"  # the same person as the email identity
    assert by_thread["t-13"][10][0][4] == 1  # the attachment
    follow_up = [ticket for ticket in one["tickets"] if ticket[7] == "t-old"]
    assert len(follow_up) == 1 and follow_up[0][1] == "new"
    assert len([ticket for ticket in one["tickets"] if ticket[6][0] == "" and ticket[3] == ""]) == 2  # buyer-3
    duplicates = {event_id: outcomes for event_id, _, _, _, outcomes, _ in one["events"] if event_id in ("e7", "e14")}
    assert duplicates == {"e7": [{"duplicate": True}], "e14": [{"duplicate": True}]}


@pytest.mark.django_db
def test_a_batch_processes_waiting_events_once_and_leaves_retries_alone(account):
    first, second = store(account, "b1", thread_id="t"), store(account, "b2", thread_id="t")
    retrying = store(account, "b3", thread_id="t")
    InboundEvent.objects.filter(pk=retrying.pk).update(attempts=1)  # a transient fault before: its own back-off

    assert process_events(first.pk, batch_size=10) == "processed"
    assert InboundEvent.objects.get(pk=second.pk).state == "processed"
    assert InboundEvent.objects.get(pk=retrying.pk).state == "pending"
    assert process_events(second.pk, batch_size=10) == "processed"  # its own task: nothing to do
    assert Message.objects.filter(ticket__external_thread_id="t").count() == 2
    assert process_events(retrying.pk, batch_size=10) == "processed"
    assert InboundEvent.objects.get(pk=retrying.pk).attempts == 2
    assert Message.objects.filter(ticket__external_thread_id="t").count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_workers_batching_one_new_conversation_open_one_ticket(account):
    events = [store(account, f"c{n}", thread_id="t-new", customer={"id": "buyer-new"}) for n in range(40)]
    errors = []

    def worker(first: InboundEvent) -> None:
        try:
            process_events(first.pk, batch_size=7)
            for event in events:
                process_events(event.pk, batch_size=7)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(first,)) for first in (events[0], events[20])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Ticket.objects.filter(external_thread_id="t-new").count() == 1
    assert Customer.objects.count() == 1
    assert Message.objects.filter(ticket__external_thread_id="t-new").count() == 40
    assert set(InboundEvent.objects.values_list("state", flat=True)) == {"processed"}


@pytest.mark.django_db(transaction=True)
def test_a_batch_announces_each_message_after_commit(account, alice):
    events = [store(account, f"l{n}", thread_id=f"t-live-{n % 2}") for n in range(4)]

    async def scenario():
        communicator = WebsocketCommunicator(InboxConsumer.as_asgi(), "/ws/inbox/")
        communicator.scope["user"] = alice
        connected, _ = await communicator.connect()
        assert connected
        await sync_to_async(process_events)(events[0].pk, batch_size=10)
        received = []
        while not await communicator.receive_nothing(timeout=0.5):
            received.append(await communicator.receive_json_from())
        await communicator.disconnect()
        return received

    received = async_to_sync(scenario)()
    added = [event["message_id"] for event in received if event["type"] == "message.added"]
    assert sorted(added) == sorted(Message.objects.values_list("pk", flat=True))
    assert {event["ticket"]["id"] for event in received if event["type"] == "ticket.changed"} == set(
        Ticket.objects.values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_update_rows_writes_each_objects_own_values(account):
    events = [store(account, f"u{n}") for n in range(3)]
    now = timezone.now()
    events[0].state, events[0].result, events[0].processed_at = "processed", {"messages": [{"a": "ü"}]}, now
    events[1].state, events[1].error, events[1].processed_at = "failed", "boom ' \" \\", None
    events[2].attempts = 7
    assert update_rows(events, ["state", "result", "error", "processed_at", "attempts"]) == 3
    stored = {event.event_id: event for event in InboundEvent.objects.filter(pk__in=[e.pk for e in events])}
    assert (stored["u0"].state, stored["u0"].result, stored["u0"].processed_at) == ("processed", {"messages": [{"a": "ü"}]}, now)
    assert (stored["u1"].state, stored["u1"].error, stored["u1"].processed_at) == ("failed", "boom ' \" \\", None)
    assert (stored["u2"].state, stored["u2"].attempts) == ("pending", 7)
    assert update_rows([], ["state"]) == 0


@pytest.mark.django_db
def test_webhooks_in_a_burst_send_one_task_and_it_drains_them_all(account, django_capture_on_commit_callbacks):
    from channels_ingest.actions import drain_waiting_events, record_event
    from tests.workers import isolated_queues, queued_task_calls

    def receive(event_id: str) -> None:
        body = json.dumps({"id": event_id, "type": "message.created", "message": {
            "id": f"m-{event_id}", "thread_id": "t-burst", "customer": {"id": "buyer-1"}, "text": event_id}}).encode()
        with django_capture_on_commit_callbacks(execute=True):
            record_event(provider="generic", account=account, event_id=event_id, body=body)

    with isolated_queues(["ingest"]) as queues:
        for n in range(5):
            receive(f"burst-{n}")
        assert [name for name, _ in queued_task_calls(queues["ingest"])] == ["ingest.process_event"]

        assert drain_waiting_events() == 5  # what that task does once a worker takes it
        assert Message.objects.filter(ticket__external_thread_id="t-burst").count() == 5
        # The drain began: the next webhook cannot count on it, and sends a task of its own.
        receive("after")
        assert len(queued_task_calls(queues["ingest"])) == 2
    assert dict(InboundEvent.objects.values_list("event_id", "state")) == {
        **{f"burst-{n}": "processed" for n in range(5)}, "after": "pending",
    }
