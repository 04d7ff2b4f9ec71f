"""The ticket page's action forms (assign, priority, tags, merge, split, link) and the small JSON
look-ups of its composer (canned responses, @mention autocomplete).

Thin: the work is done by `tickets.actions` and `tickets.ticket_actions`. Every form answers with
a redirect to the ticket and a message; a refused action says why.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tickets import actions, composer, ticket_actions
from tickets.access import visible_tickets
from tickets.mentions import helpdesk_users, mentionable_agents
from tickets.models import Message, Tag, Team, Ticket, TicketLink
from tickets.ticket_page import person_name as _name
from tickets.views import _ticket_or_404, helpdesk_role_required, inbox_origin, ticket_url


def _back(ticket: Ticket, request: HttpRequest) -> HttpResponse:
    return redirect(ticket_url(ticket.pk, inbox_origin(request)))


def _ticket_number(raw: str) -> int | None:
    raw = (raw or "").strip().lstrip("#")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


@require_POST
@helpdesk_role_required
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign to an agent and/or a team. `assignee` = "me", a user id, or "" (nobody); `team` = a
    team id or "" (no team); a field left out of the form is left as it is."""
    ticket = _ticket_or_404(request, pk)
    if "assignee" in request.POST:
        raw = request.POST["assignee"]
        if raw == "me":
            assignee = request.user
        elif raw == "":
            assignee = None
        else:
            assignee = helpdesk_users().filter(pk=raw if raw.isdigit() else 0).first()
            if assignee is None:
                messages.error(request, _("Unknown agent."))
                return _back(ticket, request)
        ticket = actions.assign_ticket(ticket=ticket, assignee=assignee, actor=request.user)
    if "team" in request.POST:
        raw = request.POST["team"]
        team = Team.objects.filter(pk=raw).first() if raw.isdigit() else None
        if raw and team is None:
            messages.error(request, _("Unknown team."))
            return _back(ticket, request)
        ticket = actions.set_team(ticket=ticket, team=team, actor=request.user)
    ticket.refresh_from_db(fields=["assignee", "team"])
    who = _name(ticket.assignee) if ticket.assignee_id else _("nobody")
    messages.success(request, _("Assigned to %(name)s.") % {"name": who})
    return _back(ticket, request)


@require_POST
@helpdesk_role_required
def set_priority(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    raw = request.POST.get("priority", "")
    if not raw.isdigit() or int(raw) not in Ticket.Priority.values:
        messages.error(request, _("Unknown priority."))
        return _back(ticket, request)
    ticket = actions.set_priority(ticket=ticket, priority=int(raw), actor=request.user)
    messages.success(request, _("Priority set to %(priority)s.") % {"priority": Ticket.Priority(ticket.priority).label})
    return _back(ticket, request)


@require_POST
@helpdesk_role_required
def set_tags(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket's tags become the ticked ones plus any new names typed (comma-separated; a new
    name creates the tag)."""
    ticket = _ticket_or_404(request, pk)
    ids = [raw for raw in request.POST.getlist("tags") if raw.isdigit()]
    tags = list(Tag.objects.filter(pk__in=ids))
    for name in request.POST.get("new_tags", "").split(","):
        name = name.strip()[:60]
        if name:
            tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
            tags.append(tag)
    actions.set_tags(ticket=ticket, tags={tag.pk: tag for tag in tags}.values(), actor=request.user)
    messages.success(request, _("Tags saved."))
    return _back(ticket, request)


@require_POST
@helpdesk_role_required
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this ticket into another (`target`), or another (`source`) into this one."""
    ticket = _ticket_or_404(request, pk)
    direction = request.POST.get("direction", "into")
    number = _ticket_number(request.POST.get("other", ""))
    other = visible_tickets(request.user).filter(pk=number).first() if number else None
    if other is None:
        messages.error(request, _("No ticket #%(number)s that you can see.") % {"number": request.POST.get("other", "").strip()})
        return _back(ticket, request)
    source, target = (ticket, other) if direction == "into" else (other, ticket)
    try:
        actions.merge_tickets(source=source, target=target, actor=request.user)
    except ticket_actions.TicketActionError as error:
        messages.error(request, str(error))
        return _back(ticket, request)
    messages.success(request, _("Ticket #%(source)s merged into #%(target)s.") % {"source": source.pk, "target": target.pk})
    return redirect(ticket_url(target.pk, inbox_origin(request)))


@require_POST
@helpdesk_role_required
def split(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    message = get_object_or_404(Message, pk=message_pk, ticket=ticket)
    try:
        new = ticket_actions.split_message(message=message, actor=request.user,
                                           subject=request.POST.get("subject", "")[:500])
    except ticket_actions.TicketActionError as error:
        messages.error(request, str(error))
        return _back(ticket, request)
    messages.success(request, _("The message is now ticket #%(id)s.") % {"id": new.pk})
    return redirect(ticket_url(new.pk, inbox_origin(request)))


@require_POST
@helpdesk_role_required
def link(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    number = _ticket_number(request.POST.get("other", ""))
    other = visible_tickets(request.user).filter(pk=number).first() if number else None
    if other is None:
        messages.error(request, _("No ticket #%(number)s that you can see.") % {"number": request.POST.get("other", "").strip()})
        return _back(ticket, request)
    try:
        ticket_actions.link_tickets(ticket=ticket, other=other, kind=request.POST.get("kind", "related"),
                                    actor=request.user)
    except ticket_actions.TicketActionError as error:
        messages.error(request, str(error))
        return _back(ticket, request)
    messages.success(request, _("Ticket #%(id)s linked.") % {"id": other.pk})
    return _back(ticket, request)


@require_POST
@helpdesk_role_required
def unlink(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    link = TicketLink.objects.filter(pk=link_pk).filter(from_ticket=ticket).first() or \
        TicketLink.objects.filter(pk=link_pk, to_ticket=ticket).first()
    if link is None:
        raise Http404
    ticket_actions.unlink_tickets(link=link, actor=request.user)
    messages.success(request, _("Link removed."))
    return _back(ticket, request)


# --- Composer look-ups (JSON) ---------------------------------------------------------------


@require_GET
@helpdesk_role_required
def canned_search(request: HttpRequest, pk: int) -> JsonResponse:
    """Canned responses of the ticket's store whose title contains `q`."""
    ticket = _ticket_or_404(request, pk)
    rows = composer.canned_responses(ticket, query=request.GET.get("q", ""), limit=30)
    return JsonResponse({"results": [
        {"id": canned.pk, "title": canned.title, "language": canned.language,
         "preview_url": reverse("tickets:canned_preview", args=[ticket.pk, canned.pk])}
        for canned in rows
    ]})


@require_GET
@helpdesk_role_required
def canned_preview(request: HttpRequest, pk: int, canned_pk: int) -> JsonResponse:
    """The canned response with its variables filled for this ticket, to preview and insert."""
    ticket = _ticket_or_404(request, pk)
    found = composer.canned_preview(ticket, canned_pk, request.user)
    if found is None:
        raise Http404
    canned, text = found
    return JsonResponse({"id": canned.pk, "title": canned.title, "text": text})


@require_GET
@helpdesk_role_required
def mention_search(request: HttpRequest, pk: int) -> JsonResponse:
    """Agents who can see the ticket, for the @mention autocomplete."""
    ticket = _ticket_or_404(request, pk)
    users = mentionable_agents(ticket, query=request.GET.get("q", ""))
    return JsonResponse({"results": [
        {"username": user.get_username(), "name": _name(user)} for user in users
    ]})
