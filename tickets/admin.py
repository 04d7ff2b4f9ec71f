"""Django admin for configuration. Channel secrets are write-only here: never shown back."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tickets import actions
from tickets.models import (
    AgentProfile,
    Attachment,
    AutomationRule,
    CannedResponse,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    OrderLine,
    PrivacyRequest,
    Refund,
    Shipment,
    Store,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.routing.availability import set_availability


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "default_language", "country", "time_zone"]
    prepopulated_fields = {"slug": ["name"]}


class ChannelAccountForm(forms.ModelForm):
    new_secrets = forms.CharField(
        label=_("Replace secrets"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=_("A JSON object of credentials. Leave empty to keep the stored ones; they are never shown."),
    )

    class Meta:
        model = ChannelAccount
        fields = ["store", "channel", "provider", "display_name", "external_id", "settings", "status"]

    def clean_new_secrets(self) -> dict | None:
        raw = self.cleaned_data["new_secrets"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc.msg}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Secrets must be a JSON object."))
        return value

    def save(self, commit: bool = True) -> ChannelAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("new_secrets") is not None:
            account.set_secrets(self.cleaned_data["new_secrets"])
            # New credentials: the provider's earlier refusal no longer applies.
            account.credentials_expired_at = None
            if account.status == ChannelAccount.Status.ERROR:
                account.status = ChannelAccount.Status.ACTIVE
        if commit:
            account.save()
        return account


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = ["display_name", "store", "channel", "provider", "status", "last_event_at", "has_secrets"]
    list_filter = ["channel", "status", "store"]
    readonly_fields = ["public_id", "created_at", "last_event_at", "last_sync_at", "last_error",
                       "credentials_expired_at", "paused_at", "removed_at", "shop_install"]

    @admin.display(description=_("Shopify app"))
    def shop_install(self, account: ChannelAccount) -> str:
        """The link that installs the Shopify app on this account's shop (OAuth)."""
        from django.urls import reverse
        from django.utils.html import format_html

        if account.pk is None or account.provider != "shopify":
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("shopify:install", args=[account.public_id]),
            _("Install or reconnect the app on the shop"),
        )

    @admin.display(boolean=True, description=_("secrets stored"))
    def has_secrets(self, account: ChannelAccount) -> bool:
        return account.has_secrets


class ChannelIdentityInline(admin.TabularInline):
    model = ChannelIdentity
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "language", "merged_into", "created_at"]
    search_fields = ["name", "email", "phone", "identities__value"]
    inlines = [ChannelIdentityInline]
    raw_id_fields = ["merged_into"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "store", "lead", "auto_assign", "offline_policy"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "language", "availability", "capacity"]
    list_filter = ["role", "availability"]
    filter_horizontal = ["teams", "stores"]
    readonly_fields = ["availability_changed_at"]

    def save_model(self, request, obj: AgentProfile, form, change: bool) -> None:
        # Going offline here returns tickets to their teams as configured, like anywhere else.
        if change and "availability" in form.changed_data:
            new_availability = obj.availability
            obj.availability = form.initial["availability"]
            super().save_model(request, obj, form, change)
            set_availability(agent=obj.user, availability=new_availability, actor=request.user)
            obj.refresh_from_db()
        else:
            super().save_model(request, obj, form, change)


class AutomationRuleForm(forms.ModelForm):
    class Meta:
        model = AutomationRule
        fields = [
            "name", "description", "is_active", "position", "stop_processing",
            "on_ticket_created", "on_customer_replied",
            "store", "channels", "marketplaces", "subject_contains", "text_contains", "languages", "tags",
            "priorities", "business_hours", "calendar",
            "set_team", "set_priority", "add_tags", "set_language", "assign", "send_acknowledgement",
            "acknowledgement_text",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        # The rule's validation needs the tags to add, which are only saved after the rule.
        self.instance.pending_add_tags = list(cleaned.get("add_tags") or [])
        return cleaned


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    form = AutomationRuleForm
    list_display = ["name", "position", "is_active", "store", "on_ticket_created", "on_customer_replied",
                    "stop_processing"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "store", "on_ticket_created", "on_customer_replied"]
    search_fields = ["name", "description"]
    filter_horizontal = ["tags", "add_tags"]
    fieldsets = [
        (None, {"fields": ["name", "description", "is_active", "position", "stop_processing"]}),
        (_("When"), {"fields": ["on_ticket_created", "on_customer_replied"]}),
        (_("If (every condition filled in must hold; empty ones match anything)"), {"fields": [
            "store", "channels", "marketplaces", "subject_contains", "text_contains", "languages", "tags",
            "priorities", "business_hours", "calendar",
        ]}),
        (_("Then"), {"fields": [
            "set_team", "set_priority", "add_tags", "set_language", "assign", "send_acknowledgement",
            "acknowledgement_text",
        ]}),
    ]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "colour"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "language", "store"]
    list_filter = ["language", "store"]
    search_fields = ["title", "body"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    """Shopify's privacy requests: what was asked, what was done, and the export to send on."""

    list_display = ["__str__", "kind", "account", "customer", "received_at", "completed_at"]
    list_filter = ["kind"]
    readonly_fields = ["account", "kind", "customer", "external_request_id", "export", "summary", "received_at",
                       "completed_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "store", "marketplace", "status", "total", "currency", "placed_at"]
    list_filter = ["marketplace", "status", "store"]
    search_fields = ["number", "external_id"]
    raw_id_fields = ["customer"]
    inlines = [OrderLineInline, ShipmentInline, RefundInline]


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    fields = ["direction", "author_type", "author_user", "body_text", "delivery_state", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "store", "channel", "status", "priority", "assignee", "updated_at"]
    list_filter = ["status", "channel", "priority", "store", "team"]
    search_fields = ["subject", "customer__name", "customer__email"]
    raw_id_fields = ["customer", "merged_into", "follow_up_of", "assignee"]
    filter_horizontal = ["tags"]
    inlines = [MessageInline]

    def save_model(self, request, obj: Ticket, form, change: bool) -> None:
        # Status edits from the admin still leave their trace on the ticket timeline.
        if change and "status" in form.changed_data:
            new_status = obj.status
            obj.status = form.initial["status"]
            super().save_model(request, obj, form, change)
            actions.change_status(ticket=obj, status=new_status, actor=request.user)
            obj.refresh_from_db()
        else:
            super().save_model(request, obj, form, change)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "ticket", "direction", "channel", "delivery_state", "created_at"]
    list_filter = ["direction", "channel", "delivery_state"]
    raw_id_fields = ["ticket", "author_customer", "author_user"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "content_type", "size", "message"]
    raw_id_fields = ["message"]


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "actor", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["ticket"]


# SLA policies, business calendars, response times and notifications.
from tickets.sla import admin as sla_admin  # noqa: E402, F401
