"""Collision detection: which agents have a ticket open, and who is typing a reply.

Each open ticket page holds a WebSocket at `ws/tickets/<id>/presence/`. The socket is a
*connection* in Redis, refreshed by the page's heartbeat: a tab that closes says goodbye, and a
tab that crashes (or a laptop that sleeps) simply stops refreshing and drops out after
`HELPDESK_PRESENCE_TTL_SECONDS`. Typing is kept the same way with a shorter life, so a typist who
vanishes mid-sentence stops "typing" on their own.

Redis keys, per ticket (`<prefix>` is `HELPDESK_PRESENCE_PREFIX`, by default the cache prefix):
- `<prefix>:presence:<id>:seen`   sorted set, member `<user id>:<socket>`, score = last heartbeat
- `<prefix>:presence:<id>:typing` sorted set, member `<user id>:<socket>`, score = typing until
- `<prefix>:presence:<id>:names`  hash, user id -> display name
Every write pushes the keys' expiry forward, so a ticket nobody looks at leaves nothing behind.

The same socket listens to the ticket's live events (`ticket-<id>`) and passes on the new
messages that matter to someone writing a reply: the customer's, and other agents' replies.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import asdict, dataclass

import redis
import redis.asyncio
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from tickets.events import ticket_group

DEFAULT_TTL_SECONDS = 20
DEFAULT_HEARTBEAT_SECONDS = 8
DEFAULT_TYPING_SECONDS = 6


def ttl_seconds() -> float:
    """How long a connection counts as present after its last heartbeat."""
    return float(getattr(settings, "HELPDESK_PRESENCE_TTL_SECONDS", DEFAULT_TTL_SECONDS))


def heartbeat_seconds() -> float:
    """How often a page refreshes its presence (told to the page when it connects); at most half
    the TTL, so one late heartbeat never makes a present agent flicker out."""
    configured = float(getattr(settings, "HELPDESK_PRESENCE_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS))
    return min(configured, ttl_seconds() / 2)


def typing_seconds() -> float:
    """How long one "typing" signal lasts; the page repeats it while the agent keeps typing."""
    return float(getattr(settings, "HELPDESK_PRESENCE_TYPING_SECONDS", DEFAULT_TYPING_SECONDS))


def _prefix() -> str:
    configured = getattr(settings, "HELPDESK_PRESENCE_PREFIX", None)
    if configured:
        return configured
    return settings.CACHES["default"].get("KEY_PREFIX") or "helpdesk"


def _keys(ticket_id: int) -> tuple[str, str, str]:
    base = f"{_prefix()}:presence:{ticket_id}"
    return f"{base}:seen", f"{base}:typing", f"{base}:names"


def presence_group(ticket_id: int) -> str:
    """The Channels group of a ticket's presence sockets (kept apart from `ticket-<id>`, whose
    listeners know nothing of presence messages)."""
    return f"presence-{ticket_id}"


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    typing: bool


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _viewers_from(seen: list, typing: list, names: dict) -> list[Viewer]:
    """One entry per agent (several tabs count once; typing in any of them counts), by name:
    the list keeps its order from one heartbeat to the next."""
    typing_users = {_decode(member).split(":", 1)[0] for member in typing}
    viewers: dict[str, Viewer] = {}
    for member in seen:
        user_id = _decode(member).split(":", 1)[0]
        if user_id in viewers:
            continue
        name = names.get(user_id.encode()) or names.get(user_id) or user_id
        viewers[user_id] = Viewer(user_id=int(user_id), name=_decode(name), typing=user_id in typing_users)
    return sorted(viewers.values(), key=lambda viewer: (viewer.name.casefold(), viewer.user_id))


def _read_commands(pipe, ticket_id: int, now: float) -> None:
    seen_key, typing_key, names_key = _keys(ticket_id)
    pipe.zremrangebyscore(seen_key, "-inf", now - ttl_seconds())
    pipe.zremrangebyscore(typing_key, "-inf", now)
    pipe.zrangebyscore(seen_key, now - ttl_seconds(), "+inf")
    pipe.zrangebyscore(typing_key, now, "+inf")
    pipe.hgetall(names_key)


_sync_clients: dict[str, redis.Redis] = {}


def _sync_client() -> redis.Redis:
    client = _sync_clients.get(settings.REDIS_URL)
    if client is None:
        client = _sync_clients[settings.REDIS_URL] = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
    return client


def viewers(ticket_id: int, *, exclude_user_id: int | None = None) -> list[Viewer]:
    """The agents who have this ticket open right now (and whether each is typing a reply),
    from any process: for pages, the API, or a check before sending."""
    now = time.time()
    with _sync_client().pipeline(transaction=False) as pipe:
        _read_commands(pipe, ticket_id, now)
        *_removed, seen, typing, names = pipe.execute()
    found = _viewers_from(seen, typing, names)
    return [viewer for viewer in found if viewer.user_id != exclude_user_id]


# An asyncio Redis client belongs to the event loop it was made on: one per loop.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _async_client() -> redis.asyncio.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
        )
    return client


@database_sync_to_async
def _tell_chat_visitor(ticket_id: int, typing: bool) -> None:
    """On a chat-widget ticket, the visitor sees "typing..." while an agent writes a reply."""
    from channels_ingest.widget.outbound import notify_visitor_typing
    from tickets.models import Channel, Ticket

    ticket = Ticket.objects.filter(pk=ticket_id, channel=Channel.CHAT).first()
    if ticket is not None:
        notify_visitor_typing(ticket, typing=typing)


class PresenceStore:
    """The async side, used by the consumer: one connection (`member`) of one agent."""

    def __init__(self, ticket_id: int, user_id: int, name: str, socket: str) -> None:
        self.ticket_id = ticket_id
        self.user_id = user_id
        self.name = name
        self.member = f"{user_id}:{socket}"

    def _expire(self, pipe) -> None:
        lifetime = int(ttl_seconds() * 3) + 1
        for key in _keys(self.ticket_id):
            pipe.expire(key, lifetime)

    async def touch(self) -> bool:
        """Refresh this connection; True if it was not listed (new, or it had expired: a tab
        that slept in the background), when the others need telling."""
        seen_key, _typing_key, names_key = _keys(self.ticket_id)
        now = time.time()
        async with _async_client().pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(seen_key, "-inf", now - ttl_seconds())
            pipe.zadd(seen_key, {self.member: now})
            pipe.hset(names_key, str(self.user_id), self.name)
            self._expire(pipe)
            _removed, added, *_rest = await pipe.execute()
        return bool(added)

    async def set_typing(self, typing: bool) -> bool:
        """Record typing (for `typing_seconds()`) or its end; True if this connection's typing
        state changed (only then do the others need telling)."""
        _seen_key, typing_key, _names_key = _keys(self.ticket_id)
        client = _async_client()
        now = time.time()
        if typing:
            async with client.pipeline(transaction=True) as pipe:
                pipe.zscore(typing_key, self.member)
                pipe.zadd(typing_key, {self.member: now + typing_seconds()})
                self._expire(pipe)
                previous, *_rest = await pipe.execute()
            return previous is None or previous < now
        removed = await client.zrem(typing_key, self.member)
        return bool(removed)

    async def leave(self) -> None:
        seen_key, typing_key, _names_key = _keys(self.ticket_id)
        async with _async_client().pipeline(transaction=True) as pipe:
            pipe.zrem(seen_key, self.member)
            pipe.zrem(typing_key, self.member)
            await pipe.execute()

    async def viewers(self) -> list[Viewer]:
        now = time.time()
        async with _async_client().pipeline(transaction=False) as pipe:
            _read_commands(pipe, self.ticket_id, now)
            *_removed, seen, typing, names = await pipe.execute()
        return _viewers_from(seen, typing, names)


def _display_name(user) -> str:
    return user.get_full_name() or user.get_username()


@database_sync_to_async
def _may_view(user, ticket_id: int) -> bool:
    from tickets.access import can_view_ticket
    from tickets.models import Ticket

    ticket = Ticket.objects.filter(pk=ticket_id).first()
    return ticket is not None and can_view_ticket(user, ticket)


@database_sync_to_async
def _message_facts(message_id: int) -> dict | None:
    from tickets.models import Message

    message = (
        Message.objects.filter(pk=message_id)
        .select_related("author_user", "author_customer")
        .only(
            "direction", "author_type", "author_user_id", "is_auto_reply",
            "author_user__first_name", "author_user__last_name", "author_user__username",
            "author_customer__name",
        )
        .first()
    )
    if message is None:
        return None
    author = ""
    if message.author_user is not None:
        author = _display_name(message.author_user)
    elif message.author_customer is not None:
        author = str(message.author_customer.name or "")
    return {
        "direction": message.direction,
        "author_type": message.author_type,
        "author_user_id": message.author_user_id,
        "is_auto_reply": message.is_auto_reply,
        "author": author,
    }


class PresenceConsumer(AsyncJsonWebsocketConsumer):
    """One agent's ticket page. Refuses anonymous sockets (4401) and agents who may not see the
    ticket (4403).

    From the page: `{"type": "heartbeat"}`, `{"type": "typing"}`, `{"type": "typing_stopped"}`.
    To the page: `{"type": "presence", "viewers": [{user_id, name, typing}], "you": id,
    "heartbeat_seconds": n}` whenever the list may have changed (and in answer to each
    heartbeat, which is how an expired tab leaves the others' lists), and
    `{"type": "conflict", "kind": "customer" | "agent", "author": name, "message_id": id}` when a
    message arrives that someone writing a reply must read first, and
    `{"type": "delivery", "message_id": id, "state": state}` when a reply's delivery state moves
    (queued, sent, delivered, read, failed), so the conversation shows it without a reload.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.ticket_id = int(self.scope["url_route"]["kwargs"]["ticket_id"])
        if not await _may_view(user, self.ticket_id):
            await self.close(code=4403)
            return
        self.user_id = user.pk
        self.store = PresenceStore(self.ticket_id, user.pk, _display_name(user), self.channel_name)
        self.groups_joined = [presence_group(self.ticket_id), ticket_group(self.ticket_id)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.store.touch()
        await self._broadcast()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        store = getattr(self, "store", None)
        if store is not None:
            await store.leave()
            await self._broadcast()

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "heartbeat":
            if await self.store.touch():
                await self._broadcast()
            else:
                # Answer with the current list: this is how a crashed tab leaves the others' pages.
                await self._send_state(await self.store.viewers())
        elif kind == "typing":
            returned = await self.store.touch()
            if await self.store.set_typing(True) or returned:
                await self._broadcast()
                await _tell_chat_visitor(self.ticket_id, True)
        elif kind == "typing_stopped":
            if await self.store.set_typing(False):
                await self._broadcast()
                await _tell_chat_visitor(self.ticket_id, False)

    async def dispatch(self, message: dict) -> None:
        # The ticket group carries events for other listeners too (delivery receipts, SLA
        # changes...): the ones this socket has no use for are ignored, not fatal.
        if getattr(self, get_handler_name(message), None) is None:
            return
        await super().dispatch(message)

    async def _broadcast(self) -> None:
        found = await self.store.viewers()
        await self.channel_layer.group_send(
            presence_group(self.ticket_id),
            {"type": "presence.state", "viewers": [asdict(viewer) for viewer in found]},
        )

    async def _send_state(self, found: list[Viewer]) -> None:
        await self.send_json({
            "type": "presence",
            "you": self.user_id,
            "heartbeat_seconds": heartbeat_seconds(),
            "viewers": [asdict(viewer) for viewer in found],
        })

    async def presence_state(self, event: dict) -> None:
        await self.send_json({
            "type": "presence",
            "you": self.user_id,
            "heartbeat_seconds": heartbeat_seconds(),
            "viewers": event["viewers"],
        })

    async def message_added(self, event: dict) -> None:
        if event.get("ticket_id") not in (None, self.ticket_id):
            return
        facts = await _message_facts(event["message_id"])
        if facts is None or facts["is_auto_reply"]:
            return
        if facts["direction"] == "inbound":
            kind = "customer"
        elif facts["direction"] == "outbound" and facts["author_user_id"] not in (None, self.user_id):
            kind = "agent"
        else:
            # Internal notes, our own replies and automatic messages change nothing in a reply.
            return
        await self.send_json({
            "type": "conflict",
            "kind": kind,
            "author": facts["author"],
            "message_id": event["message_id"],
        })

    async def visitor_typing(self, event: dict) -> None:
        """The chat widget's visitor started or stopped typing (channels_ingest.widget)."""
        if event.get("ticket_id") not in (None, self.ticket_id):
            return
        await self.send_json({"type": "visitor_typing", "typing": bool(event.get("typing"))})

    async def message_delivery(self, event: dict) -> None:
        if event.get("ticket_id") not in (None, self.ticket_id):
            return
        await self.send_json({"type": "delivery", "message_id": event["message_id"], "state": event["state"]})
