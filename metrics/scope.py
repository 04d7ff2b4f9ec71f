"""Who sees which figures: agents their own, managers the stores they manage, admins all.

A manager manages the stores of the teams they lead or belong to; a team without a store serves
every store, so its managers see every store. Roles come from `tickets.roles`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext as _

from tickets.models import AgentProfile, Store, Team
from tickets.roles import role_of


@dataclass(frozen=True)
class Scope:
    """What a user may see: `store_ids` None means every store; `agent_id` set means only that
    agent's figures."""

    role: str
    store_ids: frozenset[int] | None
    agent_id: int | None

    @property
    def is_manager(self) -> bool:
        return self.role in (AgentProfile.Role.MANAGER, AgentProfile.Role.ADMIN)

    def stores(self):
        stores = Store.objects.all()
        return stores if self.store_ids is None else stores.filter(pk__in=self.store_ids)


def scope_for(user) -> Scope:
    """The user's scope; PermissionDenied for anyone who is not a helpdesk user."""
    role = role_of(user)
    if role is None:
        raise PermissionDenied(_("This account is not a helpdesk user."))
    if role == AgentProfile.Role.ADMIN:
        return Scope(role, None, None)
    if role == AgentProfile.Role.MANAGER:
        teams = Team.objects.filter(Q(lead=user) | Q(members__user=user)).distinct()
        store_ids = set(teams.values_list("store_id", flat=True))
        if None in store_ids:
            return Scope(role, None, None)
        return Scope(role, frozenset(store_ids), None)
    return Scope(role, None, user.pk)
