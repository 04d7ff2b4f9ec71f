"""The sidebar's ticket count per view, cheap at a million tickets.

Each count stops at COUNT_CAP rows (`SELECT count(*) FROM (SELECT 1 … LIMIT 1000)`): the sidebar
shows "999+" beyond, and a count never reads more than a thousand index entries, however large the
view. Every count of the sidebar is one scalar subquery of a single SQL statement (one round trip
for all of them), and the result is kept in the cache (Redis) for COUNTS_TTL seconds per agent, so
the live refresh that follows each event costs nothing more. A bulk action by the agent forgets
their counts at once; other changes show within COUNTS_TTL seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.core.cache import cache
from django.db import connection

from tickets.inbox.params import COUNTED_VIEWS, ViewParams
from tickets.inbox.queries import view_tickets

COUNT_CAP = 1000
COUNTS_TTL = 15


def _cache_key(user, keys: list[str]) -> str:
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    return f"inbox-counts:{user.pk}:{digest}"


def _forget_key(user) -> str:
    return f"inbox-counts-generation:{user.pk}"


def forget_counts(user) -> None:
    """Drop the agent's cached counts (after they changed tickets themselves)."""
    try:
        cache.incr(_forget_key(user))
    except ValueError:
        cache.set(_forget_key(user), 1, None)


def count_views(user, views: Iterable[tuple[str, ViewParams]]) -> dict[str, int]:
    """The number of tickets (at most COUNT_CAP) of each named view, for `user`."""
    named = list(views)
    if not named:
        return {}
    generation = cache.get(_forget_key(user), 0)
    keys = [f"{generation}", *(f"{name}?{params.encode()}" for name, params in named)]
    key = _cache_key(user, keys)
    cached = cache.get(key)
    if cached is not None:
        return cached
    parts, arguments = [], []
    for _name, params in named:
        capped = view_tickets(user, params).order_by().values("pk")[:COUNT_CAP]
        sql, params_ = capped.query.sql_with_params()
        parts.append(f"(SELECT count(*) FROM ({sql}) AS capped)")
        arguments.extend(params_)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), arguments)
        row = cursor.fetchone()
    counts = {name: int(value) for (name, _params), value in zip(named, row, strict=True)}
    cache.set(key, counts, COUNTS_TTL)
    return counts


def sidebar_counts(user, saved_views) -> dict[str, int]:
    """Counts of the built-in views (keyed by their slug) and of the agent's saved views (keyed
    "saved-<id>")."""
    views = [(name, ViewParams(view=name)) for name in COUNTED_VIEWS]
    views += [(f"saved-{saved.pk}", ViewParams.from_query(saved.filters)) for saved in saved_views]
    return count_views(user, views)


def count_label(count: int | None) -> str:
    """What a badge shows: the count, "999+" past the cap, nothing for none."""
    if not count:
        return ""
    return f"{COUNT_CAP - 1}+" if count >= COUNT_CAP else str(count)
