"""Template helpers of the Channels page (and its link in the top bar)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from channels_ingest.accounts.providers import spec_for
from tickets.models import AgentProfile, ChannelAccount
from tickets.roles import has_role

register = template.Library()


@register.simple_tag(takes_context=True)
def can_view_channels(context) -> bool:
    """Whether the signed-in user may open the Channels page (managers and administrators)."""
    request = context.get("request")
    return request is not None and has_role(request.user, AgentProfile.Role.MANAGER)


@register.filter
def provider_label(provider: str) -> str:
    spec = spec_for(provider)
    return str(spec.label) if spec else provider


@register.simple_tag
def account_status_badge(account: ChannelAccount) -> SafeString:
    """The account's status, and "credentials expired" when a provider refused them."""
    badge = format_html('<span class="badge chan-status chan-status--{}">{}</span>', account.status,
                        account.get_status_display())
    if account.credentials_expired_at:
        badge += format_html(' <span class="badge chan-status chan-status--error" title="{}">{}</span>',
                             account.credentials_expired_at.isoformat(), _("Credentials expired"))
    return badge
