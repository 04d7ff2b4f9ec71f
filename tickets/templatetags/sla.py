"""SLA badges and the notifications counter for the agents' pages."""

from __future__ import annotations

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.notify import unread_count
from tickets.sla.display import nearest_deadlines

register = template.Library()

@register.simple_tag
def sla_badge(ticket, deadlines=None) -> SafeString:
    """The ticket's nearest deadline with a countdown (kept live by helpdesk/sla.js), or nothing.
    `deadlines`: what `nearest_deadlines` gave for the whole list, to read a list in one query."""
    if deadlines is None:
        deadlines = nearest_deadlines([ticket])
    deadline = deadlines.get(ticket.pk)
    if deadline is None:
        return SafeString("")
    titles = {"ok": _("On time"), "at_risk": _("SLA at risk"), "breached": _("SLA breached")}
    return format_html(
        '<span class="sla-badge sla-badge--{state}" title="{title}" data-sla-due="{iso}">'
        '<span class="sla-badge__label">{label}</span> '
        '<time datetime="{iso}" data-sla-countdown>{relative}</time></span>',
        state=deadline.state.replace("_", "-"), title=titles[deadline.state], iso=deadline.due_at.isoformat(),
        label=deadline.label, relative=naturaltime(deadline.due_at),
    )


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    """How many unread notifications the signed-in user has (one indexed count per page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return unread_count(user)
