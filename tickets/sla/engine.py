"""The SLA clocks of a ticket.

Each clock is a `ResponseFact` row: a first response (from the first customer message), a next
response (from the oldest customer message still unanswered after the first response) or a
resolution (from a customer message on a ticket without a running resolution clock, e.g. new or
reopened). `update_clocks` is called by the ticket actions inside their transaction at every event
and keeps the clocks, the ticket's deadline fields and `sla_next_check_at` in step:

- a customer message starts the response clock (and the resolution clock) if none is running;
- an agent reply stops the running response clock; an internal note or an automatic message
  (auto-acknowledgement, `is_auto_reply`, author bot/system) does not;
- solving or closing the ticket stops every clock;
- while the ticket is pending on the customer or on hold (as the policy says) the clocks are
  paused: their deadlines are cleared and the paused time is not counted; they resume when the
  ticket leaves that status (a customer reply on a pending ticket reopens it);
- when the matching policy changes (priority, tags...) running clocks take the new targets.

`sla_next_check_at` is the earliest warning or deadline not yet recorded; the sweep
(`tickets.sla.sweep`) records them.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tickets.models import Message, ResponseFact, SLAPolicy, Ticket
from tickets.sla import cache
from tickets.sla.calendar import add_business_time, business_seconds_between

Kind = ResponseFact.Kind
RESPONSE_KINDS = (Kind.FIRST_RESPONSE, Kind.NEXT_RESPONSE)
DUE_FIELDS = {
    Kind.FIRST_RESPONSE: "first_response_due_at",
    Kind.NEXT_RESPONSE: "next_response_due_at",
    Kind.RESOLUTION: "resolution_due_at",
}
TICKET_SLA_FIELDS = ("first_response_due_at", "next_response_due_at", "resolution_due_at", "sla_next_check_at")
FACT_STATE_FIELDS = (
    "completed_at", "due_at", "business_seconds", "calendar_seconds", "breached", "policy", "target_seconds",
    "warn_at", "paused_at", "paused_seconds", "team", "agent",
)


# --- Policies --------------------------------------------------------------------------------


def _matches(rule: cache.CompiledPolicy, ticket: Ticket, tag_ids, customer) -> bool:
    if rule.store_ids and ticket.store_id not in rule.store_ids:
        return False
    if rule.channels and (ticket.channel or "").lower() not in rule.channels:
        return False
    if rule.marketplaces and (ticket.marketplace or "").lower() not in rule.marketplaces:
        return False
    if rule.priorities and ticket.priority not in rule.priorities:
        return False
    if rule.tag_ids and not (rule.tag_ids & tag_ids()):
        return False
    if rule.needs_customer:
        person = customer()
        if rule.customer_countries and (person.country or "").lower() not in rule.customer_countries:
            return False
        if rule.customer_languages and (person.language or ticket.language or "").lower() not in rule.customer_languages:
            return False
        if rule.customer_email_domains:
            domain = (person.email or "").rpartition("@")[2].lower()
            if domain not in rule.customer_email_domains:
                return False
    return True


def policy_for(ticket: Ticket) -> SLAPolicy | None:
    """The first active policy (by position) whose conditions all hold for the ticket, or None.

    Costs no query unless a policy has tag conditions (one query for the ticket's tags) or
    customer conditions (the customer, unless already loaded)."""
    snapshot = cache.current()
    tags_cache: list[frozenset[int]] = []

    def tag_ids() -> frozenset[int]:
        if not tags_cache:
            prefetched = getattr(ticket, "_prefetched_objects_cache", {}).get("tags")
            if prefetched is not None:
                tags_cache.append(frozenset(t.pk for t in prefetched))
            else:
                tags_cache.append(frozenset(ticket.tags.values_list("pk", flat=True)) if ticket.pk else frozenset())
        return tags_cache[0]

    def customer():
        return ticket.customer

    for rule in snapshot.policies:
        if _matches(rule, ticket, tag_ids, customer):
            return rule.policy
    return None


def calendar_of(policy: SLAPolicy | None):
    """The calendar a policy counts in: None (24 × 7) for calendar hours or no policy."""
    if policy is None or policy.hours == SLAPolicy.Hours.CALENDAR:
        return None
    return policy.calendar


def target_seconds(policy: SLAPolicy | None, kind: str) -> int | None:
    if policy is None:
        return None
    minutes = {
        Kind.FIRST_RESPONSE: policy.first_response_minutes,
        Kind.NEXT_RESPONSE: policy.next_response_minutes,
        Kind.RESOLUTION: policy.resolution_minutes,
    }[kind]
    return None if minutes is None else minutes * 60


def expected_first_response_at(ticket: Ticket) -> dt.datetime | None:
    """When the customer can expect the first answer under the ticket's policy: the running
    first-response deadline, or one computed from now; None without a policy or target."""
    if ticket.first_response_due_at is not None:
        return ticket.first_response_due_at
    policy = policy_for(ticket)
    target = target_seconds(policy, Kind.FIRST_RESPONSE)
    if target is None:
        return None
    return add_business_time(calendar_of(policy), timezone.now(), target)


def policy_by_id(policy_id: int | None) -> SLAPolicy | None:
    if policy_id is None:
        return None
    return cache.current().policies_by_id.get(policy_id)


# --- Clocks ----------------------------------------------------------------------------------


def is_agent_response(message: Message) -> bool:
    """A reply written by a person to the customer: not a note, not automatic."""
    return (
        message.direction == Message.Direction.OUTBOUND
        and not message.is_auto_reply
        and message.author_type == Message.AuthorType.AGENT
    )


def is_customer_message(message: Message) -> bool:
    return (
        message.direction == Message.Direction.INBOUND
        and not message.is_auto_reply
        and message.author_type == Message.AuthorType.CUSTOMER
    )


def _pauses(policy: SLAPolicy | None, status: str) -> bool:
    if policy is None:
        return False
    return (status == Ticket.Status.PENDING and policy.pause_when_pending) or (
        status == Ticket.Status.ON_HOLD and policy.pause_when_on_hold
    )


def _schedule_deadline(fact: ResponseFact, policy: SLAPolicy | None) -> None:
    """Set the target, deadline and warning time of a running (not paused) clock from `policy`."""
    fact.policy = policy
    fact.target_seconds = target_seconds(policy, fact.kind)
    if fact.target_seconds is None or fact.paused_at is not None:
        fact.due_at = None
        fact.warn_at = None
        return
    fact.due_at = add_business_time(calendar_of(policy), fact.started_at, fact.target_seconds + fact.paused_seconds)
    lead = dt.timedelta(minutes=policy.warning_minutes) if policy.warning_minutes else None
    fact.warn_at = max(fact.due_at - lead, fact.started_at) if lead else None


def _resume(fact: ResponseFact, policy: SLAPolicy | None, at: dt.datetime) -> None:
    fact.paused_seconds += business_seconds_between(calendar_of(policy), fact.paused_at, max(at, fact.paused_at))
    fact.paused_at = None


def _complete(fact: ResponseFact, policy: SLAPolicy | None, at: dt.datetime, agent_id, team_id) -> None:
    if fact.paused_at is not None:
        _resume(fact, policy, at)
    # A policy that stopped matching (or was switched off) still judges the clock it started.
    _schedule_deadline(fact, policy if policy is not None else policy_by_id(fact.policy_id))
    at = max(at, fact.started_at)
    fact.completed_at = at
    fact.agent_id = agent_id
    fact.team_id = team_id
    counted = business_seconds_between(calendar_of(fact.policy), fact.started_at, at) - fact.paused_seconds
    fact.business_seconds = max(counted, 0)
    fact.calendar_seconds = int((at - fact.started_at).total_seconds())
    if fact.due_at is None:
        fact.breached = True if fact.breached_at else None
    else:
        fact.breached = fact.breached_at is not None or at > fact.due_at
    fact.warn_at = None


def _snapshot_of(fact: ResponseFact) -> tuple:
    return tuple(getattr(fact, name if name not in ("policy", "team", "agent") else f"{name}_id") for name in FACT_STATE_FIELDS)


def next_check_at(facts) -> dt.datetime | None:
    """The earliest warning or deadline of running clocks not recorded yet."""
    moments = []
    for fact in facts:
        if fact.completed_at is not None or fact.due_at is None or fact.breached_at is not None:
            continue
        moments.append(fact.due_at)
        if fact.warn_at is not None and fact.warned_at is None:
            moments.append(fact.warn_at)
    return min(moments) if moments else None


def update_clocks(
    ticket: Ticket, *, at: dt.datetime | None = None, message: Message | None = None,
    agent=None,
) -> None:
    """Bring the ticket's SLA clocks up to date after an event; call inside the action's
    transaction, with the ticket row locked and saved. `message`: the message just added, if
    any; `agent`: who solved or closed it, if that is the event.

    Costs one query for the running clocks, plus writes only for what changed."""
    at = at or timezone.now()
    facts = list(ResponseFact.objects.filter(ticket_id=ticket.pk, completed_at__isnull=True)) if ticket.pk else []
    new, changed, ticket_changed = _advance(ticket, facts, at=at, message=message, agent=agent)
    if new:
        ResponseFact.objects.bulk_create(new)
    for fact in changed:
        fact.save(update_fields=FACT_STATE_FIELDS)
    if ticket_changed:
        Ticket.objects.filter(pk=ticket.pk).update(**{field: getattr(ticket, field) for field in TICKET_SLA_FIELDS})


def update_clocks_for_messages(updates: list[tuple[Ticket, Message]]) -> None:
    """`update_clocks` for many new messages at once, in the given (arrival) order: the batched
    ingest path. The running clocks of every ticket are read in one query and the changes written
    in one statement per table, with the same outcome as one call per message."""
    if not updates:
        return
    from helpdesk.bulk import update_rows

    running = running_clocks({ticket.pk for ticket, _ in updates})
    created: list[ResponseFact] = []
    changed: dict[int, ResponseFact] = {}
    tickets: dict[int, Ticket] = {}
    for ticket, message in updates:
        facts = running.get(ticket.pk, [])
        new, touched, ticket_changed = _advance(ticket, facts, at=message.created_at, message=message, agent=None)
        created.extend(new)
        changed.update((fact.pk, fact) for fact in touched if fact.pk is not None)
        running[ticket.pk] = [fact for fact in (*facts, *new) if fact.completed_at is None]
        if ticket_changed:
            tickets[ticket.pk] = ticket
    # Clocks started in this batch are written once, in their final state.
    ResponseFact.objects.bulk_create(created)
    update_rows(list(changed.values()), FACT_STATE_FIELDS)
    update_rows(list(tickets.values()), TICKET_SLA_FIELDS)


def _advance(
    ticket: Ticket, facts: list[ResponseFact], *, at: dt.datetime, message: Message | None, agent
) -> tuple[list[ResponseFact], list[ResponseFact], bool]:
    """The clock changes of one event, in memory: returns the clocks started, the running clocks
    (`facts`) that changed, and whether the ticket's deadline fields changed (set on `ticket`)."""
    policy = policy_for(ticket)
    before = {id(fact): _snapshot_of(fact) for fact in facts}
    running = {fact.kind: fact for fact in facts}
    is_open = ticket.status in Ticket.OPEN_STATUSES
    new: list[ResponseFact] = []

    def start(kind: str, started_at: dt.datetime) -> ResponseFact:
        fact = ResponseFact(
            ticket_id=ticket.pk, kind=kind, store_id=ticket.store_id, channel=ticket.channel, team_id=ticket.team_id,
            started_at=started_at,
        )
        new.append(fact)
        running[kind] = fact
        return fact

    response = running.get(Kind.FIRST_RESPONSE) or running.get(Kind.NEXT_RESPONSE)
    if message is not None and is_open:
        if is_customer_message(message):
            if response is None:
                kind = Kind.FIRST_RESPONSE if ticket.first_response_at is None else Kind.NEXT_RESPONSE
                response = start(kind, message.created_at)
            if Kind.RESOLUTION not in running:
                start(Kind.RESOLUTION, message.created_at)
        elif is_agent_response(message) and response is not None:
            _complete(response, policy, at, message.author_user_id, ticket.team_id)

    if not is_open:
        solver = getattr(agent, "pk", None) or ticket.assignee_id
        for fact in running.values():
            if fact.completed_at is None:
                _complete(fact, policy, at, solver, ticket.team_id)
    else:
        paused = _pauses(policy, ticket.status)
        for fact in running.values():
            if fact.completed_at is not None:
                continue
            if paused and fact.paused_at is None:
                fact.paused_at = max(at, fact.started_at)
            elif not paused and fact.paused_at is not None:
                _resume(fact, policy, at)
            _schedule_deadline(fact, policy)

    changed = [fact for fact in facts if _snapshot_of(fact) != before[id(fact)]]
    still_running = [fact for fact in running.values() if fact.completed_at is None]
    values = {field: None for field in TICKET_SLA_FIELDS}
    for fact in still_running:
        values[DUE_FIELDS[fact.kind]] = fact.due_at
    values["sla_next_check_at"] = next_check_at(still_running)
    if not any(getattr(ticket, field) != value for field, value in values.items()):
        return new, changed, False
    for field, value in values.items():
        setattr(ticket, field, value)
    return new, changed, True


def running_clocks(ticket_ids) -> dict[int, list[ResponseFact]]:
    """The running clocks of many tickets, in one query."""
    result: dict[int, list[ResponseFact]] = {}
    for fact in ResponseFact.objects.filter(ticket_id__in=list(ticket_ids), completed_at__isnull=True):
        result.setdefault(fact.ticket_id, []).append(fact)
    return result


__all__ = [
    "calendar_of",
    "expected_first_response_at",
    "is_agent_response",
    "next_check_at",
    "policy_for",
    "running_clocks",
    "target_seconds",
    "update_clocks",
    "update_clocks_for_messages",
]
