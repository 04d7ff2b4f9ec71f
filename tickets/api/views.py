"""REST endpoints for tickets, messages, customers and orders (mounted at /api/v1/).

Views validate input, call `tickets.actions` for every change and render the result; they hold
no business rules of their own. Who may call what is in `tickets.api.permissions`.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from tickets import access, actions
from tickets.api.filters import (
    CustomerFilterSerializer,
    OrderFilterSerializer,
    TicketFilterSerializer,
)
from tickets.api.pagination import (
    CustomerPagination,
    MessagePagination,
    OrderPagination,
    TicketPagination,
)
from tickets.api.permissions import HasHelpdeskRole
from tickets.api.serializers import (
    CustomerDetailSerializer,
    CustomerMergeSerializer,
    CustomerSerializer,
    LinkOrderSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from tickets.models import AgentProfile, ChannelIdentity, Customer, Message, Order, Ticket


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Someone else changed this at the same time; reload and try again.")
    default_code = "conflict"


# Authentication and permissions shared by every helpdesk endpoint. Views here carry comments,
# not docstrings: drf-spectacular would publish a docstring, untranslated, as the description of
# every operation of the view.
class HelpdeskAPIMixin:
    permission_classes = [HasHelpdeskRole]
    # {action: minimum role} for actions stricter than "any helpdesk user"; see permissions.py.
    required_roles: dict[str, str] = {}


def messages_prefetch() -> Prefetch:
    return Prefetch(
        "messages",
        queryset=Message.objects.select_related("author_user").prefetch_related("attachments"),
    )


def orders_with_details() -> QuerySet[Order]:
    return Order.objects.select_related("store", "channel_account").prefetch_related(
        "lines", "shipments"
    )


def apply_ticket_changes(*, ticket: Ticket, changes: dict[str, Any], actor: Any) -> None:
    """Hand each requested change to its action; each one records its own timeline event."""
    if "status" in changes:
        actions.change_status(ticket=ticket, status=changes["status"], actor=actor)
    if "assignee" in changes:
        actions.assign_ticket(ticket=ticket, assignee=changes["assignee"], actor=actor)
    if "team" in changes:
        actions.set_team(ticket=ticket, team=changes["team"], actor=actor)
    if "priority" in changes:
        actions.set_priority(ticket=ticket, priority=changes["priority"], actor=actor)
    if "tags" in changes:
        actions.set_tags(ticket=ticket, tags=changes["tags"], actor=actor)


@extend_schema_view(
    list=extend_schema(summary=_("List tickets"), parameters=[TicketFilterSerializer]),
    retrieve=extend_schema(summary=_("A ticket with its messages, orders and tags")),
)
@extend_schema(tags=["tickets"])
class TicketViewSet(
    HelpdeskAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    pagination_class = TicketPagination
    # No PUT (a ticket is changed field by field, each through its action) and no DELETE.
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Ticket.objects.all()

    def get_queryset(self) -> QuerySet[Ticket]:
        queryset = (
            Ticket.objects.visible_to(self.request.user)
            .select_related("store", "channel_account", "customer", "assignee", "team")
            .prefetch_related("tags")
        )
        return self.with_details(queryset) if self.action == "retrieve" else queryset

    @staticmethod
    def with_details(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        """Everything `TicketDetailSerializer` reads, in a fixed number of queries."""
        return queryset.prefetch_related(
            messages_prefetch(), Prefetch("orders", queryset=orders_with_details())
        )

    def get_serializer_class(self) -> type:
        return {
            "list": TicketSerializer,
            "create": TicketCreateSerializer,
            "partial_update": TicketUpdateSerializer,
            "link_order": LinkOrderSerializer,
        }.get(self.action, TicketDetailSerializer)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = TicketFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(filters.filter(self.get_queryset(), request.user))
        return self.get_paginated_response(
            TicketSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    def render_detail(self, ticket_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        """The ticket as `retrieve` shows it, read again after a change."""
        ticket = self.with_details(self.get_queryset()).get(pk=ticket_id)
        serializer = TicketDetailSerializer(ticket, context=self.get_serializer_context())
        return Response(serializer.data, status=status_code)

    @extend_schema(summary=_("Open a ticket"), responses={201: TicketDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        with transaction.atomic():
            ticket = actions.create_ticket(
                store=data.pop("store"),
                channel=data.pop("channel"),
                customer=data.pop("customer"),
                channel_account=data.pop("channel_account", None),
                subject=data.pop("subject"),
                language=data.pop("language"),
                priority=data.pop("priority", Ticket.Priority.NORMAL),
                actor=request.user,
            )
            apply_ticket_changes(ticket=ticket, changes=data, actor=request.user)
        return self.render_detail(ticket.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary=_("Change status, assignee, team, priority or tags"),
        request=TicketUpdateSerializer,
        responses={200: TicketDetailSerializer},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            apply_ticket_changes(
                ticket=ticket, changes=serializer.validated_data, actor=request.user
            )
        return self.render_detail(ticket.pk)

    @extend_schema(
        summary=_("Link an order to the ticket"),
        request=LinkOrderSerializer,
        responses={
            201: OpenApiResponse(OrderDetailSerializer, description=_("Linked.")),
            200: OpenApiResponse(OrderDetailSerializer, description=_("It was linked already.")),
        },
    )
    @action(detail=True, methods=["post"], url_path="orders")
    def link_order(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = serializer.validated_data["order"]
        linked = actions.link_order(ticket=ticket, order=order, actor=request.user)
        order = orders_with_details().get(pk=order.pk)
        return Response(
            OrderDetailSerializer(order, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if linked else status.HTTP_200_OK,
        )


@extend_schema_view(
    list=extend_schema(summary=_("A ticket's messages, oldest first")),
    create=extend_schema(
        summary=_("Reply to the customer or add an internal note"),
        request=MessageCreateSerializer,
        responses={201: MessageSerializer},
    ),
)
@extend_schema(
    tags=["tickets"],
    parameters=[
        OpenApiParameter(
            "ticket_id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The ticket's id.")
        )
    ],
)
class TicketMessageViewSet(HelpdeskAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    pagination_class = MessagePagination
    serializer_class = MessageSerializer
    queryset = Message.objects.all()

    def get_ticket(self) -> Ticket:
        if not hasattr(self, "_ticket"):
            tickets = Ticket.objects.visible_to(self.request.user)
            self._ticket = get_object_or_404(tickets, pk=self.kwargs["ticket_id"])
        return self._ticket

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no ticket
            return Message.objects.none()
        return (
            Message.objects.filter(ticket=self.get_ticket())
            .select_related("author_user")
            .prefetch_related("attachments")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_ticket()
        serializer = MessageCreateSerializer(
            data=request.data, context={**self.get_serializer_context(), "ticket": ticket}
        )
        serializer.is_valid(raise_exception=True)
        message = actions.add_message(
            ticket=ticket, author_user=request.user, **serializer.validated_data
        )
        message = self.get_queryset().get(pk=message.pk)
        return Response(
            MessageSerializer(message, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema_view(
    list=extend_schema(
        summary=_("List or search customers"), parameters=[CustomerFilterSerializer]
    ),
    retrieve=extend_schema(summary=_("A customer with their channel identities")),
)
@extend_schema(tags=["customers"])
class CustomerViewSet(
    HelpdeskAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    pagination_class = CustomerPagination
    required_roles = {"merge": AgentProfile.Role.MANAGER}
    queryset = Customer.objects.all()

    def get_queryset(self) -> QuerySet[Customer]:
        # Merged customers stay reachable by id, so that old links still resolve.
        return access.visible_customers(self.request.user).prefetch_related(
            Prefetch(
                "identities",
                queryset=ChannelIdentity.objects.select_related("account").order_by("pk"),
            )
        )

    def get_serializer_class(self) -> type:
        return CustomerSerializer if self.action == "list" else CustomerDetailSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = CustomerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        # The list shows no identities: skip their prefetch.
        page = self.paginate_queryset(filters.filter(access.visible_customers(request.user)))
        return self.get_paginated_response(
            CustomerSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary=_("Merge this customer into another"),
        description=_(
            "Moves this customer's identities, tickets, orders and messages to the customer given in "
            "`into`. This customer is kept as a pointer to that one. Managers and administrators only."
        ),
        request=CustomerMergeSerializer,
        responses={200: CustomerDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        source = self.get_object()
        serializer = CustomerMergeSerializer(
            data=request.data, context={**self.get_serializer_context(), "source": source}
        )
        serializer.is_valid(raise_exception=True)
        try:
            target = actions.merge_customers(
                source=source, target=serializer.validated_data["into"], actor=request.user
            )
        except ValueError:
            # Another merge of the same customer committed between our checks and the row locks.
            raise Conflict() from None
        target = self.get_queryset().get(pk=target.pk)
        return Response(
            CustomerDetailSerializer(target, context=self.get_serializer_context()).data
        )


@extend_schema_view(
    list=extend_schema(summary=_("List orders"), parameters=[OrderFilterSerializer]),
    retrieve=extend_schema(summary=_("An order with its lines and shipments")),
)
@extend_schema(tags=["orders"])
class OrderViewSet(
    HelpdeskAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    pagination_class = OrderPagination
    required_roles = {"create": AgentProfile.Role.ADMIN}
    queryset = Order.objects.all()

    def get_queryset(self) -> QuerySet[Order]:
        visible = access.visible_orders(self.request.user)
        if self.action == "list":
            return visible.select_related("store", "channel_account")
        return visible.select_related("store", "channel_account").prefetch_related("lines", "shipments")

    def get_serializer_class(self) -> type:
        return {"list": OrderSerializer, "create": OrderCreateSerializer}.get(
            self.action, OrderDetailSerializer
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(filters.filter(self.get_queryset()))
        return self.get_paginated_response(
            OrderSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary=_("Record an order (administrators only)"), responses={201: OrderDetailSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        lines = [dict(line) for line in data.pop("lines", [])]
        shipments = [dict(shipment) for shipment in data.pop("shipments", [])]
        try:
            order = actions.create_order(lines=lines, shipments=shipments, **data)
        except IntegrityError:
            # The same marketplace order was recorded by a webhook between validation and insert.
            raise Conflict(_("This order exists already in this store.")) from None
        order = orders_with_details().get(pk=order.pk)
        return Response(
            OrderDetailSerializer(order, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
