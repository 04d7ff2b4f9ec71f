"""Collision detection over the real Redis channel layer: who has a ticket open, who is typing,
and the warning sent to someone writing when a new message arrives."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from helpdesk.routing import websocket_urlpatterns
from tests.factories import CustomerFactory, StoreFactory, TicketFactory, UserFactory
from tests.test_email_send import email_thread, mailbox_account, smtp_server  # noqa: F401
from tickets import actions, presence
from tickets.models import AgentProfile, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _private_presence(settings):
    """Keys and groups of this test only: the suite's Redis is shared by concurrent test runs."""
    token = uuid.uuid4().hex[:12]
    settings.HELPDESK_PRESENCE_PREFIX = f"test-{token}"
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "prefix": f"test-{token}"},
        }
    }


@pytest.fixture
def ticket(db):
    return TicketFactory(subject="Where is my order?")


def agent(username: str, first_name: str):
    user = UserFactory(username=username, role="agent")
    user.first_name, user.last_name = first_name, ""
    user.save()
    return user


def socket(user, ticket_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/tickets/{ticket_id}/presence/"
    )
    communicator.scope["user"] = user
    return communicator


async def next_presence(communicator: WebsocketCommunicator, timeout: float = 5) -> dict:
    """The next presence list this socket receives (skipping nothing else: asserts the type)."""
    message = await communicator.receive_json_from(timeout=timeout)
    assert message["type"] == "presence", message
    return message


def names(message: dict) -> list[tuple[str, bool]]:
    return [(viewer["name"], viewer["typing"]) for viewer in message["viewers"]]


def test_anonymous_socket_is_refused(ticket):
    async def scenario():
        communicator = socket(AnonymousUser(), ticket.pk)
        return await communicator.connect()

    assert async_to_sync(scenario)() == (False, 4401)
    assert presence.viewers(ticket.pk) == []


def test_socket_for_a_ticket_that_does_not_exist_is_refused(alice):
    async def scenario():
        return await socket(alice, 987654321).connect()

    assert async_to_sync(scenario)() == (False, 4403)


def test_signed_in_user_without_a_helpdesk_role_is_refused(mallory, ticket):
    async def scenario():
        return await socket(mallory, ticket.pk).connect()

    assert async_to_sync(scenario)() == (False, 4403)
    assert presence.viewers(ticket.pk) == []


def test_heartbeat_is_at_most_half_the_expiry(settings):
    settings.HELPDESK_PRESENCE_TTL_SECONDS = 20
    settings.HELPDESK_PRESENCE_HEARTBEAT_SECONDS = 8
    assert presence.heartbeat_seconds() == 8
    settings.HELPDESK_PRESENCE_HEARTBEAT_SECONDS = 30
    assert presence.heartbeat_seconds() == 10


def test_agent_who_cannot_see_the_ticket_is_refused():
    """An agent of store A has no business on a ticket of store B, not even to be seen there."""
    store_a, store_b = StoreFactory(name="Store A"), StoreFactory(name="Store B")
    outsider = agent("outsider", "Olga")
    AgentProfile.objects.get(user=outsider).stores.set([store_a])
    hidden = TicketFactory(store=store_b, customer=CustomerFactory())

    async def scenario():
        return await socket(outsider, hidden.pk).connect()

    assert async_to_sync(scenario)() == (False, 4403)
    assert presence.viewers(hidden.pk) == []


def test_viewers_see_each_other_and_leaving_is_announced(ticket):
    ana, ben = agent("ana", "Ana"), agent("ben", "Ben")

    async def scenario():
        first = socket(ana, ticket.pk)
        assert (await first.connect())[0]
        alone = await next_presence(first)
        second = socket(ben, ticket.pk)
        assert (await second.connect())[0]
        ben_sees = await next_presence(second)
        ana_sees = await next_presence(first)
        both = await sync_to_async(presence.viewers)(ticket.pk)
        await second.disconnect()
        after_ben_left = await next_presence(first)
        await first.disconnect()
        return alone, ben_sees, ana_sees, both, after_ben_left

    alone, ben_sees, ana_sees, both, after_ben_left = async_to_sync(scenario)()
    assert names(alone) == [("Ana", False)]
    assert alone["you"] == ana.pk
    assert names(ben_sees) == [("Ana", False), ("Ben", False)]
    assert ben_sees["you"] == ben.pk
    assert names(ana_sees) == [("Ana", False), ("Ben", False)]
    assert [(viewer.user_id, viewer.name) for viewer in both] == [(ana.pk, "Ana"), (ben.pk, "Ben")]
    assert names(after_ben_left) == [("Ana", False)]
    assert presence.viewers(ticket.pk) == []


