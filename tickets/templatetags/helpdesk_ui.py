"""Small display helpers for the agents' pages: badges whose text and colour follow a value.

They only turn a stored value into its translated label and a CSS modifier, so templates stay free
of lookups and the same badge looks the same on every page.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.models import Channel, Message, Ticket

register = template.Library()


def _label(choices: type, value: object) -> str:
    """The translated label of a choice, or the raw value when it is not (or no longer) a choice:
    a row written before a choice was renamed must still render."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@register.simple_tag
def channel_badge(channel: str) -> SafeString:
    return format_html(
        '<span class="badge badge--channel ch-{}"><span class="badge__dot" aria-hidden="true"></span>{}</span>',
        channel,
        _label(Channel, channel),
    )


@register.simple_tag
def status_badge(status: str) -> SafeString:
    return format_html(
        '<span class="badge badge--status st-{}">{}</span>', status, _label(Ticket.Status, status)
    )


@register.simple_tag
def priority_badge(priority: int) -> SafeString:
    return format_html(
        '<span class="priority pr-{}">{}</span>', priority, _label(Ticket.Priority, priority)
    )


@register.simple_tag
def delivery_badge(state: str) -> SafeString:
    return format_html(
        '<span class="badge badge--delivery dl-{}" title="{}">{}</span>',
        state,
        _("Delivery state"),
        _label(Message.DeliveryState, state),
    )
