"""{% availability_options as options %}: the signed-in agent's availability choices for the top
bar, as (value, label, selected); empty for users without an agent profile."""

from __future__ import annotations

from django import template
from django.core.exceptions import ObjectDoesNotExist

from tickets.models import AgentProfile

register = template.Library()


@register.simple_tag(takes_context=True)
def availability_options(context) -> list[tuple[str, str, bool]]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    try:
        profile = user.agent_profile
    except ObjectDoesNotExist:
        return []
    return [(value, label, value == profile.availability) for value, label in AgentProfile.Availability.choices]
