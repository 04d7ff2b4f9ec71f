"""Live events reach signed-in agents over WebSockets through the real Redis channel layer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from tests.factories import CustomerFactory, StoreFactory
from tickets import actions
from tickets.consumers import InboxConsumer

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(InboxConsumer.as_asgi(), "/ws/inbox/")
    communicator.scope["user"] = user
    return communicator


def test_anonymous_socket_is_refused():
    async def scenario():
        communicator = _communicator(AnonymousUser())
        connected, code = await communicator.connect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4401)


def test_agent_receives_new_ticket_after_commit(alice):
    store = StoreFactory()
    customer = CustomerFactory()

    async def scenario():
        communicator = _communicator(alice)
        connected, _ = await communicator.connect()
        assert connected
        ticket = await sync_to_async(actions.create_ticket)(
            store=store, channel="email", customer=customer, subject="¿Dónde está mi pedido?"
        )
        event = await communicator.receive_json_from(timeout=5)
        # Nothing else was published for this one action.
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return ticket, event

    ticket, event = async_to_sync(scenario)()
    assert event["type"] == "ticket.changed"
    assert event["ticket"]["id"] == ticket.pk
    assert event["ticket"]["subject"] == "¿Dónde está mi pedido?"
    assert event["ticket"]["status"] == "new"


def test_rolled_back_change_publishes_nothing(alice):
    from django.db import transaction

    store = StoreFactory()
    customer = CustomerFactory()

    def create_and_roll_back():
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                actions.create_ticket(store=store, channel="email", customer=customer, subject="never")
                raise RuntimeError("rolled back")

    async def scenario():
        communicator = _communicator(alice)
        await communicator.connect()
        await sync_to_async(create_and_roll_back)()
        nothing = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True


def test_nothing_is_published_while_live_events_are_suppressed(alice):
    from tickets.events import live_events_suppressed

    store = StoreFactory()
    customer = CustomerFactory()

    def create_quietly():
        with live_events_suppressed():
            actions.create_ticket(store=store, channel="email", customer=customer, subject="bulk import")

    async def scenario():
        communicator = _communicator(alice)
        await communicator.connect()
        await sync_to_async(create_quietly)()
        nothing = await communicator.receive_nothing(timeout=0.5)
        await sync_to_async(actions.create_ticket)(store=store, channel="email", customer=customer, subject="live")
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return nothing, event

    nothing, event = async_to_sync(scenario)()
    assert nothing is True
    assert event["ticket"]["subject"] == "live"


def test_an_ingested_message_is_announced_once_after_commit(alice):
    from channels_ingest.base import CustomerHandle, NormalizedMessage
    from tests.factories import ChannelAccountFactory
    from tickets.ingest import ingest_message

    account = ChannelAccountFactory(channel="marketplace", provider="generic")
    normalized = NormalizedMessage(
        channel="marketplace", external_id="m-1", customer=CustomerHandle(kind="shop_customer", value="b-1"),
        body_text="¿Dónde está mi pedido?", thread_key="t-1",
    )

    async def scenario():
        communicator = _communicator(alice)
        await communicator.connect()
        outcome = await sync_to_async(ingest_message)(account=account, normalized=normalized)
        first = await communicator.receive_json_from(timeout=5)
        second = await communicator.receive_json_from(timeout=5)
        nothing_more = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return outcome, first, second, nothing_more

    outcome, first, second, nothing_more = async_to_sync(scenario)()
    assert first == {"type": "message.added", "ticket_id": outcome.ticket_id, "message_id": outcome.message_id,
                     "direction": "inbound"}
    assert second["type"] == "ticket.changed" and second["ticket"]["id"] == outcome.ticket_id
    assert nothing_more is True
