"""Reading the inbox: which tickets a view holds, in which order, one keyset page at a time.

Every query starts from `Ticket.objects.visible_to(user)`. Each sort orders by one key and the
ticket id (the tie-breaker), and each page is read from just past a cursor that holds both: a range
scan on the matching index (tickets.models, "the inbox's sorts") whatever the page's depth, where
OFFSET would read and discard every earlier row. A ticket inserted meanwhile lands before or after
the cursor and never shifts the rows of the next page.

Nullable keys (last customer message, SLA deadline) sort their NULLs last: the order is every row
with a key, then every row without one by id. A page that crosses from one part into the other is
read with two index scans, one per part.
"""

from __future__ import annotations

import binascii
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Exists, Expression, F, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from tickets.inbox.params import ViewParams
from tickets.models import SLA_DUE, Ticket
from tickets.sla import display as sla_display

# --- Views ----------------------------------------------------------------------------------


def _view_condition(view: str, user) -> Q:
    open_tickets = Q(status__in=Ticket.OPEN_STATUSES)
    if view == "mine":
        return open_tickets & Q(assignee=user.pk)
    if view == "unassigned":
        return open_tickets & Q(assignee__isnull=True)
    if view == "open":
        return open_tickets
    if view in ("pending", "on_hold", "solved"):
        return Q(status=view)
    if view == "sla_at_risk":
        return sla_display.inbox_filter("at_risk")
    if view == "sla_breached":
        return sla_display.inbox_filter("breached")
    return Q()


def view_tickets(user, params: ViewParams) -> QuerySet[Ticket]:
    """The tickets of a view with its filters, for `user`; not ordered (see `page`).

    Tickets marked as spam are only in the Spam view.
    """
    tickets = Ticket.objects.visible_to(user).filter(_view_condition(params.view, user))
    tickets = tickets.filter(is_spam=params.view == "spam")
    if params.status:
        tickets = tickets.filter(status=params.status)
    if params.sla:
        tickets = tickets.filter(sla_display.inbox_filter(params.sla))
    if params.store:
        tickets = tickets.filter(store=params.store)
    if params.channel:
        tickets = tickets.filter(channel=params.channel)
    if params.team:
        tickets = tickets.filter(team=params.team)
    if params.language:
        tickets = tickets.filter(language=params.language)
    if params.tag:
        # EXISTS rather than a join: one row per ticket, and the ordered index scan is kept.
        tagged = Ticket.tags.through.objects.filter(ticket=OuterRef("pk"), tag=params.tag)
        tickets = tickets.filter(Exists(tagged))
    return tickets


