"""Who may do what through the REST API.

Roles come from `tickets.roles` (agent < manager < admin; a superuser counts as an admin). A
signed-in user without an agent profile is not a helpdesk user and is refused everywhere (403);
a request without credentials is answered 401.

======================================================  =====  =======  =====
Endpoint                                                agent  manager  admin
======================================================  =====  =======  =====
GET    tickets/, tickets/{id}/                          yes    yes      yes
POST   tickets/                                         yes    yes      yes
PATCH  tickets/{id}/ (status, assignee, team,           yes    yes      yes
       priority, tags)
POST   tickets/bulk/ (assign, status, tag, merge,       yes    yes      yes
       spam; each ticket checked on its own)
POST   tickets/{id}/orders/ (link an order)             yes    yes      yes
POST   tickets/{id}/orders/{order}/refund|cancel|note/  yes    yes      yes
POST   tickets/{id}/orders/{order}/unlink/              yes    yes      yes
GET    tickets/{id}/messages/                           yes    yes      yes
POST   tickets/{id}/messages/ (reply or internal note)  yes    yes      yes
GET    customers/, customers/{id}/                      yes    yes      yes
POST   customers/{id}/merge/                            no     yes      yes
GET    orders/, orders/{id}/                            yes    yes      yes
POST   orders/                                          no     no       yes
======================================================  =====  =======  =====

Nothing can be deleted or replaced wholesale (no DELETE, no PUT) through the API, whatever the
role: merges keep the merged rows as pointers, and removing data is left to the Django admin,
which keeps its own log. `POST auth/token/` is open to anyone with a helpdesk user's password.

Which tickets, messages, customers and orders an endpoint reads is narrowed by `tickets.access`
(agents and managers: their stores and teams; admins: everything): another store's ticket is a
404, as if it did not exist, and another store's customer or order named in a request body is
refused as an unknown id.

A view states its stricter actions in `required_roles` ({action name: minimum role}); every
other action needs the agent role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from tickets.models import AgentProfile
from tickets.roles import has_role, role_of

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

# Whole sentences, one per role, so translators never have to assemble one from pieces.
REFUSALS = {
    AgentProfile.Role.AGENT: _("Only helpdesk users may do this."),
    AgentProfile.Role.MANAGER: _("Only managers and administrators may do this."),
    AgentProfile.Role.ADMIN: _("Only administrators may do this."),
}


def required_role(view: APIView) -> str:
    """The minimum role the view's current action needs."""
    roles: dict[str, str] = getattr(view, "required_roles", {})
    return roles.get(getattr(view, "action", None) or "", AgentProfile.Role.AGENT)


class HasHelpdeskRole(BasePermission):
    """Signed-in helpdesk users whose role is at least the one the action needs."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            # False (rather than raising) lets DRF answer 401 with a WWW-Authenticate header.
            return False
        if role_of(user) is None:
            raise PermissionDenied(_("This account is not a helpdesk user."))
        minimum = required_role(view)
        if not has_role(user, minimum):
            raise PermissionDenied(REFUSALS[minimum])
        return True
