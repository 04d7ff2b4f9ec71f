"""Role look-ups shared by pages and the API."""

from __future__ import annotations

from tickets.models import AgentProfile

ROLE_RANK = {AgentProfile.Role.AGENT: 1, AgentProfile.Role.MANAGER: 2, AgentProfile.Role.ADMIN: 3}


def role_of(user) -> str | None:
    """The helpdesk role of a signed-in user; superusers are admins. None for anyone else."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return AgentProfile.Role.ADMIN
    profile = getattr(user, "agent_profile", None)
    return profile.role if profile is not None else None


def has_role(user, minimum: str) -> bool:
    role = role_of(user)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]