# --- Sorts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sort:
    name: str
    key: str  # a Ticket field, or the annotation `expression` is read into
    descending: bool
    nullable: bool = False
    is_time: bool = True
    expression: Any = None
    # Columns every row of the view has the same value in (the assignee of "unassigned", always
    # NULL), named first in ORDER BY so it matches an index that starts with them: PostgreSQL
    # takes `= x` as constant for ordering, but not `IS NULL`.
    lead: tuple[str, ...] = ()

    def annotate(self, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        return (
            queryset.annotate(**{self.key: self.expression})
            if self.expression is not None
            else queryset
        )

    def value_of(self, ticket: Ticket):
        if self.name == "sla" and not hasattr(ticket, self.key):
            deadlines = [
                d
                for d in (
                    ticket.first_response_due_at,
                    ticket.next_response_due_at,
                    ticket.resolution_due_at,
                )
                if d is not None
            ]
            return min(deadlines) if deadlines else None
        return getattr(ticket, self.key)

    def order(self, *, reverse: bool = False) -> list:
        """ORDER BY terms: forwards, NULLs last; reversed, NULLs first (a backward index scan)."""
        descending = self.descending != reverse
        key = F(self.key)
        if self.nullable:
            nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
            key_order = key.desc(**nulls) if descending else key.asc(**nulls)
        else:
            key_order = key.desc() if descending else key.asc()
        leading = [F(column).desc() if reverse else F(column).asc() for column in self.lead]
        return [*leading, key_order, F("id").desc() if descending else F("id").asc()]


SORTS: dict[str, Sort] = {
    "updated": Sort("updated", "updated_at", descending=True),
    "last_customer": Sort(
        "last_customer", "last_customer_message_at", descending=True, nullable=True
    ),
    "created": Sort("created", "created_at", descending=True),
    "priority": Sort("priority", "priority", descending=True, is_time=False),
    "sla": Sort("sla", "sla_due", descending=False, nullable=True, expression=SLA_DUE),
}


class _RowComparison(Expression):
    """`(a, b) < (x, y)` in SQL: PostgreSQL compares rows lexicographically and uses it as one
    range condition on an index over (a, b), which `a < x OR (a = x AND b < y)` is not."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, left: list, operator: str, right: list) -> None:
        super().__init__()
        self.left, self.operator, self.right = list(left), operator, list(right)

    def get_source_expressions(self) -> list:
        return [*self.left, *self.right]

    def set_source_expressions(self, expressions: list) -> None:
        self.left, self.right = (
            list(expressions[: len(self.left)]),
            list(expressions[len(self.left) :]),
        )

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        copy = self.copy()
        copy.set_source_expressions(
            [
                e.resolve_expression(query, allow_joins, reuse, summarize, for_save)
                for e in self.get_source_expressions()
            ]
        )
        return copy

    def as_sql(self, compiler, connection):
        left = [compiler.compile(e) for e in self.left]
        right = [compiler.compile(e) for e in self.right]
        sql = "({}) {} ({})".format(
            ", ".join(s for s, _ in left), self.operator, ", ".join(s for s, _ in right)
        )
        return sql, [p for _, params in (*left, *right) for p in params]


# --- Cursors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in one sort's order: the key's value (None for a NULL) and the ticket id.

    Encoded opaquely in the URL: it is a position, not something to edit, and an ISO timestamp's
    "+" would need escaping anyway. It names its sort, so a cursor of another sort is ignored.
    """

    sort: str
    value: datetime | int | None
    id: int

    @classmethod
    def of(cls, ticket: Ticket, sort: Sort) -> Cursor:
        return cls(sort.name, sort.value_of(ticket), ticket.pk)

    def encode(self) -> str:
        if self.value is None:
            value = "-"
        elif isinstance(self.value, datetime):
            value = self.value.isoformat()
        else:
            value = str(self.value)
        raw = f"{self.sort}|{value}|{self.id}".encode()
        return urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None, sort: Sort) -> Cursor | None:
        """None for a missing or malformed cursor, or one of another sort: the view then starts
        from its first page."""
        if not token:
            return None
        try:
            raw = urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            name, text, ident = raw.split("|")
            pk = int(ident)
            # Out of bigint range would be a database error, not an empty page.
            if name != sort.name or not 0 < pk < 2**63:
                return None
            if text == "-":
                if not sort.nullable:
                    return None
                return cls(name, None, pk)
            if sort.is_time:
                value: datetime | int = datetime.fromisoformat(text)
                if timezone.is_naive(value):
                    return None
            else:
                value = int(text)
                if not -(2**31) < value < 2**31:
                    return None
            return cls(name, value, pk)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None


