"""Query-string filters for the list endpoints.

Each filter is a small serializer: it validates the query string (a bad value is a 400 that
says which parameter is wrong, never a silently empty list), turns it into queryset conditions,
and documents the parameters in the OpenAPI schema through `extend_schema(parameters=[...])`.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tickets.models import Channel, ChannelIdentity, Ticket

# Spaces, dashes, dots and brackets people type inside phone numbers.
PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
# Primary keys are PostgreSQL bigints: a larger number would be a database error, not a miss.
MAX_ID = 2**63 - 1


def parse_id(value: str) -> int | None:
    """A primary key written in a query string, or None when it is not one."""
    value = value.strip()
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


class TicketFilterSerializer(serializers.Serializer):
    status = serializers.CharField(
        required=False,
        help_text=_("One status or several separated by commas, e.g. new,open,pending."),
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, help_text=_("The channel.")
    )
    store = serializers.CharField(required=False, help_text=_("A store's id or slug."))
    assignee = serializers.CharField(
        required=False,
        help_text=_(
            'An agent\'s user id, "me" for your own tickets or "none" for unassigned ones.'
        ),
    )
    customer = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("A customer's id.")
    )
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text=_(
            "Full-text search in subjects, messages, customer names, email addresses, phone numbers "
            "and order numbers (every word must match; accents and word endings do not matter)."
        ),
    )

    def validate_status(self, value: str) -> list[str]:
        statuses = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [status for status in statuses if status not in Ticket.Status.values]
        if unknown or not statuses:
            raise serializers.ValidationError(
                _("Unknown status %(value)s; use one or more of: %(choices)s.")
                % {"value": ", ".join(unknown) or '""', "choices": ", ".join(Ticket.Status.values)}
            )
        return statuses

    def validate_assignee(self, value: str) -> str | int:
        value = value.strip().lower()
        if value in ("me", "none"):
            return value
        user_id = parse_id(value)
        if user_id is not None:
            return user_id
        raise serializers.ValidationError(_('Use a user id, "me" or "none".'))

    def filter(self, queryset: QuerySet[Ticket], user: Any) -> QuerySet[Ticket]:
        """Apply the validated filters; call after `is_valid()`."""
        data = self.validated_data
        if "status" in data:
            queryset = queryset.filter(status__in=data["status"])
        if "channel" in data:
            queryset = queryset.filter(channel=data["channel"])
        if "store" in data:
            store = data["store"].strip()
            store_id = parse_id(store)
            queryset = (
                queryset.filter(store_id=store_id)
                if store_id
                else queryset.filter(store__slug=store)
            )
        if "assignee" in data:
            assignee = data["assignee"]
            if assignee == "me":
                queryset = queryset.filter(assignee=user)
            elif assignee == "none":
                queryset = queryset.filter(assignee__isnull=True)
            else:
                queryset = queryset.filter(assignee_id=assignee)
        if "customer" in data:
            queryset = queryset.filter(customer_id=data["customer"])
        if data.get("q", "").strip():
            from tickets.search import matching

            queryset = matching(queryset, data["q"])
        return queryset


class CustomerFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        min_length=2,
        help_text=_("Search in names, email addresses, phone numbers and channel handles."),
    )
    include_merged = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Also list customers that were merged into another one."),
    )

    def filter(self, queryset: QuerySet) -> QuerySet:
        data = self.validated_data
        if not data["include_merged"]:
            queryset = queryset.filter(merged_into__isnull=True)
        query = data.get("q", "").strip()
        if query:
            phone = PHONE_PUNCTUATION.sub("", query)
            # Exists() rather than a join: a customer with three matching handles is one row.
            handle_matches = ChannelIdentity.objects.filter(customer=OuterRef("pk")).filter(
                Q(value__icontains=query) | Q(display_name__icontains=query)
            )
            condition = (
                Q(name__icontains=query) | Q(email__icontains=query) | Exists(handle_matches)
            )
            if phone:
                condition |= Q(phone__icontains=phone)
            queryset = queryset.filter(condition)
        return queryset


class OrderFilterSerializer(serializers.Serializer):
    customer = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("A customer's id.")
    )
    number = serializers.CharField(
        required=False,
        help_text=_(
            "The order number the customer sees, or the marketplace's order id; exact match."
        ),
    )

    def filter(self, queryset: QuerySet) -> QuerySet:
        data = self.validated_data
        if "customer" in data:
            queryset = queryset.filter(customer_id=data["customer"])
        number = data.get("number", "").strip()
        if number:
            condition = Q(number__iexact=number) | Q(external_id=number)
            if not number.startswith("#"):
                # Shops show "#1001" and customers type "1001".
                condition |= Q(number__iexact=f"#{number}")
            queryset = queryset.filter(condition)
        return queryset
