"""Live events for the agents' pages, sent over the Channels layer after the transaction commits.

Groups: `inbox` (every signed-in agent), `ticket-<id>` (those looking at one ticket),
`agent-<user id>` (one agent's own notifications).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

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


def publish(groups: list[str], payload: dict) -> None:
    """Send now. Prefer `publish_on_commit` inside actions."""
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        async_to_sync(layer.group_send)(group, payload)


def publish_on_commit(groups: list[str], payload: dict) -> None:
    if _suppressed.get():
        return
    transaction.on_commit(lambda: publish(groups, payload))
