"""The Shopify app install pages: start (admins only) and the OAuth callback."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from channels_ingest.adapters.shopify import oauth
from channels_ingest.adapters.shopify.client import ShopifyClient
from channels_ingest.shop_http import ProviderError
from tickets.models import ChannelAccount

SESSION_KEY = "shopify_oauth"


@require_GET
@staff_member_required
def install(request: HttpRequest, account: str) -> HttpResponse:
    channel_account = get_object_or_404(ChannelAccount, public_id=account, provider="shopify")
    state = oauth.new_state()
    # Where to come back to after the callback (the Channels page passes its account page).
    back = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    request.session[SESSION_KEY] = {"state": state, "account": channel_account.pk, "next": back}
    callback = request.build_absolute_uri(reverse("shopify:callback"))
    return redirect(oauth.authorize_url(channel_account, redirect_uri=callback, state=state))


@require_GET
@staff_member_required
def callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_KEY, None) or {}
    channel_account = ChannelAccount.objects.filter(pk=pending.get("account"), provider="shopify").first()
    if channel_account is None:
        return HttpResponseBadRequest(_("No Shopify installation was started from this browser."))
    params = {key: request.GET.get(key, "") for key in request.GET}
    try:
        oauth.check_callback(channel_account, params, expected_state=pending.get("state"))
    except oauth.InstallRefused as exc:
        return HttpResponseBadRequest(_("Shopify installation refused: %(reason)s") % {"reason": exc})
    admin_page = pending.get("next") or reverse("admin:tickets_channelaccount_change", args=[channel_account.pk])
    try:
        oauth.exchange_code(channel_account, params["code"])
    except ProviderError as exc:
        ChannelAccount.objects.filter(pk=channel_account.pk).update(last_error=f"install: {exc}"[:2000])
        messages.error(request, _("Shopify did not give an access token: %(error)s") % {"error": exc.detail or exc})
        return redirect(admin_page)
    messages.success(request, _("%(shop)s is connected.") % {"shop": channel_account.external_id})
    address = request.build_absolute_uri(
        reverse("channels_ingest:webhook", args=["shopify", str(channel_account.public_id)])
    )
    try:
        ShopifyClient(channel_account).register_webhooks(address)
    except ProviderError as exc:
        messages.warning(
            request, _("Subscribe the webhooks by hand; Shopify refused: %(error)s") % {"error": exc.detail or exc}
        )
    return redirect(admin_page)
