"""Automatic assignment: a team's new tickets go to its online agents in turn (round-robin), each
within their capacity (open tickets), and only to agents who serve the ticket's store, channel and
language.

Fair under concurrency. `auto_assign` holds, in this order and until it commits:
1. the ticket's row (nobody else assigns it meanwhile);
2. the team's `TeamRotation` row: the team's tickets are handed out one after the other, each seeing
   where the previous one went;
3. the candidate agents' `AgentProfile` rows, locked in ascending id order. An agent of two teams
   is therefore never given two tickets at once past their capacity, an agent going offline is
   either seen offline or has the new ticket in hand before their tickets are returned, and the
   fixed order means no two assignments can deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import actions
from tickets.models import AgentProfile, Team, TeamRotation, Ticket
from tickets.notify import notify

logger = logging.getLogger(__name__)

ASSIGNED_NOTIFICATION = "ticket_assigned"


def _assigned_text(ticket: Ticket, user: AbstractBaseUser) -> str:
    return _("Ticket #%(ticket)s was assigned to you: %(subject)s") % {"ticket": ticket.pk, "subject": ticket.subject}


def language_code(value: str) -> str:
    """"es-ES", "ES", "es_es" -> "es": agents are matched on the primary language subtag."""
    return (value or "").strip().lower().replace("_", "-").split("-")[0]


def serves(profile: AgentProfile, ticket: Ticket, store_ids: Iterable[int]) -> bool:
    """Does this agent take tickets of this store, channel and language? Empty skills mean all.
    `store_ids` are the profile's stores (passed in, so a batch costs one query)."""
    store_ids = set(store_ids)
    if store_ids and ticket.store_id not in store_ids:
        return False
    if profile.channels and ticket.channel not in profile.channels:
        return False
    languages = {language_code(code) for code in profile.languages or () if code.strip()}
    if languages and ticket.language and language_code(ticket.language) not in languages:
        return False
    return True


def open_ticket_counts(user_ids: Sequence[int]) -> dict[int, int]:
    """How many open tickets each of these users holds (one query)."""
    if not user_ids:
        return {}
    rows = (
        Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES, assignee_id__in=user_ids)
        .values("assignee_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["assignee_id"]: row["count"] for row in rows}


def has_room(profile: AgentProfile, load: int) -> bool:
    return profile.capacity == 0 or load < profile.capacity


def _stores_by_profile(profile_ids: Sequence[int]) -> dict[int, list[int]]:
    through = AgentProfile.stores.through
    stores: dict[int, list[int]] = {pk: [] for pk in profile_ids}
    for profile_id, store_id in through.objects.filter(agentprofile_id__in=profile_ids).values_list(
        "agentprofile_id", "store_id"
    ):
        stores[profile_id].append(store_id)
    return stores


def _rotation(team_id: int) -> TeamRotation:
    """The team's rotation row, locked; created on the team's first assignment."""
    rotation = TeamRotation.objects.select_for_update().filter(team_id=team_id).first()
    if rotation is None:
        TeamRotation.objects.get_or_create(team_id=team_id)
        rotation = TeamRotation.objects.select_for_update().get(team_id=team_id)
    return rotation


def next_agent(
    candidates: Sequence[AgentProfile], loads: dict[int, int], last_user_id: int | None
) -> AgentProfile | None:
    """The first candidate after `last_user_id` in user-id order (wrapping round) who has room."""
    ordered = sorted(candidates, key=lambda profile: profile.user_id)
    if last_user_id is not None:
        after = [profile for profile in ordered if profile.user_id > last_user_id]
        ordered = after + [profile for profile in ordered if profile.user_id <= last_user_id]
    for profile in ordered:
        if has_room(profile, loads.get(profile.user_id, 0)):
            return profile
    return None


def auto_assign(ticket: Ticket, *, actor: AbstractBaseUser | None = None) -> AbstractBaseUser | None:
    """Give an open, unassigned ticket of a team to the team's next online agent with room.

    Returns the agent, or None when the ticket has no team, is closed or already assigned, or no
    agent is online, serves it and has room (it then waits in the team's queue: see
    `assign_waiting_tickets`). Opens its own transaction; see the module docstring for the locks.
    """
    agent, _team_has_room = _auto_assign(ticket, actor=actor)
    return agent


def _auto_assign(ticket: Ticket, *, actor: AbstractBaseUser | None) -> tuple[AbstractBaseUser | None, bool]:
    """(the agent given the ticket or None, whether any online agent of the team still has room)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        if ticket is None or ticket.team_id is None or ticket.assignee_id is not None or not ticket.is_open:
            return None, True
        rotation = _rotation(ticket.team_id)
        profiles = list(
            AgentProfile.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(teams=ticket.team_id, availability=AgentProfile.Availability.ONLINE, user__is_active=True)
            .order_by("pk")
        )
        loads = open_ticket_counts([profile.user_id for profile in profiles])
        stores = _stores_by_profile([profile.pk for profile in profiles])
        candidates = [profile for profile in profiles if serves(profile, ticket, stores[profile.pk])]
        chosen = next_agent(candidates, loads, rotation.last_agent_id)
        if chosen is None:
            return None, any(has_room(profile, loads.get(profile.user_id, 0)) for profile in profiles)
        agent = chosen.user
        actions.assign_ticket(ticket=ticket, assignee=agent, actor=actor)
        # In the app only: an email per assigned ticket would bury the agent's inbox.
        notify([agent], ticket=ticket, kind=ASSIGNED_NOTIFICATION, text=partial(_assigned_text, ticket), email=False)
        rotation.last_agent_id = agent.pk
        rotation.last_assigned_at = timezone.now()
        rotation.save(update_fields=["last_agent", "last_assigned_at"])
    logger.info("ticket %s assigned to user %s by round-robin in team %s", ticket.pk, agent.pk, ticket.team_id)
    return agent, True


def assign_waiting_tickets(*, team: Team | None = None, limit: int = 200) -> int:
    """Hand out the open, unassigned tickets waiting in auto-assigning teams, oldest first, until
    nobody online has room. Run by beat every minute and when an agent comes online; it also picks
    up a ticket whose assignment after ingest was lost (a process died between commit and
    assignment). Returns how many were assigned."""
    teams = Team.objects.filter(auto_assign=True)
    if team is not None:
        teams = teams.filter(pk=team.pk)
    assigned = 0
    for team_id in list(teams.values_list("pk", flat=True)):
        waiting = list(
            Ticket.objects.filter(team_id=team_id, assignee__isnull=True, status__in=Ticket.OPEN_STATUSES)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        for ticket_id in waiting:
            agent, team_has_room = _auto_assign(Ticket(pk=ticket_id), actor=None)
            if agent is not None:
                assigned += 1
            elif not team_has_room:
                break  # everyone online is full (or nobody is online): the rest wait
    return assigned
