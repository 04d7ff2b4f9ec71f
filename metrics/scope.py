"""Who sees which figures: agents their own, managers the stores they manage, admins all.

A manager manages the stores of their profile and of the teams they lead or belong to; a manager
whose teams have no store (and no store on their profile) manages every store, one in no team and
no store none. Roles come from `tickets.roles`, store sets from `tickets.access` (the same
memberships that decide which tickets someone sees).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from tickets.access import managed_store_ids
from tickets.models import AgentProfile, Store
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
        return Scope(role, managed_store_ids(user), None)
    return Scope(role, None, user.pk)