def _fetch(
    queryset: QuerySet[Ticket], sort: Sort, order: list, limit: int, split: tuple[str, ...]
) -> list[Ticket]:
    """The first `limit` rows of `queryset` in `order`.

    With `split` (the statuses the rows may have), one ordered query per status, merged: each
    is a range scan of that status's (status, key, id) index reading at most `limit` rows, where
    one query over every status would have no index in its order and sort the whole table. The
    rows themselves are then read by id.
    """
    if not split:
        return list(queryset.order_by(*order)[:limit])
    parts = [
        queryset.filter(status=status).order_by(*order).values_list("pk", sort.key)[:limit]
        for status in split
    ]
    merged = parts[0].union(*parts[1:], all=True).order_by(*order)[:limit]
    ids = [pk for pk, _key in merged]
    found = {ticket.pk: ticket for ticket in queryset.filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def _rows_after(
    queryset: QuerySet[Ticket],
    sort: Sort,
    cursor: Cursor | None,
    limit: int,
    split: tuple[str, ...] = (),
) -> list[Ticket]:
    """Up to `limit` tickets just after `cursor` in the sort's order (from the start without one)."""
    ordered = sort.annotate(queryset)
    forwards = sort.order()
    later = "<" if sort.descending else ">"
    if cursor is None:
        return _fetch(ordered, sort, forwards, limit, split)
    if cursor.value is None:
        # Among the NULLs, ordered by id alone; the key is named in ORDER BY so the index's order
        # serves it.
        same = _RowComparison([F("id")], later, [Value(cursor.id)])
        nulls = ordered.filter(**{f"{sort.key}__isnull": True}).filter(same)
        return _fetch(nulls, sort, forwards, limit, split)
    past = _RowComparison([F(sort.key), F("id")], later, [Value(cursor.value), Value(cursor.id)])
    rows = _fetch(ordered.filter(past), sort, forwards, limit, split)
    if sort.nullable and len(rows) < limit:
        nulls = ordered.filter(**{f"{sort.key}__isnull": True})
        rows += _fetch(nulls, sort, forwards, limit - len(rows), split)
    return rows


def _rows_before(
    queryset: QuerySet[Ticket], sort: Sort, cursor: Cursor, limit: int, split: tuple[str, ...] = ()
) -> list[Ticket]:
    """Up to `limit` tickets just before `cursor`, nearest first (the sort's order reversed)."""
    ordered = sort.annotate(queryset)
    backwards = sort.order(reverse=True)
    earlier = ">" if sort.descending else "<"
    if cursor.value is None:
        same = _RowComparison([F("id")], earlier, [Value(cursor.id)])
        nulls = ordered.filter(**{f"{sort.key}__isnull": True}).filter(same)
        rows = _fetch(nulls, sort, backwards, limit, split)
        if len(rows) < limit:
            keyed = ordered.filter(**{f"{sort.key}__isnull": False})
            rows += _fetch(keyed, sort, backwards, limit - len(rows), split)
        return rows
    before = _RowComparison(
        [F(sort.key), F("id")], earlier, [Value(cursor.value), Value(cursor.id)]
    )
    return _fetch(ordered.filter(before), sort, backwards, limit, split)


@dataclass(frozen=True)
class KeysetPage:
    items: list[Ticket]
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


def keyset_page(
    queryset: QuerySet[Ticket],
    sort: Sort,
    *,
    after: Cursor | None,
    before: Cursor | None,
    size: int,
    split: tuple[str, ...] = (),
) -> KeysetPage:
    """One page of `queryset` in `sort`'s order: just after `after` (towards the end), just
    before `before` (back towards the start), or the first page. `split`: see `_fetch`."""
    if before is not None:
        rows = _rows_before(queryset, sort, before, size + 1, split)
        has_previous = len(rows) > size
        items = rows[:size][::-1]
        has_next = bool(items) and bool(
            _rows_after(queryset, sort, Cursor.of(items[-1], sort), 1, split)
        )
    else:
        rows = _rows_after(queryset, sort, after, size + 1, split)
        has_next = len(rows) > size
        items = rows[:size]
        has_previous = (
            after is not None
            and bool(items)
            and bool(_rows_before(queryset, sort, Cursor.of(items[0], sort), 1, split))
        )
    return KeysetPage(
        items=items,
        next_cursor=Cursor.of(items[-1], sort) if has_next else None,
        previous_cursor=Cursor.of(items[0], sort) if has_previous else None,
    )


def split_statuses(params: ViewParams) -> tuple[str, ...]:
    """The statuses to read one by one (see `_fetch`) for a view that spans every status, in a
    sort that has no index over all tickets; () when one index already gives the order (or, for
    Spam, when its few rows come from their own small index and are sorted)."""
    if params.view == "all" and not params.status and params.sort != "updated":
        return tuple(Ticket.Status.values)
    return ()


def sort_of(params: ViewParams) -> Sort:
    sort = SORTS[params.sort]
    return replace(sort, lead=("assignee",)) if params.view == "unassigned" else sort


def page(
    user, params: ViewParams, *, after: str | None = None, before: str | None = None, size: int
) -> KeysetPage:
    """One page of a view for `user`, with what its rows show (customer, store, assignee, team,
    tags) read in two queries whatever the page size."""
    sort = sort_of(params)
    tickets = view_tickets(user, params).select_related("customer", "store", "assignee", "team")
    after_cursor = Cursor.decode(after, sort)
    before_cursor = None if after_cursor else Cursor.decode(before, sort)
    result = keyset_page(
        tickets,
        sort,
        after=after_cursor,
        before=before_cursor,
        size=size,
        split=split_statuses(params),
    )
    _attach_tags(result.items)
    return result


def _attach_tags(tickets: list[Ticket]) -> None:
    """Each ticket's tags as `ticket.tag_list`, in one query for the whole page."""
    if not tickets:
        return
    by_ticket: dict[int, list] = {t.pk: [] for t in tickets}
    links = (
        Ticket.tags.through.objects.filter(ticket_id__in=by_ticket)
        .select_related("tag")
        .order_by("tag__name")
    )
    for link in links:
        by_ticket[link.ticket_id].append(link.tag)
    for ticket in tickets:
        ticket.tag_list = by_ticket[ticket.pk]


# --- Neighbours (the ticket page's next / previous links) ----------------------------------


def neighbours(
    user, view_params: ViewParams | Mapping | str | None, ticket: Ticket
) -> tuple[int | None, int | None]:
    """The ids of the tickets just before and just after `ticket` in an inbox view (the one the
    agent opened it from): (previous_id, next_id), None at either end.

    The ticket's own position is taken from its current values, so it works even when the ticket
    has left the view since (solved, reassigned): its neighbours are where it would be.
    """
    params = (
        view_params if isinstance(view_params, ViewParams) else ViewParams.from_query(view_params)
    )
    sort = sort_of(params)
    tickets = view_tickets(user, params).only(
        "pk", *([] if sort.expression is not None else [sort.key])
    )
    position = Cursor.of(ticket, sort)
    split = split_statuses(params)
    previous = _rows_before(tickets, sort, position, 1, split)
    following = _rows_after(tickets, sort, position, 1, split)
    return (previous[0].pk if previous else None, following[0].pk if following else None)
