"""The Channels page (/channels/): connected accounts per store with their health; administrators
connect, change, test, pause, resume and remove them. Managers read the list and each account's
history (no forms, no actions); agents get 403. Thin: every change is a function of
channels_ingest.accounts.actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from channels_ingest.accounts import actions, queries
from channels_ingest.accounts.forms import AccountForm
from channels_ingest.accounts.providers import PROVIDERS, spec_for
from tickets.models import AgentProfile, ChannelAccount, Store
from tickets.roles import has_role


def _require(request: HttpRequest, role: str) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(_("Only administrators may change channel accounts.") if role == AgentProfile.Role.ADMIN
                               else _("Only managers and administrators may see the channel accounts."))


def _is_admin(request: HttpRequest) -> bool:
    return has_role(request.user, AgentProfile.Role.ADMIN)


def _store_ids(request: HttpRequest):
    """Administrators see every store's accounts; managers those of the stores they see."""
    if _is_admin(request):
        return None
    from tickets.access import visible_store_ids

    return visible_store_ids(request.user)


def _account_or_404(request: HttpRequest, pk: int) -> ChannelAccount:
    account = get_object_or_404(ChannelAccount.objects.select_related("store"), pk=pk)
    store_ids = _store_ids(request)
    if store_ids is not None and account.store_id not in store_ids:
        raise Http404
    return account


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require(request, AgentProfile.Role.MANAGER)
    show_removed = request.GET.get("removed") == "1"
    return render(request, "channels_ingest/accounts.html", {
        "nav": "channels",
        "groups": queries.accounts_by_store(show_removed=show_removed, store_ids=_store_ids(request)),
        "show_removed": show_removed,
        "can_manage": _is_admin(request),
        "providers": PROVIDERS.values(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    _require(request, AgentProfile.Role.ADMIN)
    spec = spec_for(provider)
    if spec is None:
        raise Http404
    stores = Store.objects.order_by("name")
    form = AccountForm(request.POST or None, spec=spec, stores=stores,
                       initial={"store": request.GET.get("store")} if request.GET.get("store") else None)
    if request.method == "POST" and form.is_valid():
        account = actions.connect_account(
            store=form.cleaned_data["store"], provider=provider, display_name=form.cleaned_data["display_name"],
            values=form.provider_values(), actor=request.user,
        )
        messages.success(request, _("%(name)s is connected.") % {"name": account.display_name})
        return redirect("channels_accounts:account", account.pk)
    return render(request, "channels_ingest/connect.html", {
        "nav": "channels", "spec": spec, "form": form,
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, AgentProfile.Role.MANAGER)
    account = _account_or_404(request, pk)
    spec = spec_for(account.provider)
    can_manage = _is_admin(request) and account.status != ChannelAccount.Status.REMOVED
    form = None
    status = 200
    if can_manage and spec is not None:
        form = AccountForm(request.POST or None, spec=spec, account=account)
        if request.method == "POST":
            if form.is_valid():
                try:
                    changed = actions.update_account(account=account, display_name=form.cleaned_data["display_name"],
                                                     values=form.provider_values(), actor=request.user)
                except actions.AccountActionRefused as exc:
                    messages.error(request, str(exc))
                else:
                    messages.success(request, _("Saved.") if changed else _("Nothing changed."))
                return redirect("channels_accounts:account", account.pk)
            status = 400
    elif request.method == "POST":
        _require(request, AgentProfile.Role.ADMIN)
        messages.error(request, _("This account was removed."))
        return redirect("channels_accounts:account", account.pk)
    health = queries.accounts_by_store(show_removed=True, store_ids={account.store_id})
    row = next((row for group in health for row in group.rows if row.account.pk == account.pk), None)
    return render(request, "channels_ingest/account.html", {
        "nav": "channels",
        "account": account,
        "row": row,
        "spec": spec,
        "form": form,
        "can_manage": can_manage,
        "webhook_url": queries.webhook_url(account),
        "history": queries.account_history(account),
        "shopify_install_url": (
            reverse("shopify:install", args=[account.public_id]) + "?next=" + reverse("channels_accounts:account",
                                                                                    args=[account.pk])
            if account.provider == "shopify" and can_manage else ""
        ),
    }, status=status)


def _admin_action(request: HttpRequest, pk: int) -> ChannelAccount:
    _require(request, AgentProfile.Role.ADMIN)
    return _account_or_404(request, pk)


@login_required
@require_POST
def check(request: HttpRequest, pk: int) -> HttpResponse:
    account = _admin_action(request, pk)
    try:
        result = actions.test_account(account=account, actor=request.user)
    except actions.AccountActionRefused as exc:
        messages.error(request, str(exc))
    else:
        if result.ok:
            messages.success(request, _("Connection works: %(message)s") % {"message": result.message})
        else:
            messages.error(request, _("Connection failed: %(message)s") % {"message": result.message})
    return redirect("channels_accounts:account", account.pk)


@login_required
@require_POST
def pause(request: HttpRequest, pk: int) -> HttpResponse:
    account = _admin_action(request, pk)
    try:
        actions.pause_account(account=account, actor=request.user)
    except actions.AccountActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(name)s is paused: nothing is read or sent until you resume it; webhooks "
                                    "are kept.") % {"name": account.display_name})
    return redirect("channels_accounts:account", account.pk)


@login_required
@require_POST
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    account = _admin_action(request, pk)
    result = actions.resume_account(account=account, actor=request.user)
    messages.success(request, _("%(name)s is resumed: the waiting events (%(events)s) and held replies (%(replies)s) "
                                "are on their way.") % {"name": account.display_name, "events": result.events,
                                                         "replies": result.replies})
    return redirect("channels_accounts:account", account.pk)


@login_required
@require_http_methods(["GET", "POST"])
def remove(request: HttpRequest, pk: int) -> HttpResponse:
    account = _admin_action(request, pk)
    if account.status == ChannelAccount.Status.REMOVED:
        return redirect("channels_accounts:account", account.pk)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        actions.remove_account(account=account, actor=request.user)
        messages.success(request, _("%(name)s is removed. Its conversations and orders are kept.")
                         % {"name": account.display_name})
        return redirect("channels_accounts:index")
    row = queries.accounts_by_store(show_removed=True, store_ids={account.store_id})
    health = next((r for group in row for r in group.rows if r.account.pk == account.pk), None)
    return render(request, "channels_ingest/remove.html", {"nav": "channels", "account": account, "row": health})
