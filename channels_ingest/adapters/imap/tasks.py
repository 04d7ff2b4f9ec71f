"""Celery tasks of IMAP polling. Thin: they take ids and call `poller.poll_mailbox`.

Beat runs "ingest.poll_mailboxes", which queues one "ingest.poll_mailbox" per active IMAP
account; the mailboxes are then polled in parallel by the ingest workers, each by one worker at a
time (a lock in Redis), so a slow mailbox never delays the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache
from django.db import connection

from channels_ingest.adapters.imap.poller import poll_mailbox
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)

# A poll is stopped after this long (a batch of messages over a slow link); the lock outlives it
# so that a second poll can never start while the first still runs, and expires soon after, so a
# worker killed mid-poll does not lock the mailbox for good.
POLL_SOFT_TIME_LIMIT = 10 * 60
POLL_TIME_LIMIT = POLL_SOFT_TIME_LIMIT + 60
LOCK_SECONDS = POLL_TIME_LIMIT + 60
# A queued poll older than this is dropped: beat will have queued a fresh one (after a worker
# outage, a pile of stale polls of the same mailbox helps nobody).
POLL_EXPIRES_SECONDS = 5 * 60


def mailboxes_to_poll() -> list[int]:
    """Active IMAP accounts with a server configured."""
    return list(
        ChannelAccount.objects.filter(provider="imap", status=ChannelAccount.Status.ACTIVE)
        .exclude(settings__imap_host__isnull=True)
        .exclude(settings__imap_host="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _lock_key(account_pk: int) -> str:
    # The database name keeps two installations (or two test runs) sharing one Redis apart.
    return f"imap-poll:{connection.settings_dict['NAME']}:{account_pk}"


@contextmanager
def mailbox_lock(account_pk: int) -> Iterator[bool]:
    """Hold the polling lock of one mailbox; yields False when another poll holds it."""
    key = _lock_key(account_pk)
    token = uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=LOCK_SECONDS)
    try:
        yield acquired
    finally:
        # Release only our own lock: if ours expired and another poll took it, it is theirs.
        if acquired and cache.get(key) == token:
            cache.delete(key)


@shared_task(name="ingest.poll_mailboxes", ignore_result=True)
def poll_mailboxes_task() -> int:
    pks = mailboxes_to_poll()
    for pk in pks:
        poll_mailbox_task.apply_async(args=[pk], expires=POLL_EXPIRES_SECONDS)
    return len(pks)


@shared_task(
    name="ingest.poll_mailbox",
    ignore_result=True,
    soft_time_limit=POLL_SOFT_TIME_LIMIT,
    time_limit=POLL_TIME_LIMIT,
)
def poll_mailbox_task(account_pk: int) -> dict:
    account = ChannelAccount.objects.filter(pk=account_pk, provider="imap").first()
    if account is None or account.status != ChannelAccount.Status.ACTIVE:
        return {"account_id": account_pk, "skipped": "no such active IMAP account"}
    with mailbox_lock(account_pk) as acquired:
        if not acquired:
            return {"account_id": account_pk, "skipped": "another poll of this mailbox is running"}
        result = poll_mailbox(account)
    if result.more and result.ok:
        # A backlog (the first poll of a full mailbox): go on at once rather than one batch per
        # beat interval. Each round is bounded by the batch size, so the worker stays fair.
        poll_mailbox_task.apply_async(args=[account_pk], countdown=1, expires=POLL_EXPIRES_SECONDS)
    return result.as_dict()
