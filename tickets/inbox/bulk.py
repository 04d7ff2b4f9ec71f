"""Bulk actions on tickets selected in the inbox: assign, change status, tag, merge, mark as spam.

A plain function (no request), so the inbox page and the API call the same thing. Each ticket is
checked on its own (`tickets.access`) and changed by the same business action as from the ticket
page (tickets.actions), each in its own transaction and with its own timeline event; a ticket that
is refused or fails leaves the others done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from tickets import actions
from tickets.access import can_view_ticket
from tickets.models import Tag, Team, Ticket
from tickets.roles import role_of

ACTIONS = ("assign", "status", "tag", "merge", "spam")
# More than a page of rows at once is not something an agent selects by hand.
MAX_TICKETS = 200


class BulkError(ValueError):
    """The request as a whole cannot be done (unknown action, missing choice); translated."""


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(
        default_factory=list
    )  # (ticket id, reason for the agent)


def _tickets(user, ticket_ids: Iterable[int], result: BulkResult) -> list[Ticket]:
    wanted = list(dict.fromkeys(int(pk) for pk in ticket_ids))
    if not wanted:
        raise BulkError(_("Select at least one ticket."))
    if len(wanted) > MAX_TICKETS:
        raise BulkError(_("Select at most %(count)s tickets at once.") % {"count": MAX_TICKETS})
    found = {t.pk: t for t in Ticket.objects.filter(pk__in=wanted)}
    tickets = []
    for pk in wanted:
        ticket = found.get(pk)
        # A ticket the agent may not see is refused exactly like one that does not exist.
        if ticket is None or not can_view_ticket(user, ticket):
            result.refused.append((pk, _("not found or not yours to change")))
        else:
            tickets.append(ticket)
    return tickets


def _assignee(assignee_id: int | None):
    if assignee_id is None:
        return None
    user = (
        get_user_model()
        .objects.filter(pk=assignee_id, is_active=True)
        .select_related("agent_profile")
        .first()
    )
    if user is None or role_of(user) is None:
        raise BulkError(_("Choose an agent to assign the tickets to."))
    return user


def apply_bulk_action(
    user,
    ticket_ids: Iterable[int],
    action: str,
    *,
    assignee_id: int | None = None,
    unassign: bool = False,
    team_id: int | None = None,
    status: str = "",
    tag_id: int | None = None,
    merge_target_id: int | None = None,
) -> BulkResult:
    """Apply `action` to each ticket of `ticket_ids` that `user` may change, as `user`.

    - assign: to the agent `assignee_id` (or to nobody with `unassign`) and/or the team `team_id`;
    - status: to `status`;
    - tag: add the tag `tag_id`, keeping the tickets' other tags;
    - merge: every selected ticket into `merge_target_id`, which must be one of them (default: the
      oldest selected ticket);
    - spam: mark as spam (closed, shown only in the Spam view).

    Raises BulkError when the request itself is wrong; per-ticket refusals are in the result.
    """
    if role_of(user) is None:
        raise BulkError(_("Your account has no helpdesk role."))
    if action not in ACTIONS:
        raise BulkError(_("Unknown bulk action."))
    result = BulkResult()
    # Check the request before reading any ticket, so a wrong choice changes nothing.
    if action == "assign":
        assignee = None if unassign else _assignee(assignee_id)
        team = Team.objects.filter(pk=team_id).first() if team_id else None
        if team_id and team is None:
            raise BulkError(_("Choose a team that exists."))
        if assignee is None and team is None and not unassign:
            raise BulkError(_("Choose an agent or a team to assign the tickets to."))
    elif action == "status" and status not in Ticket.Status.values:
        raise BulkError(_("Choose a status."))
    elif action == "tag":
        tag = Tag.objects.filter(pk=tag_id).first() if tag_id else None
        if tag is None:
            raise BulkError(_("Choose a tag."))

    tickets = _tickets(user, ticket_ids, result)
    if action == "merge":
        _merge(user, tickets, merge_target_id, result)
        return result
    for ticket in tickets:
        before = ticket.updated_at
        if action == "assign":
            if assignee is not None or unassign:
                ticket = actions.assign_ticket(
                    ticket=ticket, assignee=assignee, team=team, actor=user
                )
            else:
                ticket = actions.assign_ticket(
                    ticket=ticket, assignee=ticket.assignee, team=team, actor=user
                )
        elif action == "status":
            ticket = actions.change_status(ticket=ticket, status=status, actor=user)
        elif action == "tag":
            ticket = actions.add_tags(ticket=ticket, tags=[tag], actor=user)
        elif action == "spam":
            ticket = actions.mark_spam(ticket=ticket, actor=user)
        (result.done if ticket.updated_at != before else result.unchanged).append(ticket.pk)
    return result


def _merge(user, tickets: list[Ticket], target_id: int | None, result: BulkResult) -> None:
    if not tickets:
        return
    by_id = {t.pk: t for t in tickets}
    if target_id is None:
        target = min(tickets, key=lambda t: (t.created_at, t.pk))
    elif target_id in by_id:
        target = by_id[target_id]
    else:
        raise BulkError(_("Merge into one of the selected tickets."))
    if len(tickets) < 2:
        raise BulkError(_("Select at least two tickets to merge."))
    for source in tickets:
        if source.pk == target.pk:
            continue
        try:
            actions.merge_tickets(source=source, target=target, actor=user)
        except actions.MergeError as error:
            result.refused.append((source.pk, str(error)))
        else:
            result.done.append(source.pk)
