"""Representations of tickets, messages, customers and orders, and the shapes of what clients send.

Read serializers list their fields explicitly: a field added to a model stays private until it is
added here on purpose. Channel accounts are only ever shown through `ChannelAccountSummarySerializer`,
which has no credentials in it.

Write serializers validate only; the views hand their data to `tickets.actions`.

Serializers carry comments rather than docstrings: drf-spectacular publishes a serializer's
docstring, untranslated, as its description in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets import access
from tickets.models import (
    Attachment,
    Channel,
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
)

User = get_user_model()


def helpdesk_users() -> QuerySet:
    """Users who may be given a ticket: active, and an agent profile or superuser."""
    return User.objects.filter(is_active=True).filter(
        Q(agent_profile__isnull=False) | Q(is_superuser=True)
    )


class VisibleChoicesMixin:
    # Narrows the objects a client may name (by id) to those the requesting user may see
    # (`tickets.access`): {field name: function of the user giving the queryset}. Someone else's
    # store, customer or order is answered like an id that does not exist.
    visible_choices: dict[str, Callable[[Any], QuerySet]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None:  # no request: schema generation, or a caller outside the API
            return
        for name, choices in self.visible_choices.items():
            self.fields[name].queryset = choices(user)


def _visible_channel_accounts(user) -> QuerySet:
    store_ids = access.visible_store_ids(user)
    accounts = ChannelAccount.objects.all()
    return accounts if store_ids is None else accounts.filter(store_id__in=store_ids)


# --- Small nested shapes ---------------------------------------------------------------------


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField(
        help_text=_("Full name, or the username when none is set.")
    )

    class Meta:
        model = User
        fields = ["id", "username", "name"]

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


class StoreSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "slug", "name"]


class TeamSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


# A connected account as agents may see it. Never add `secrets_encrypted` or `settings` here:
# settings hold provider configuration that may include tokens. (A comment, not a docstring:
# docstrings of serializers are published as descriptions in the OpenAPI schema.)
class ChannelAccountSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ChannelAccount
        fields = ["id", "public_id", "channel", "provider", "display_name"]


class CustomerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone"]


# --- Orders ----------------------------------------------------------------------------------


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["id", "external_id", "sku", "title", "quantity", "unit_price", "total"]


class ShipmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = [
            "id",
            "external_id",
            "carrier",
            "tracking_number",
            "tracking_url",
            "status",
            "shipped_at",
            "delivered_at",
        ]


# The order's own data, read and written alike.
ORDER_DATA_FIELDS = [
    "marketplace",
    "external_id",
    "number",
    "status",
    "currency",
    "subtotal",
    "shipping_total",
    "tax_total",
    "total",
    "placed_at",
]


class OrderSerializer(serializers.ModelSerializer):
    store = StoreSummarySerializer(read_only=True)
    channel_account = ChannelAccountSummarySerializer(read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "store",
            "channel_account",
            "customer",
            *ORDER_DATA_FIELDS,
            "updated_at",
        ]


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    shipments = ShipmentSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [
            *OrderSerializer.Meta.fields,
            "billing_address",
            "shipping_address",
            "lines",
            "shipments",
        ]


class OrderLineInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["external_id", "sku", "title", "quantity", "unit_price", "total"]


class ShipmentInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = [
            "external_id",
            "carrier",
            "tracking_number",
            "tracking_url",
            "status",
            "shipped_at",
            "delivered_at",
        ]


# An order recorded by hand or by an integration that has no webhook of its own.
class OrderCreateSerializer(serializers.ModelSerializer):
    store = serializers.PrimaryKeyRelatedField(
        queryset=Store.objects.all(), help_text=_("The store's id.")
    )
    channel_account = serializers.PrimaryKeyRelatedField(
        queryset=ChannelAccount.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The connected account the order came through, if any."),
    )
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The customer's id."),
    )
    lines = OrderLineInputSerializer(many=True, required=False)
    shipments = ShipmentInputSerializer(many=True, required=False)

    class Meta:
        model = Order
        fields = [
            "store",
            "channel_account",
            "customer",
            *ORDER_DATA_FIELDS,
            "billing_address",
            "shipping_address",
            "lines",
            "shipments",
        ]

    def validate_customer(self, customer: Customer | None) -> Customer | None:
        if customer is not None and customer.merged_into_id is not None:
            raise serializers.ValidationError(merged_customer_message(customer))
        return customer

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        account = attrs.get("channel_account")
        if account is not None and account.store_id != attrs["store"].pk:
            raise serializers.ValidationError(
                {"channel_account": _("This channel account belongs to another store.")}
            )
        return attrs


# --- Customers -------------------------------------------------------------------------------


def merged_customer_message(customer: Customer) -> str:
    return _("Customer %(id)s was merged into customer %(target)s; use that one.") % {
        "id": customer.pk,
        "target": customer.merged_into_id,
    }


class ChannelIdentitySerializer(serializers.ModelSerializer):
    account = ChannelAccountSummarySerializer(read_only=True)

    class Meta:
        model = ChannelIdentity
        fields = ["id", "kind", "value", "display_name", "account", "created_at"]


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "language",
            "time_zone",
            "country",
            "merged_into",
            "created_at",
            "updated_at",
        ]


class CustomerDetailSerializer(CustomerSerializer):
    identities = ChannelIdentitySerializer(many=True, read_only=True)

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "note", "identities"]


class CustomerMergeSerializer(VisibleChoicesMixin, serializers.Serializer):
    visible_choices = {"into": access.visible_customers}
    into = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        help_text=_("The customer who remains; everything of this customer moves to them."),
    )

    def validate_into(self, target: Customer) -> Customer:
        source: Customer = self.context["source"]
        if target.pk == source.pk:
            raise serializers.ValidationError(_("A customer cannot be merged into themselves."))
        if target.merged_into_id is not None:
            raise serializers.ValidationError(merged_customer_message(target))
        return target

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        source: Customer = self.context["source"]
        if source.merged_into_id is not None:
            raise serializers.ValidationError(
                _("This customer was already merged into customer %(target)s.")
                % {"target": source.merged_into_id}
            )
        return attrs


# --- Messages --------------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text=_("Where to download the file."))

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "content_id", "url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, attachment: Attachment) -> str:
        request = self.context.get("request")
        url = attachment.file.url
        return request.build_absolute_uri(url) if request is not None else url


class MessageSerializer(serializers.ModelSerializer):
    author_user = UserSummarySerializer(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "ticket",
            "direction",
            "author_type",
            "author_user",
            "author_customer",
            "channel",
            "subject",
            "body_text",
            "body_html",
            "delivery_state",
            "failure_reason",
            "created_at",
            "delivery_updated_at",
            "attachments",
        ]


# An agent's reply to the customer or an internal note. Replies are queued and sent on the
# ticket's channel; notes are seen by agents only.
class MessageCreateSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=[
            (Message.Direction.OUTBOUND, Message.Direction.OUTBOUND.label),
            (Message.Direction.NOTE, Message.Direction.NOTE.label),
        ],
        # No default on purpose: a note sent to a customer by mistake cannot be taken back.
        help_text=_('"outbound" for a reply to the customer, "note" for an internal note.'),
    )
    subject = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    body_text = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )
    body_html = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text=_("Optional HTML version; it is sanitised before it is stored."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        ticket: Ticket = self.context["ticket"]
        if ticket.merged_into_id is not None:
            raise serializers.ValidationError(
                _("Ticket %(id)s was merged into ticket %(target)s; write there.")
                % {"id": ticket.pk, "target": ticket.merged_into_id}
            )
        if not attrs["body_text"].strip() and not attrs["body_html"].strip():
            raise serializers.ValidationError(
                {"body_text": _("Write something: the message is empty.")}
            )
        return attrs


# --- Tickets ---------------------------------------------------------------------------------


class TicketSerializer(serializers.ModelSerializer):
    store = StoreSummarySerializer(read_only=True)
    channel_account = ChannelAccountSummarySerializer(read_only=True)
    customer = CustomerSummarySerializer(read_only=True)
    assignee = UserSummarySerializer(read_only=True)
    team = TeamSummarySerializer(read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "subject",
            "status",
            "priority",
            "channel",
            "store",
            "channel_account",
            "customer",
            "assignee",
            "team",
            "tags",
            "language",
            "is_spam",
            "merged_into",
            "created_at",
            "updated_at",
            "first_response_at",
            "last_customer_message_at",
            "last_agent_message_at",
            "solved_at",
            "closed_at",
            "first_response_due_at",
            "next_response_due_at",
            "resolution_due_at",
        ]


class TicketDetailSerializer(TicketSerializer):
    messages = MessageSerializer(many=True, read_only=True)
    orders = OrderDetailSerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "messages", "orders"]


# The fields an agent may set on a ticket, shared by creation and PATCH.
class TicketWriteSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=helpdesk_users(),
        required=False,
        allow_null=True,
        help_text=_("The agent's user id, or null to unassign."),
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The team's id, or null for no team."),
    )
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    # Tags by name. Unknown names are refused rather than created: administrators keep the tag
    # list, so that a typo does not become a new tag.
    tags = serializers.ListField(
        child=serializers.SlugRelatedField(slug_field="name", queryset=Tag.objects.all()),
        required=False,
        max_length=50,
        help_text=_("The complete list of tag names; it replaces the current tags."),
    )


class TicketCreateSerializer(VisibleChoicesMixin, TicketWriteSerializer):
    visible_choices = {
        "store": access.visible_stores,
        "customer": access.visible_customers,
        "channel_account": _visible_channel_accounts,
    }
    store = serializers.PrimaryKeyRelatedField(
        queryset=Store.objects.all(), help_text=_("The store's id.")
    )
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(), help_text=_("The customer's id.")
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices, help_text=_("Where the conversation happens.")
    )
    channel_account = serializers.PrimaryKeyRelatedField(
        queryset=ChannelAccount.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The connected account replies go out through."),
    )
    subject = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    language = serializers.CharField(
        max_length=8,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Defaults to the customer's language, then the store's."),
    )

    def validate_customer(self, customer: Customer) -> Customer:
        if customer.merged_into_id is not None:
            raise serializers.ValidationError(merged_customer_message(customer))
        return customer

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        account: ChannelAccount | None = attrs.get("channel_account")
        if account is not None:
            if account.store_id != attrs["store"].pk:
                raise serializers.ValidationError(
                    {"channel_account": _("This channel account belongs to another store.")}
                )
            if account.channel != attrs["channel"]:
                raise serializers.ValidationError(
                    {"channel_account": _("This channel account is on another channel.")}
                )
        return attrs


class TicketUpdateSerializer(TicketWriteSerializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                _("Send at least one of: status, assignee, team, priority, tags.")
            )
        return attrs


class LinkOrderSerializer(VisibleChoicesMixin, serializers.Serializer):
    visible_choices = {"order": access.visible_orders}
    order = serializers.PrimaryKeyRelatedField(
        queryset=Order.objects.all(), help_text=_("The order's id.")
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        read_only=True, help_text=_('Send it as "Authorization: Token <token>".')
    )
