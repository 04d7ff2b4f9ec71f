"""WebSocket consumers: signed-in agents receive live ticket events of the tickets they may see."""

from __future__ import annotations

from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tickets.access import visibility
from tickets.events import agent_group, store_group, team_group

# How many recent event ids a socket remembers to drop the copy of an event sent to two of its
# groups (its store's and its team's, say): copies arrive back to back, so a short memory is enough.
SEEN_EVENTS = 256


@database_sync_to_async
def inbox_groups_for(user) -> list[str] | None:
    """The groups whose events `user` may receive (`tickets.access`): their stores' (every store's
    for those who see every store), their teams' and their own; None for a non-helpdesk user.
    Read at connection: a new store or membership counts from the next connection."""
    from tickets.models import Store

    view = visibility(user)
    if view.sees_nothing:
        return None
    store_ids = view.store_ids if view.store_ids is not None else Store.objects.values_list("pk", flat=True)
    return [
        *(store_group(store_id) for store_id in sorted(store_ids)),
        *(team_group(team_id) for team_id in sorted(view.team_ids)),
        agent_group(user.pk),
    ]


class InboxConsumer(AsyncJsonWebsocketConsumer):
    """The inbox's socket: joins the groups of the stores and teams the agent sees and the agent's
    own group; refuses anonymous sockets (4401) and users without a helpdesk role (4403)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        groups = await inbox_groups_for(user)
        if groups is None:
            await self.close(code=4403)
            return
        self.seen_events: deque[str] = deque(maxlen=SEEN_EVENTS)
        self.groups_joined = groups
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def forward(self, event: dict) -> None:
        event_id = event.get("event_id")
        if event_id is not None:
            if event_id in self.seen_events:
                return
            self.seen_events.append(event_id)
            event = {key: value for key, value in event.items() if key != "event_id"}
        await self.send_json(event)

    async def ticket_changed(self, event: dict) -> None:
        await self.forward(event)

    async def message_added(self, event: dict) -> None:
        await self.forward(event)

    async def sla_changed(self, event: dict) -> None:
        await self.forward(event)

    async def notification_created(self, event: dict) -> None:
        await self.forward(event)
