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
    CannedResponse,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    OrderLine,
    Shipment,
    Store,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)


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
        if commit:
            account.save()
        return account


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = ["display_name", "store", "channel", "provider", "status", "last_event_at", "has_secrets"]
    list_filter = ["channel", "status", "store"]
    readonly_fields = ["public_id", "created_at", "last_event_at", "last_sync_at", "last_error"]

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
    list_display = ["name", "store", "lead"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "language", "availability", "capacity"]
    list_filter = ["role", "availability"]
    filter_horizontal = ["teams"]


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


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "store", "marketplace", "status", "total", "currency", "placed_at"]
    list_filter = ["marketplace", "status", "store"]
    search_fields = ["number", "external_id"]
    raw_id_fields = ["customer"]
    inlines = [OrderLineInline, ShipmentInline]


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
