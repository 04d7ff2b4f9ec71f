"""Live events for the agents' pages, sent over the Channels layer after the transaction commits.

Groups: `inbox` (every signed-in agent), `ticket-<id>` (those looking at one ticket),
`agent-<user id>` (one agent's own notifications).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

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
        },
    }


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
    return _publisher.send(groups, payload)


def publish_many_on_commit(messages: list[tuple[list[str], dict]]) -> None:
    """Send several (groups, payload) messages after the commit, one after the other from one
    task: a sweep that changes a thousand tickets must not open a thousand sends at once."""
    if _suppressed.get() or not messages:
        return

    def send_all() -> None:
        layer = get_channel_layer()
        if layer is None:
            return

        async def run() -> None:
            for groups, payload in messages:
                for group in groups:
                    await layer.group_send(group, payload)

        future = asyncio.run_coroutine_threadsafe(run(), _publisher._running_loop())
        future.add_done_callback(_log_failure)

    transaction.on_commit(send_all)


def publish_on_commit(groups: list[str], payload: dict) -> None:
    if _suppressed.get():
        return
    transaction.on_commit(lambda: publish(groups, payload))