def test_two_tabs_of_one_agent_count_once(ticket):
    ana = agent("ana", "Ana")

    async def scenario():
        tab_one, tab_two = socket(ana, ticket.pk), socket(ana, ticket.pk)
        await tab_one.connect()
        await tab_two.connect()
        listed = await sync_to_async(presence.viewers)(ticket.pk)
        await tab_two.disconnect()
        still = await sync_to_async(presence.viewers)(ticket.pk)
        await tab_one.disconnect()
        return listed, still

    listed, still = async_to_sync(scenario)()
    assert [viewer.name for viewer in listed] == ["Ana"]
    assert [viewer.name for viewer in still] == ["Ana"]


def test_typing_is_broadcast_and_stops(ticket):
    ana, ben = agent("ana", "Ana"), agent("ben", "Ben")

    async def scenario():
        first, second = socket(ana, ticket.pk), socket(ben, ticket.pk)
        await first.connect()
        await next_presence(first)
        await second.connect()
        await next_presence(second)
        await next_presence(first)
        await second.send_json_to({"type": "typing"})
        ana_sees_typing = await next_presence(first)
        await next_presence(second)
        # Typing again while already typing tells nobody anything new.
        await second.send_json_to({"type": "typing"})
        repeated = await first.receive_nothing(timeout=0.5)
        excluded = await sync_to_async(presence.viewers)(ticket.pk, exclude_user_id=ben.pk)
        await second.send_json_to({"type": "typing_stopped"})
        ana_sees_stop = await next_presence(first)
        await first.disconnect()
        await second.disconnect()
        return ana_sees_typing, repeated, excluded, ana_sees_stop

    typing, repeated, excluded, stopped = async_to_sync(scenario)()
    assert names(typing) == [("Ana", False), ("Ben", True)]
    assert repeated is True
    assert [(viewer.name, viewer.typing) for viewer in excluded] == [("Ana", False)]
    assert names(stopped) == [("Ana", False), ("Ben", False)]


def test_typing_ends_by_itself_when_the_typist_goes_quiet(ticket, settings):
    settings.HELPDESK_PRESENCE_TYPING_SECONDS = 0.5
    ben = agent("ben", "Ben")

    async def scenario():
        typist = socket(ben, ticket.pk)
        await typist.connect()
        await typist.send_json_to({"type": "typing"})
        await next_presence(typist)
        await next_presence(typist)
        during = await sync_to_async(presence.viewers)(ticket.pk)
        await asyncio.sleep(0.8)
        after = await sync_to_async(presence.viewers)(ticket.pk)
        await typist.disconnect()
        return during, after

    during, after = async_to_sync(scenario)()
    assert [(viewer.name, viewer.typing) for viewer in during] == [("Ben", True)]
    assert [(viewer.name, viewer.typing) for viewer in after] == [("Ben", False)]


def test_a_tab_that_stops_beating_expires_and_leaves_the_others_list(ticket, settings):
    """A crashed tab never says goodbye: it drops out once its heartbeat is older than the TTL,
    and the others learn it at their next heartbeat."""
    settings.HELPDESK_PRESENCE_TTL_SECONDS = 1
    ana, ben = agent("ana", "Ana"), agent("ben", "Ben")

    async def scenario():
        survivor, crashed = socket(ana, ticket.pk), socket(ben, ticket.pk)
        await survivor.connect()
        await next_presence(survivor)
        await crashed.connect()
        before = await next_presence(survivor)
        await asyncio.sleep(0.6)
        await survivor.send_json_to({"type": "heartbeat"})
        still_there = await next_presence(survivor)
        await asyncio.sleep(0.6)
        await survivor.send_json_to({"type": "heartbeat"})
        after = await next_presence(survivor)
        listed = await sync_to_async(presence.viewers)(ticket.pk)
        await survivor.disconnect()
        await crashed.disconnect()
        return before, still_there, after, listed

    before, still_there, after, listed = async_to_sync(scenario)()
    assert names(before) == [("Ana", False), ("Ben", False)]
    assert names(still_there) == [("Ana", False), ("Ben", False)]
    assert names(after) == [("Ana", False)]
    assert [viewer.name for viewer in listed] == ["Ana"]
    assert presence.viewers(ticket.pk) == []


