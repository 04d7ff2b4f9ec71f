"""What happens once a warning or breach has been recorded: notifications and escalation.

Called by the sweep inside its batch transaction, only for events inserted by that sweep, so
everything here happens once per warning or breach.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import formats
from django.utils.translation import gettext as _

from tickets.events import (
    inbox_groups,
    publish_many_on_commit,
    ticket_changed_payload,
    ticket_group,
)
from tickets.models import ResponseFact, SLAPolicy, Team, Ticket
from tickets.sla import engine

logger = logging.getLogger(__name__)


def clock_label(kind: str) -> str:
    return {
        ResponseFact.Kind.FIRST_RESPONSE: _("first response"),
        ResponseFact.Kind.NEXT_RESPONSE: _("next response"),
        ResponseFact.Kind.RESOLUTION: _("resolution"),
    }.get(kind, kind)


def _local(moment: dt.datetime, user) -> str:
    profile = getattr(user, "agent_profile", None)
    try:
        zone = ZoneInfo(getattr(profile, "time_zone", "") or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return formats.date_format(moment.astimezone(zone), "DATETIME_FORMAT")


def notification_text(ticket: Ticket, clock_kind: str, what: str, due_at: dt.datetime):
    def text(user) -> str:
        values = {"clock": clock_label(clock_kind), "id": ticket.pk, "subject": ticket.subject, "due": _local(due_at, user)}
        if what == "warning":
            return _("SLA at risk: the %(clock)s of ticket #%(id)s “%(subject)s” is due at %(due)s.") % values
        return _("SLA breached: the %(clock)s of ticket #%(id)s “%(subject)s” was due at %(due)s.") % values

    return text


def recipients(assignee, lead, policy: SLAPolicy | None, what: str) -> list:
    """The assignee and the team lead (as the policy says; both without a policy), plus the
    policy's extra people on a breach."""
    people = []
    if policy is None or policy.notify_assignee:
        people.append(assignee)
    if policy is None or policy.notify_team_lead:
        people.append(lead)
    if what == "breach" and policy is not None:
        people.extend(extra_recipients(policy))
    return people


def extra_recipients(policy: SLAPolicy) -> list:
    """The policy's "also notify on breach" people (prefetched with the cached policies)."""
    cached = getattr(policy, "_extra_recipients", None)
    if cached is None:
        cached = policy._extra_recipients = list(policy.notify_users.all())
    return cached


def escalate(ticket: Ticket, policy: SLAPolicy) -> None:
    """Apply the policy's escalation to a breached ticket, through the ticket actions (each
    writes its own timeline event)."""
    from tickets import actions

    if policy.escalate_priority and ticket.priority < policy.escalate_priority:
        ticket = actions.set_priority(ticket=ticket, priority=policy.escalate_priority)
    if policy.escalate_team_id and ticket.team_id != policy.escalate_team_id:
        ticket = actions.set_team(ticket=ticket, team=policy.escalate_team)
    if policy.escalate_assign_team_lead and ticket.team_id is not None:
        lead = ticket.team.lead
        if lead is not None and ticket.assignee_id != lead.pk:
            ticket = actions.assign_ticket(ticket=ticket, assignee=lead)
    if policy.escalate_tag_id:
        tags = list(ticket.tags.all())
        if all(tag.pk != policy.escalate_tag_id for tag in tags):
            actions.set_tags(ticket=ticket, tags=[*tags, policy.escalate_tag])


class TicketRow(NamedTuple):
    """What notifications and live events need of a ticket."""

    pk: int
    status: str
    subject: str
    channel: str
    assignee_id: int | None
    team_id: int | None
    updated_at: dt.datetime
    store_id: int


def has_escalation(policy: SLAPolicy) -> bool:
    return bool(policy.escalate_priority or policy.escalate_team_id or policy.escalate_assign_team_lead
                or policy.escalate_tag_id)


def act_on_recorded(recorded, now: dt.datetime) -> None:
    """`recorded`: (clock, "warning" | "breach") pairs whose timeline events were just inserted.

    Set-based where it can be: one query for the tickets, one insert for every notification, one
    after-commit task for the live events; only escalations go ticket by ticket."""
    from tickets.notify import notify_many

    per_ticket = defaultdict(list)
    for clock, what in recorded:
        per_ticket[clock.ticket_id].append((clock, what))
    # Plain rows, not model instances: a breach wave can touch a thousand tickets.
    with connection.cursor() as cursor:
        # One array parameter rather than a thousand: pk__in builds each one in Python.
        cursor.execute(
            f"SELECT id, status, subject, channel, assignee_id, team_id, updated_at, store_id FROM {Ticket._meta.db_table} "
            "WHERE id = ANY(%s)", [list(per_ticket)],
        )
        tickets = {row[0]: TicketRow(*row) for row in cursor.fetchall()}
    team_ids = {t.team_id for t in tickets.values() if t.team_id is not None}
    leads = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "lead_id")) if team_ids else {}
    user_ids = {t.assignee_id for t in tickets.values() if t.assignee_id} | {u for u in leads.values() if u}
    users = get_user_model().objects.select_related("agent_profile").in_bulk(list(user_ids)) if user_ids else {}
    live: list[tuple[list[str], dict]] = []
    inbox: dict[str, list[dict]] = {}  # one message per inbox group per batch, not one per ticket
    notifications = []
    escalations: list[tuple[TicketRow, SLAPolicy]] = []
    for ticket_id, items in per_ticket.items():
        ticket = tickets.get(ticket_id)
        if ticket is None:
            continue
        payload = {
            **ticket_changed_payload(ticket),
            "sla": [{"clock": clock.kind, "event": what, "due_at": clock.due_at.isoformat()} for clock, what in items],
        }
        live.append(([ticket_group(ticket.pk)], payload))
        for group in inbox_groups(ticket):
            inbox.setdefault(group, []).append({**payload["ticket"], "sla": payload["sla"]})
        for clock, what in items:
            policy = engine.policy_by_id(clock.policy_id)
            people = recipients(users.get(ticket.assignee_id), users.get(leads.get(ticket.team_id)), policy, what)
            if any(person is not None for person in people):
                kind = "sla_warning" if what == "warning" else "sla_breached"
                notifications.append((people, ticket, kind, notification_text(ticket, clock.kind, what, clock.due_at)))
            if what == "breach" and policy is not None and has_escalation(policy):
                escalations.append((ticket, policy))
    notify_many(notifications)
    for row, policy in escalations:
        try:
            # A savepoint each: one ticket's failure (a deleted team...) must not undo the batch.
            with transaction.atomic():
                escalate(Ticket.objects.get(pk=row.pk), policy)
        except Exception:
            logger.exception("SLA escalation of ticket %s failed", row.pk)
    live[:0] = [([group], {"type": "sla.changed", "tickets": items}) for group, items in inbox.items()]
    publish_many_on_commit(live)
