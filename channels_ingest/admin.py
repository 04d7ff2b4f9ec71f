"""Admin pages for the ingest road: raw events (filter, read, re-process) and mailbox cursors."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from channels_ingest.actions import reprocess_events
from channels_ingest.models import InboundEvent, MailboxCursor


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["id", "provider", "account", "event_id_short", "state", "attempts", "received_at", "error_short"]
    list_filter = ["state", "provider", "account"]
    search_fields = ["event_id", "error"]
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    list_select_related = ["account"]
    readonly_fields = [
        "provider", "account", "event_id", "received_at", "state", "attempts", "processed_at", "error_block",
        "headers", "result", "payload",
    ]
    exclude = ["body", "error"]

    def has_add_permission(self, request) -> bool:
        return False  # events come from providers only

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # what was received is never edited; re-process instead

    @admin.display(description=_("event id"))
    def event_id_short(self, event: InboundEvent) -> str:
        return event.event_id if len(event.event_id) <= 40 else event.event_id[:37] + "…"

    @admin.display(description=_("error"))
    def error_short(self, event: InboundEvent) -> str:
        first = event.error.strip().splitlines()[-1] if event.error.strip() else ""
        return first[:120]

    @admin.display(description=_("error"))
    def error_block(self, event: InboundEvent) -> str:
        return format_html('<pre style="white-space:pre-wrap;max-width:100%">{}</pre>', event.error or "—")

    @admin.display(description=_("raw body"))
    def payload(self, event: InboundEvent) -> str:
        # Shown escaped as text, never rendered: it is whatever the outside world sent.
        size = len(event.body_bytes)
        return format_html(
            '<p>{}</p><pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
            _("%(size)s bytes") % {"size": size},
            event.body_preview(),
        )

    @admin.action(description=_("Re-process the selected events"))
    def reprocess(self, request, queryset) -> None:
        count = reprocess_events(list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)d event queued for processing.", "%(count)d events queued for processing.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(MailboxCursor)
class MailboxCursorAdmin(admin.ModelAdmin):
    list_display = ["account", "folder", "uidvalidity", "last_uid", "last_polled_at", "last_error"]
    readonly_fields = ["uidvalidity", "last_uid", "last_polled_at", "last_error"]


# --- Shop chat widget ----------------------------------------------------------------------------

from channels_ingest.widget.models import WidgetConversation, WidgetSettings  # noqa: E402


@admin.register(WidgetSettings)
class WidgetSettingsAdmin(admin.ModelAdmin):
    """Per store: who may embed the widget, how it looks and speaks, when people answer."""

    list_display = ["store", "enabled", "language", "origins_short", "public_key"]
    list_filter = ["enabled"]
    readonly_fields = ["public_key", "snippet_block"]
    fieldsets = [
        (None, {"fields": ["store", "enabled", "snippet_block", "public_key", "allowed_origins"]}),
        (_("Look and language"), {"fields": ["title", "language", "primary_colour", "text_colour", "position"]}),
        (_("Bot"), {"fields": ["welcome_text", "returns_policy_text", "calendar"]}),
        (_("Channels"), {"fields": ["account", "email_account"]}),
    ]

    @admin.display(description=_("allowed origins"))
    def origins_short(self, widget: WidgetSettings) -> str:
        return ", ".join(widget.origins) or "—"

    @admin.display(description=_("snippet for the shop's pages"))
    def snippet_block(self, widget: WidgetSettings) -> str:
        if not widget.pk:
            return _("Shown once the widget is saved.")
        from channels_ingest.widget.views import snippet

        return format_html('<code style="user-select:all">{}</code>', snippet(widget))

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        from channels_ingest.widget.conversations import ensure_account

        ensure_account(obj)


@admin.register(WidgetConversation)
class WidgetConversationAdmin(admin.ModelAdmin):
    """Read-only: what the bot was told before a handoff, and where the conversation went."""

    list_display = ["settings", "visitor_key", "language", "ticket", "visitor_email", "created_at", "last_seen_at"]
    list_filter = ["settings", "language"]
    search_fields = ["visitor_key", "visitor_email"]
    list_select_related = ["settings__store", "ticket"]
    raw_id_fields = ["ticket", "order"]
    exclude = ["token_hash"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