def test_a_tab_back_from_sleep_is_announced_again(ticket, settings):
    """A background tab whose timers were slowed drops out; its next heartbeat brings it back
    on the others' pages at once."""
    settings.HELPDESK_PRESENCE_TTL_SECONDS = 1
    ana, ben = agent("ana", "Ana"), agent("ben", "Ben")

    async def scenario():
        awake, sleeper = socket(ana, ticket.pk), socket(ben, ticket.pk)
        await awake.connect()
        await next_presence(awake)
        await sleeper.connect()
        await next_presence(awake)
        await next_presence(sleeper)
        await asyncio.sleep(1.2)
        await awake.send_json_to({"type": "heartbeat"})
        without = await next_presence(awake)
        await sleeper.send_json_to({"type": "heartbeat"})
        back = await next_presence(awake)
        await awake.disconnect()
        await sleeper.disconnect()
        return without, back

    without, back = async_to_sync(scenario)()
    assert names(without) == [("Ana", False)]
    assert names(back) == [("Ana", False), ("Ben", False)]


def test_writer_is_warned_of_a_customer_message_and_another_agents_reply(ticket):
    ana, ben = agent("ana", "Ana"), agent("ben", "Ben")
    customer = ticket.customer

    async def scenario():
        writer = socket(ana, ticket.pk)
        await writer.connect()
        await next_presence(writer)
        inbound = await sync_to_async(actions.add_message)(
            ticket=ticket, direction=Message.Direction.INBOUND, body_text="Any news?",
            author_type=Message.AuthorType.CUSTOMER, author_customer=customer,
        )
        customer_warning = await writer.receive_json_from(timeout=5)
        reply = await sync_to_async(actions.add_message)(
            ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="It ships today.",
            author_type=Message.AuthorType.AGENT, author_user=ben,
        )
        agent_warning = await writer.receive_json_from(timeout=5)
        # Neither a note nor the writer's own reply is a reason to stop and read.
        await sync_to_async(actions.add_message)(
            ticket=ticket, direction=Message.Direction.NOTE, body_text="Courier called.",
            author_type=Message.AuthorType.AGENT, author_user=ben,
        )
        await sync_to_async(actions.add_message)(
            ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Mine.",
            author_type=Message.AuthorType.AGENT, author_user=ana,
        )
        quiet = await writer.receive_nothing(timeout=0.8)
        await writer.disconnect()
        return inbound, customer_warning, reply, agent_warning, quiet

    inbound, customer_warning, reply, agent_warning, quiet = async_to_sync(scenario)()
    assert customer_warning == {
        "type": "conflict", "kind": "customer", "author": customer.name, "message_id": inbound.pk,
    }
    assert agent_warning == {"type": "conflict", "kind": "agent", "author": "Ben", "message_id": reply.pk}
    assert quiet is True


def test_a_replys_delivery_state_reaches_the_ticket_page(smtp_server):  # noqa: F811
    """Queued -> sent, announced by the sending worker, arrives on the open ticket page."""
    from channels_ingest import outbound

    reply = email_thread(mailbox_account(smtp_server.port))
    ana = agent("ana", "Ana")

    async def scenario():
        page = socket(ana, reply.ticket_id)
        await page.connect()
        await next_presence(page)
        await sync_to_async(outbound.send_message)(reply.pk)
        update = await page.receive_json_from(timeout=5)
        await page.disconnect()
        return update

    assert async_to_sync(scenario)() == {"type": "delivery", "message_id": reply.pk, "state": "sent"}
    assert Message.objects.get(pk=reply.pk).delivery_state == Message.DeliveryState.SENT
