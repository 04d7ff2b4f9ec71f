"""The agent's own availability, set from the top bar of every page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from tickets.models import AgentProfile
from tickets.routing.availability import set_availability


@login_required
@require_POST
def set_my_availability(request: HttpRequest) -> HttpResponse:
    """Online, away or offline. Going offline may give open tickets back to the team queue (as
    the team is configured); the agent is told how many."""
    profile = AgentProfile.objects.filter(user=request.user).first()
    if profile is None:
        return HttpResponseForbidden(_("Only helpdesk agents have an availability."))
    availability = request.POST.get("availability", "")
    if availability not in AgentProfile.Availability.values:
        return HttpResponseBadRequest(_("Unknown availability."))
    returned = set_availability(agent=request.user, availability=availability, actor=request.user)
    label = AgentProfile.Availability(availability).label
    messages.success(request, _("You are now %(availability)s.") % {"availability": label.lower()})
    if returned:
        messages.info(request, ngettext(
            "%(count)s open ticket went back to its team's queue.",
            "%(count)s open tickets went back to their teams' queues.",
            len(returned),
        ) % {"count": len(returned)})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "home"
    return redirect(target)
