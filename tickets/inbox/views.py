"""The inbox pages: the list of a view, its live-refresh fragment, saved views and bulk actions.

Views stay thin: the reading is in `tickets.inbox.queries` / `counts`, every change in
`tickets.inbox.bulk` and `tickets.actions`. The page runs a fixed number of queries whatever the
number of rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from tickets.access import visible_stores
from tickets.inbox import queries
from tickets.inbox.bulk import BulkError, apply_bulk_action
from tickets.inbox.counts import count_label, forget_counts, sidebar_counts
from tickets.inbox.forms import BulkActionForm, InboxFilterForm, SavedViewForm, filter_selects
from tickets.inbox.params import VIEWS, ViewParams
from tickets.inbox.rows import InboxRow, render_rows
from tickets.models import SavedView, Tag, Team, Ticket
from tickets.sla import display as sla_display
from tickets.views import helpdesk_role_required

# Rows per inbox page. A module constant so tests can lower it instead of creating hundreds of rows.
INBOX_PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 200


@dataclass(frozen=True)
class SidebarEntry:
    key: str
    label: str
    url: str
    count: str
    is_current: bool
    saved: SavedView | None = None


def _saved_params(saved: SavedView) -> ViewParams:
    return ViewParams.from_query({**saved.filters, "sort": saved.sort})


def _current_saved(request: HttpRequest, saved_views: list[SavedView]) -> SavedView | None:
    raw = request.GET.get("saved", "")
    return next((s for s in saved_views if str(s.pk) == raw), None)


def _sidebar(
    params: ViewParams, saved_views: list[SavedView], current_saved, counts
) -> list[SidebarEntry]:
    entries = [
        SidebarEntry(
            key=slug,
            label=str(label),
            url=ViewParams(view=slug, sort=params.sort).url(),
            count=count_label(counts.get(slug)),
            is_current=current_saved is None and params.view == slug and not params.is_filtered,
        )
        for slug, label in VIEWS.items()
    ]
    entries += [
        SidebarEntry(
            key=f"saved-{saved.pk}",
            label=saved.name,
            url=_saved_params(saved).url(saved=str(saved.pk)),
            count=count_label(counts.get(f"saved-{saved.pk}")),
            is_current=current_saved is not None and current_saved.pk == saved.pk,
            saved=saved,
        )
        for saved in saved_views
    ]
    return entries


def _search(user, query: str, cursor: str | None):
    """SEARCH's results for the box, or None while full-text search is not installed."""
    try:
        from tickets.search import search_tickets
    except ImportError:
        return None
    return search_tickets(user, query, cursor=cursor or None)


def _agents():
    return (
        get_user_model()
        .objects.filter(is_active=True, agent_profile__isnull=False)
        .order_by("first_name", "last_name", "username")
    )


@require_GET
@helpdesk_role_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = request.user
    saved_views = list(SavedView.objects.filter(owner=user))
    current_saved = _current_saved(request, saved_views)
    params = ViewParams.from_query(request.GET)
    query = request.GET.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    keep = {"saved": str(current_saved.pk)} if current_saved else {}
    from_value = params.encode()

    context = {
        "nav": "inbox",
        "params": params,
        "view_label": current_saved.name if current_saved else VIEWS[params.view],
        "current_saved": current_saved,
        "query": query,
        # Each row's link carries the view it was opened from (the ticket page's previous/next).
        "from_suffix": "?" + urlencode({"from": from_value}) if from_value else "",
        "refresh_url": request.get_full_path(),
        "is_filtered": params.is_filtered,
    }
    if query:
        results = _search(user, query, request.GET.get("cursor"))
        context.update(search_available=results is not None, results=results)
        if results is not None:
            next_cursor = getattr(results, "next_cursor", None)
            context["rows"] = [
                InboxRow(row.ticket, snippet=row.snippet_html, subject_html=row.subject_html)
                for row in results.rows
            ]
            context["search_capped"] = getattr(results, "capped", False)
            context["next_url"] = (
                reverse("tickets:inbox") + "?" + urlencode({"q": query, "cursor": str(next_cursor)})
                if next_cursor
                else ""
            )
    else:
        page = queries.page(
            user,
            params,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
            size=INBOX_PAGE_SIZE,
        )
        paged = bool(request.GET.get("after") or request.GET.get("before"))
        context.update(
            rows=[InboxRow(ticket) for ticket in page.items],
            next_url=params.url(**keep, after=page.next_cursor.encode())
            if page.next_cursor
            else "",
            previous_url=params.url(**keep, before=page.previous_cursor.encode())
            if page.previous_cursor
            else "",
            newest_url=params.url(**keep) if paged else "",
            is_first_page=not paged,
        )
    rows = context.get("rows", [])
    context["rows_html"] = render_rows(
        rows,
        from_suffix=context["from_suffix"],
        deadlines=sla_display.nearest_deadlines([row.ticket for row in rows]),
    )
    if request.GET.get("fragment") == "rows":
        # The live refresh (inbox.js): the rows and the counts, nothing around them.
        counts = sidebar_counts(user, saved_views)
        context["sidebar"] = _sidebar(params, saved_views, current_saved, counts)
        return render(request, "tickets/inbox_fragment.html", context)

    counts = sidebar_counts(user, saved_views)
    sidebar = _sidebar(params, saved_views, current_saved, counts)
    # The filter bar's choices: only the stores the agent sees.
    form = InboxFilterForm(
        params,
        stores=visible_stores(user).order_by("name"),
        teams=Team.objects.all(),
        tags=Tag.objects.all(),
    )
    context.update(
        sidebar_views=[entry for entry in sidebar if entry.saved is None],
        sidebar_saved=[entry for entry in sidebar if entry.saved is not None],
        form=form,
        filter_selects=filter_selects(form),
        clear_url=ViewParams(view=params.view, sort=params.sort).url(),
        can_save=params.to_query() != {} and current_saved is None,
        agents=_agents(),
        statuses=Ticket.Status.choices,
        back_url=request.get_full_path(),
    )
    return render(request, "tickets/inbox.html", context)


