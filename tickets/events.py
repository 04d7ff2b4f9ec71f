"""Live events for the agents' pages, sent over the Channels layer after the transaction commits.

Groups (who may join them is `tickets.access`'s rule, checked by the consumers):
- `store-<id>`: the inbox of everyone who sees that store;
- `team-<id>`: the inbox of a team's people, for the team's tickets of stores they do not see;
- `agent-<user id>`: one agent's notifications, and the tickets assigned to them;
- `ticket-<id>`: those looking at one ticket.
A ticket's inbox events go to its store's, team's and assignee's groups (`inbox_groups`); a socket
in several of them gets each event once (an event sent to several groups carries an `event_id`
the consumer remembers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Former single inbox group. Nobody joins it any more: a publisher that still names it has it
# replaced by the ticket's own inbox groups (see `_expand_groups`), never broadcast to every store.
INBOX_GROUP = "inbox"

_suppressed: ContextVar[bool] = ContextVar("live_events_suppressed", default=False)


@contextmanager
def live_events_suppressed() -> Iterator[None]:
    """Publish nothing inside this block: for bulk loads (demo data, imports) that nobody watches
    live, where one Redis round trip per change would dominate the run time."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def ticket_group(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


def agent_group(user_id: int) -> str:
    return f"agent-{user_id}"


def store_group(store_id: int) -> str:
    return f"store-{store_id}"


def team_group(team_id: int) -> str:
    return f"team-{team_id}"


def inbox_groups(ticket) -> list[str]:
    """Where a ticket's inbox events go: its store, its team and its assignee (each reaches people
    `tickets.access` lets see the ticket). `ticket` is a Ticket or anything with store_id,
    team_id and assignee_id."""
    groups = [store_group(ticket.store_id)]
    if getattr(ticket, "team_id", None) is not None:
        groups.append(team_group(ticket.team_id))
    if getattr(ticket, "assignee_id", None) is not None:
        groups.append(agent_group(ticket.assignee_id))
    return groups


def ticket_groups(ticket) -> list[str]:
    """The inbox groups and the ticket page's group: where most ticket events go."""
    return [*inbox_groups(ticket), ticket_group(ticket.pk)]


def ticket_changed_payload(ticket) -> dict:
    return {
        "type": "ticket.changed",
        "ticket": {
            "id": ticket.pk,
            "status": ticket.status,
            "subject": ticket.subject,
            "channel": ticket.channel,
            "assignee_id": ticket.assignee_id,
            "updated_at": ticket.updated_at.isoformat(),
            "store_id": ticket.store_id,
            "team_id": getattr(ticket, "team_id", None),
        },
    }


def _expand_groups(groups: Iterable[str], payload: dict) -> list[str]:
    """The groups to send to, with the former shared inbox group replaced by the ticket's own
    inbox groups (from the payload, or read from the database by the payload's ticket id). An
    event whose ticket cannot be found is not sent to any inbox: never to every store."""
    groups = list(groups)
    if INBOX_GROUP not in groups:
        return groups
    rest = [group for group in groups if group != INBOX_GROUP]
    ticket = payload.get("ticket") if isinstance(payload.get("ticket"), dict) else None
    if ticket is not None and ticket.get("store_id") is not None:
        row = _TicketGroups(ticket["id"], ticket["store_id"], ticket.get("team_id"), ticket.get("assignee_id"))
    else:
        ticket_id = payload.get("ticket_id") or (ticket or {}).get("id")
        row = _ticket_row(ticket_id) if ticket_id else None
        if row is None:
            logger.warning("live event %s for the shared inbox without a ticket: not sent", payload.get("type"))
            return rest
    return [*inbox_groups(row), *(group for group in rest if group not in inbox_groups(row))]


@dataclass(frozen=True)
class _TicketGroups:
    pk: int
    store_id: int
    team_id: int | None
    assignee_id: int | None


def _ticket_row(ticket_id: int) -> _TicketGroups | None:
    from tickets.models import Ticket

    row = Ticket.objects.filter(pk=ticket_id).values_list("pk", "store_id", "team_id", "assignee_id").first()
    return _TicketGroups(*row) if row else None


def _ready(groups: Iterable[str], payload: dict) -> tuple[list[str], dict]:
    """The groups to send to, and the payload with an `event_id` when it goes to several groups,
    so a socket that is in two of them shows the event once."""
    groups = _expand_groups(groups, payload)
    if len(groups) > 1 and "event_id" not in payload:
        payload = {**payload, "event_id": uuid.uuid4().hex}
    return groups, payload


class _Publisher:
    """Sends to the channel layer from one long-lived event loop per process.

    A fresh `async_to_sync` per event builds an event loop and a Redis connection each time (about
    8 ms in a worker); one loop on its own thread keeps the layer's connections open. Sending is
    fire-and-forget: live events are notifications for open pages, and the data is already
    committed whether or not a page hears of it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._send_lock: asyncio.Lock | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # After a fork (Celery's prefork pool) the parent's thread is gone: start our own.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="live-events", daemon=True)
                thread.start()
                self._loop, self._pid, self._send_lock = loop, os.getpid(), None
            return self._loop

    def _sending(self) -> asyncio.Lock:
        # Made on the loop's own thread, on first use (an asyncio lock belongs to one loop).
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        return self._send_lock

    def send(self, groups: list[str], payload: dict) -> concurrent.futures.Future:
        layer = get_channel_layer()
        if layer is None:
            done: concurrent.futures.Future = concurrent.futures.Future()
            done.set_result(None)
            return done

        async def send_all() -> None:
            # One send at a time, in order: a burst (a batch of threaded messages) queues here
            # instead of opening a Redis connection per event.
            async with self._sending():
                for group in groups:
                    await layer.group_send(group, payload)

        future = asyncio.run_coroutine_threadsafe(send_all(), self._running_loop())
        future.add_done_callback(_log_failure)
        return future


def _log_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("live event not delivered: %s", future.exception())


_publisher = _Publisher()


def publish(groups: list[str], payload: dict) -> concurrent.futures.Future:
    """Send now (without waiting). Prefer `publish_on_commit` inside actions."""
    return _publisher.send(*_ready(groups, payload))


def publish_many_on_commit(messages: list[tuple[list[str], dict]]) -> None:
    """Send several (groups, payload) messages after the commit, one after the other from one
    task: a sweep that changes a thousand tickets must not open a thousand sends at once."""
    if _suppressed.get() or not messages:
        return

    def send_all() -> None:
        ready = [_ready(groups, payload) for groups, payload in messages]
        layer = get_channel_layer()
        if layer is None:
            return

        async def run() -> None:
            for groups, payload in ready:
                for group in groups:
                    await layer.group_send(group, payload)

        future = asyncio.run_coroutine_threadsafe(run(), _publisher._running_loop())
        future.add_done_callback(_log_failure)

    transaction.on_commit(send_all)


def publish_on_commit(groups: list[str], payload: dict) -> None:
    if _suppressed.get():
        return
    transaction.on_commit(lambda: publish(groups, payload))
