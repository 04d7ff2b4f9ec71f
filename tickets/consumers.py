"""WebSocket consumers: signed-in agents receive live ticket events."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tickets.events import INBOX_GROUP, agent_group


class InboxConsumer(AsyncJsonWebsocketConsumer):
    """Joins the shared inbox group and the agent's own group; refuses anonymous sockets."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = [INBOX_GROUP, agent_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def ticket_changed(self, event: dict) -> None:
        await self.send_json(event)

    async def message_added(self, event: dict) -> None:
        await self.send_json(event)
