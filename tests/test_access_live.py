"""Live events follow the same rule as pages: an agent of store A never hears of store B's tickets.

Sockets are real consumers on the real Redis channel layer (channels.testing.WebsocketCommunicator);
events are published by the same actions as in production, after their transactions commit.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from helpdesk.routing import websocket_urlpatterns
from tests.access_world import World, build_world
from tests.factories import ChannelAccountFactory, CustomerFactory, StoreFactory
from tickets import actions
from tickets.events import INBOX_GROUP, publish_on_commit, ticket_changed_payload

pytestmark = pytest.mark.django_db(transaction=True)

ROUTER = URLRouter(websocket_urlpatterns)


@pytest.fixture
def world(settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path
    return build_world()


def fresh(user):
    """The user as a new connection loads it (nothing cached from earlier in the test)."""
    return get_user_model().objects.select_related("agent_profile").get(pk=user.pk)


def socket(user, path: str = "/ws/inbox/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ROUTER, path)
    communicator.scope["user"] = user
    return communicator


async def drain(communicator, timeout: float = 0.6) -> list[dict]:
    """Every event that arrives until the socket has been quiet for `timeout` seconds."""
    events = []
    while not await communicator.receive_nothing(timeout=timeout):
        events.append(await communicator.receive_json_from())
    return events


def ticket_ids_heard(events: list[dict]) -> set[int]:
    heard = set()
    for event in events:
        if "ticket" in event:
            heard.add(event["ticket"]["id"])
        if "ticket_id" in event:
            heard.add(event["ticket_id"])
        for item in event.get("tickets", []):
            heard.add(item["id"])
    return heard


def listen_while(users, action) -> list[list[dict]]:
    """Connect a socket for each user, run `action` (sync, committing), and return what each heard."""

    async def scenario():
        sockets = [socket(await sync_to_async(fresh)(user)) for user in users]
        for communicator in sockets:
            connected, _ = await communicator.connect()
            assert connected
        await sync_to_async(action)()
        heard = [await drain(communicator) for communicator in sockets]
        for communicator in sockets:
            await communicator.disconnect()
        return heard

    return async_to_sync(scenario)()


def test_a_store_b_ticket_event_never_reaches_a_store_a_socket(world):
    def create_both():
        actions.create_ticket(store=world.spain.store, channel="email", customer=world.spain.customer, subject="es")
        actions.create_ticket(store=world.romania.store, channel="email", customer=world.romania.customer,
                              subject="ro")

    lucia, andrei, emma, admin, marta = listen_while(
        [world.lucia, world.andrei, world.emma, world.admin, world.marta], create_both)
    assert [e["ticket"]["subject"] for e in lucia] == ["es"]
    assert [e["ticket"]["subject"] for e in marta] == ["es"]
    assert [e["ticket"]["subject"] for e in andrei] == ["ro"]
    assert [e["ticket"]["subject"] for e in emma] == ["es", "ro"]  # the no-store default: every store
    assert [e["ticket"]["subject"] for e in admin] == ["es", "ro"]


def test_replies_and_status_changes_follow_the_same_rule(world):
    def work_on_romania():
        actions.add_message(ticket=world.romania.ticket, direction="note", body_text="internal", author_user=world.andrei)
        actions.change_status(ticket=world.romania.ticket, status="pending", actor=world.andrei)

    lucia, andrei = listen_while([world.lucia, world.andrei], work_on_romania)
    assert lucia == []
    assert ticket_ids_heard(andrei) == {world.romania.ticket.pk}
    assert {e["type"] for e in andrei} == {"message.added", "ticket.changed"}


def test_an_ingested_message_of_store_b_is_heard_only_by_store_b(world):
    from channels_ingest.base import CustomerHandle, NormalizedMessage
    from tickets.ingest import ingest_message

    account = ChannelAccountFactory(store=world.romania.store, channel="marketplace", provider="generic")
    normalized = NormalizedMessage(
        channel="marketplace", external_id="ro-1", customer=CustomerHandle(kind="shop_customer", value="ro-buyer"),
        body_text="Unde este comanda mea?", thread_key="ro-thread",
    )
    lucia, andrei = listen_while([world.lucia, world.andrei],
                                 lambda: ingest_message(account=account, normalized=normalized))
    assert lucia == []
    assert [e["type"] for e in andrei] == ["message.added", "ticket.changed"]


def test_team_members_hear_their_teams_tickets_of_another_store_once(world):
    def touch_team_ticket():
        actions.change_status(ticket=world.team_ticket, status="pending", actor=world.admin)

    tomas, lucia = listen_while([world.tomas, world.lucia], touch_team_ticket)
    assert [e["ticket"]["id"] for e in tomas] == [world.team_ticket.pk]
    assert "event_id" not in tomas[0]
    assert lucia == []


def test_an_assigned_agent_hears_their_ticket_of_another_store_once(world):
    def touch_assigned():
        actions.change_status(ticket=world.assigned_ticket, status="pending", actor=world.admin)

    ioana, lucia = listen_while([world.ioana, world.lucia], touch_assigned)
    assert [e["ticket"]["id"] for e in ioana] == [world.assigned_ticket.pk]
    assert lucia == []


def test_a_socket_in_two_groups_of_one_event_gets_it_once(world):
    """lucia sees Spain; a Spanish ticket assigned to her is published to the store's group and
    to hers: she hears it once."""
    ticket = world.spain.ticket

    def assign():
        actions.assign_ticket(ticket=ticket, assignee=world.lucia, actor=world.admin)
        actions.change_status(ticket=ticket, status="pending", actor=world.admin)

    (lucia,) = listen_while([world.lucia], assign)
    changes = [e for e in lucia if e["type"] == "ticket.changed"]
    assert [(e["ticket"]["assignee_id"], e["ticket"]["status"]) for e in changes] == [
        (world.lucia.pk, "open"), (world.lucia.pk, "pending")]


def test_events_still_addressed_to_the_old_shared_inbox_reach_only_the_tickets_store(world):
    def legacy_publishers():
        publish_on_commit([INBOX_GROUP], ticket_changed_payload(world.romania.ticket))
        publish_on_commit([INBOX_GROUP], {"type": "message.added", "ticket_id": world.romania.ticket.pk,
                                          "message_id": world.romania.message.pk, "direction": "inbound"})

    lucia, andrei = listen_while([world.lucia, world.andrei], legacy_publishers)
    assert lucia == []
    assert [e["type"] for e in andrei] == ["ticket.changed", "message.added"]


def test_sla_changes_are_announced_per_store(world):
    from tickets.events import inbox_groups, publish_many_on_commit

    def sweep():
        # what the SLA sweep sends: one message per inbox group with the tickets of that group
        items = {}
        for ticket in (world.spain.ticket, world.romania.ticket):
            for group in inbox_groups(ticket):
                items.setdefault(group, []).append({"id": ticket.pk})
        publish_many_on_commit([([group], {"type": "sla.changed", "tickets": rows}) for group, rows in items.items()])

    lucia, andrei = listen_while([world.lucia, world.andrei], sweep)
    assert ticket_ids_heard(lucia) == {world.spain.ticket.pk}
    assert ticket_ids_heard(andrei) == {world.romania.ticket.pk}


def test_notifications_reach_only_their_recipient(world):
    from tickets.notify import notify

    def mention():
        notify([world.andrei], ticket=world.romania.ticket, kind="mention", text="Andrei, look", email=False)

    lucia, andrei = listen_while([world.lucia, world.andrei], mention)
    assert lucia == []
    assert [e["type"] for e in andrei] == ["notification.created"]


def test_non_helpdesk_users_and_anonymous_sockets_are_refused(world):
    from django.contrib.auth.models import AnonymousUser

    async def scenario():
        results = []
        for user in (AnonymousUser(), world.mallory):
            communicator = socket(user)
            results.append(await communicator.connect())
        return results

    assert async_to_sync(scenario)() == [(False, 4401), (False, 4403)]


def test_a_new_store_membership_counts_from_the_next_connection(world):
    later_store = StoreFactory(slug="access-later")
    customer = CustomerFactory()

    async def scenario():
        before = socket(await sync_to_async(fresh)(world.lucia))
        await before.connect()
        await sync_to_async(world.lucia.agent_profile.stores.add)(world.romania.store)
        after = socket(await sync_to_async(fresh)(world.lucia))
        await after.connect()
        await sync_to_async(actions.create_ticket)(store=world.romania.store, channel="email",
                                                   customer=world.romania.customer, subject="ro new")
        heard = await drain(before), await drain(after)
        # a store created after an every-store user connected is heard after reconnecting
        emma = socket(await sync_to_async(fresh)(world.emma))
        await emma.connect()
        await sync_to_async(actions.create_ticket)(store=later_store, channel="email", customer=customer,
                                                   subject="later")
        heard_emma = await drain(emma)
        for communicator in (before, after, emma):
            await communicator.disconnect()
        return heard, heard_emma

    (old, new), emma = async_to_sync(scenario)()
    assert old == []
    assert [e["ticket"]["subject"] for e in new] == ["ro new"]
    assert [e["ticket"]["subject"] for e in emma] == ["later"]


# --- Ticket sockets -------------------------------------------------------------------------


def ticket_socket_routes() -> list[str]:
    routes = [str(pattern.pattern) for pattern in websocket_urlpatterns]
    unclassified = [r for r in routes if "<int:ticket_id>" not in r and r not in NO_TICKET_SOCKETS]
    assert unclassified == [], "classify these WebSocket routes in tests/test_access_live.py"
    return [r for r in routes if "<int:ticket_id>" in r]


# WebSocket routes that are not about one ticket, and where they are checked.
NO_TICKET_SOCKETS = {
    "ws/inbox/": "the inbox: the tests above",
}
VISITOR_SOCKET_PREFIXES = ("ws/widget/",)  # the shop's visitors, keyed by their own token


def test_every_ticket_socket_refuses_a_ticket_of_another_store(world):
    for prefix in VISITOR_SOCKET_PREFIXES:
        NO_TICKET_SOCKETS.update({str(p.pattern): "visitors" for p in websocket_urlpatterns
                                  if str(p.pattern).startswith(prefix)})
    routes = ticket_socket_routes()
    assert routes, "the ticket page's socket (presence) is expected among the routes"

    async def scenario():
        results = {}
        for route in routes:
            for who, user, ticket in (
                ("lucia→ro", world.lucia, world.romania.ticket),
                ("tomas→ro", world.tomas, world.romania.ticket),
                ("lucia→es", world.lucia, world.spain.ticket),
                ("tomas→team", world.tomas, world.team_ticket),
                ("ioana→assigned", world.ioana, world.assigned_ticket),
            ):
                communicator = socket(await sync_to_async(fresh)(user), "/" + route.replace("<int:ticket_id>",
                                                                                          str(ticket.pk)))
                connected, code = await communicator.connect()
                results[(route, who)] = connected or code
                if connected:
                    await communicator.disconnect()
        return results

    results = async_to_sync(scenario)()
    for route in routes:
        assert results[(route, "lucia→ro")] == 4403
        assert results[(route, "tomas→ro")] == 4403
        assert results[(route, "lucia→es")] is True
        assert results[(route, "tomas→team")] is True
        assert results[(route, "ioana→assigned")] is True