# --- Saved views ----------------------------------------------------------------------------


@require_POST
@helpdesk_role_required
def save_view(request: HttpRequest) -> HttpResponse:
    """Save the posted view parameters (the current view's) under a name, for this agent only."""
    params = ViewParams.from_query(request.POST.get("query", ""))
    form = SavedViewForm(request.POST, owner=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("name", [_("Give the view a name.")])))
        return redirect(params.url())
    filters = params.to_query()
    filters.pop("sort", None)
    saved = SavedView.objects.create(
        owner=request.user, name=form.cleaned_data["name"], filters=filters, sort=params.sort
    )
    forget_counts(request.user)
    messages.success(request, _("View “%(name)s” saved.") % {"name": saved.name})
    return redirect(_saved_params(saved).url(saved=str(saved.pk)))


@require_POST
@helpdesk_role_required
def rename_view(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedView, pk=pk, owner=request.user)
    form = SavedViewForm(request.POST, owner=request.user, instance=saved)
    if form.is_valid():
        saved.name = form.cleaned_data["name"]
        saved.save(update_fields=["name"])
        messages.success(request, _("View renamed to “%(name)s”.") % {"name": saved.name})
    else:
        messages.error(request, " ".join(form.errors.get("name", [_("Give the view a name.")])))
    return redirect(_saved_params(saved).url(saved=str(saved.pk)))


@require_POST
@helpdesk_role_required
def delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedView, pk=pk, owner=request.user)
    name = saved.name
    saved.delete()
    forget_counts(request.user)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": name})
    return redirect("tickets:inbox")


# --- Bulk actions ---------------------------------------------------------------------------

_NUMBER = re.compile(r"[0-9]{1,18}")


def _back(request: HttpRequest, url: str) -> HttpResponse:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=False
    ):
        return redirect(url)
    return redirect("tickets:inbox")


def _bulk_arguments(request: HttpRequest, form: BulkActionForm) -> dict:
    data = form.cleaned_data
    assignee = data.get("assignee") or ""
    return {
        "assignee_id": request.user.pk
        if assignee == "me"
        else int(assignee)
        if _NUMBER.fullmatch(assignee)
        else None,
        "unassign": assignee == "none",
        "team_id": data.get("team"),
        "status": data.get("status") or "",
        "tag_id": data.get("tag"),
        "merge_target_id": data.get("merge_target"),
    }


@require_POST
@helpdesk_role_required
def bulk(request: HttpRequest) -> HttpResponse:
    form = BulkActionForm(request.POST)
    back = request.POST.get("next", "")
    if not form.is_valid():
        messages.error(request, _("Choose an action for the selected tickets."))
        return _back(request, back)
    try:
        result = apply_bulk_action(
            request.user,
            form.cleaned_data["ticket"],
            form.cleaned_data["action"],
            **_bulk_arguments(request, form),
        )
    except BulkError as error:
        messages.error(request, str(error))
        return _back(request, back)
    forget_counts(request.user)
    if result.done:
        count = len(result.done)
        messages.success(
            request,
            ngettext("%(count)s ticket updated.", "%(count)s tickets updated.", count)
            % {"count": count},
        )
    elif result.unchanged and not result.refused:
        messages.info(request, _("Nothing to change: the selected tickets were like that already."))
    for pk, reason in result.refused:
        messages.error(
            request, _("Ticket #%(id)s not changed: %(reason)s") % {"id": pk, "reason": reason}
        )
    return _back(request, back)
