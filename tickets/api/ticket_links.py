"""Merging, splitting and linking tickets over the API:

    POST   tickets/{id}/merge/            {"target": 12}              merge ticket {id} into 12
    POST   tickets/{id}/split/            {"message": 345, "subject"}  the message becomes a new ticket
    GET    tickets/{id}/links/                                         the ticket's links, both ways
    POST   tickets/{id}/links/            {"ticket": 12, "kind"}       link {id} to 12
    DELETE tickets/{id}/links/{link_id}/                               remove a link

The same actions as the ticket page (`tickets.actions.merge_tickets`, `tickets.ticket_actions`).
A ticket the caller cannot see is answered like one that does not exist; a refused action is 409
with the reason.
"""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets import access, actions, ticket_actions
from tickets.api.permissions import HasHelpdeskRole
from tickets.models import Message, Ticket, TicketLink

TICKET_ID = OpenApiParameter("ticket_id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The ticket's id."))


class Refused(APIException):
    status_code = status.HTTP_409_CONFLICT


def _visible_ticket(request: Request, pk: int) -> Ticket:
    return get_object_or_404(access.visible_tickets(request.user), pk=pk)


class MergeSerializer(serializers.Serializer):
    target = serializers.IntegerField(help_text=_("The ticket that keeps everything."))


class SplitSerializer(serializers.Serializer):
    message = serializers.IntegerField(help_text=_("The id of a message of this ticket."))
    subject = serializers.CharField(required=False, allow_blank=True, max_length=500)


class LinkSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(help_text=_("The other ticket's id."))
    kind = serializers.ChoiceField(choices=TicketLink.Kind.choices, default=TicketLink.Kind.RELATED)


class LinkViewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    from_ticket = serializers.IntegerField(source="from_ticket_id")
    to_ticket = serializers.IntegerField(source="to_ticket_id")
    created_at = serializers.DateTimeField()


class TicketMergeView(APIView):
    permission_classes = [HasHelpdeskRole]

    @extend_schema(tags=["tickets"], operation_id="tickets_merge", parameters=[TICKET_ID],
                   summary=_("Merge this ticket into another"), request=MergeSerializer,
                   responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, ticket_id: int) -> Response:
        source = _visible_ticket(request, ticket_id)
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = _visible_ticket(request, serializer.validated_data["target"])
        try:
            actions.merge_tickets(source=source, target=target, actor=request.user)
        except ticket_actions.TicketActionError as error:
            raise Refused(str(error)) from None
        return Response({"source": source.pk, "target": target.pk})


class TicketSplitView(APIView):
    permission_classes = [HasHelpdeskRole]

    @extend_schema(tags=["tickets"], operation_id="tickets_split", parameters=[TICKET_ID],
                   summary=_("Move one message into a new ticket"), request=SplitSerializer,
                   responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, ticket_id: int) -> Response:
        ticket = _visible_ticket(request, ticket_id)
        serializer = SplitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = get_object_or_404(Message, pk=serializer.validated_data["message"], ticket=ticket)
        try:
            new = ticket_actions.split_message(message=message, actor=request.user,
                                               subject=serializer.validated_data.get("subject", ""))
        except ticket_actions.TicketActionError as error:
            raise Refused(str(error)) from None
        return Response({"ticket": new.pk, "message": message.pk, "from_ticket": ticket.pk},
                        status=status.HTTP_201_CREATED)


class TicketLinksView(APIView):
    permission_classes = [HasHelpdeskRole]

    @extend_schema(tags=["tickets"], operation_id="tickets_links_list", parameters=[TICKET_ID],
                   summary=_("The ticket's links to other tickets, both ways"),
                   responses={200: LinkViewSerializer(many=True)})
    def get(self, request: Request, ticket_id: int) -> Response:
        ticket = _visible_ticket(request, ticket_id)
        visible = access.visible_tickets(request.user).values("pk")
        links = TicketLink.objects.filter(
            Q(from_ticket=ticket, to_ticket__in=visible) | Q(to_ticket=ticket, from_ticket__in=visible)
        ).order_by("created_at", "pk")
        return Response(LinkViewSerializer(links, many=True).data)

    @extend_schema(tags=["tickets"], operation_id="tickets_links_create", parameters=[TICKET_ID],
                   summary=_("Link the ticket to another"), request=LinkSerializer,
                   responses={201: LinkViewSerializer})
    def post(self, request: Request, ticket_id: int) -> Response:
        ticket = _visible_ticket(request, ticket_id)
        serializer = LinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        other = _visible_ticket(request, serializer.validated_data["ticket"])
        try:
            link = ticket_actions.link_tickets(ticket=ticket, other=other, kind=serializer.validated_data["kind"],
                                               actor=request.user)
        except ticket_actions.TicketActionError as error:
            raise Refused(str(error)) from None
        return Response(LinkViewSerializer(link).data, status=status.HTTP_201_CREATED)


class TicketLinkView(APIView):
    permission_classes = [HasHelpdeskRole]

    @extend_schema(tags=["tickets"], operation_id="tickets_links_destroy",
                   parameters=[TICKET_ID, OpenApiParameter("link_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
                   summary=_("Remove a link"), responses={204: None})
    def delete(self, request: Request, ticket_id: int, link_id: int) -> Response:
        ticket = _visible_ticket(request, ticket_id)
        link = get_object_or_404(TicketLink.objects.filter(Q(from_ticket=ticket) | Q(to_ticket=ticket)), pk=link_id)
        ticket_actions.unlink_tickets(link=link, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
