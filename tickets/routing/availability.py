"""An agent going online, away or offline.

Away and offline agents get no new tickets. Going offline, an agent keeps their open tickets or
gives them back to the team queue, as each ticket's team is configured (`Team.offline_policy`);
returned tickets are then handed to the team's other online agents if the team assigns
automatically. Coming online, the agent's teams' waiting tickets are handed out.
"""

from __future__ import annotations

import logging
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from tickets import actions
from tickets.models import AgentProfile, Team, Ticket
from tickets.notify import notify

logger = logging.getLogger(__name__)

RETURNED_NOTIFICATION = "tickets_returned"


def set_availability(
    *, agent: AbstractBaseUser, availability: str, actor: AbstractBaseUser | None = None
) -> list[int]:
    """Set the agent's availability; returns the ids of the tickets given back to their teams.

    The profile row is locked first, so an assignment running at the same moment either sees the
    agent offline or has finished, and then its ticket is among those returned (see
    `tickets.routing.assignment`). Handing the returned tickets to others happens after the
    commit, each in its own short transaction.
    """
    if availability not in AgentProfile.Availability.values:
        raise ValueError(f"unknown availability {availability!r}")
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().get(user=agent)
        if profile.availability == availability:
            return []
        profile.availability = availability
        profile.availability_changed_at = timezone.now()
        profile.save(update_fields=["availability", "availability_changed_at"])
        returned: list[int] = []
        team_ids: set[int] = set()
        if availability == AgentProfile.Availability.OFFLINE:
            to_return = (
                Ticket.objects.filter(
                    assignee=agent, status__in=Ticket.OPEN_STATUSES, team__offline_policy=Team.OfflinePolicy.RETURN
                )
                .order_by("pk")
                .values_list("pk", "team_id", "team__auto_assign")
            )
            per_team: dict[int, int] = {}
            for ticket_id, team_id, team_assigns in list(to_return):
                # Still theirs and open, under the ticket's lock: a colleague may have taken it since.
                ticket = Ticket.objects.select_for_update().filter(pk=ticket_id, assignee=agent).first()
                if ticket is None or not ticket.is_open:
                    continue
                actions.assign_ticket(ticket=ticket, assignee=None, actor=actor)
                returned.append(ticket_id)
                per_team[team_id] = per_team.get(team_id, 0) + 1
                if team_assigns:
                    team_ids.add(team_id)
            if returned:
                logger.info("agent %s went offline: %s tickets returned to their teams", agent.pk, len(returned))
                _tell_team_leads(agent, per_team)
        elif availability == AgentProfile.Availability.ONLINE:
            team_ids.update(profile.teams.filter(auto_assign=True).values_list("pk", flat=True))
        if team_ids:
            transaction.on_commit(partial(_hand_out, sorted(team_ids)))
    return returned


def _hand_out(team_ids: list[int]) -> None:
    from tickets.routing.assignment import assign_waiting_tickets

    for team_id in team_ids:
        try:
            assign_waiting_tickets(team=Team(pk=team_id))
        except Exception:
            logger.exception("team %s: handing out waiting tickets failed; beat tries again", team_id)


def _tell_team_leads(agent: AbstractBaseUser, returned_per_team: dict[int, int]) -> None:
    """In-app note to each team's lead: whose tickets came back to the queue, and how many."""
    name = agent.get_full_name() or agent.get_username()
    for team in Team.objects.filter(pk__in=returned_per_team, lead__isnull=False).select_related("lead"):
        count = returned_per_team[team.pk]
        notify(
            [team.lead], kind=RETURNED_NOTIFICATION, email=False,
            text=partial(_returned_text, name, count, team.name),
        )


def _returned_text(agent_name: str, count: int, team_name: str, user: AbstractBaseUser) -> str:
    return ngettext(
        "%(agent)s went offline: %(count)s ticket went back to the %(team)s queue.",
        "%(agent)s went offline: %(count)s tickets went back to the %(team)s queue.",
        count,
    ) % {"agent": agent_name, "count": count, "team": team_name}
