"""Order actions and unlinking over the API:
POST tickets/{id}/orders/{order_id}/refund/ | cancel/ | note/ | unlink/.

An API call is the confirmation: the caller states exactly what to do. The answer says whether
the shop accepted (200) or refused (502, with the shop's error); both are on the ticket's
timeline.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets import order_actions
from tickets.api.permissions import HasHelpdeskRole
from tickets.models import Ticket
from tickets.orders import unlink_order


class RefundLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text=_("The order line's id (as in the order's `lines`)."))
    quantity = serializers.IntegerField(min_value=1)


class OrderActionSerializer(serializers.Serializer):
    lines = RefundLineSerializer(many=True, required=False, help_text=_("Refund: these lines only; omit for all."))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class OrderActionResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    action = serializers.CharField()
    message = serializers.CharField(help_text=_("The shop's answer or error."))
    event = serializers.IntegerField(help_text=_("The timeline event recording it."))


class TicketOrderActionView(APIView):
    permission_classes = [HasHelpdeskRole]

    @extend_schema(
        tags=["tickets"], operation_id="tickets_order_action",
        summary=_("Refund, cancel, note or unlink an order of the ticket"),
        parameters=[
            OpenApiParameter("ticket_id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The ticket's id.")),
            OpenApiParameter("order_id", OpenApiTypes.INT, OpenApiParameter.PATH,
                             description=_("The id of an order linked to the ticket.")),
            OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["refund", "cancel", "note", "unlink"],
                             description=_("Shopify: refund, cancel, note; WooCommerce: refund, note; any: unlink.")),
        ],
        request=OrderActionSerializer, responses={200: OrderActionResultSerializer, 502: OrderActionResultSerializer},
    )
    def post(self, request: Request, ticket_id: int, order_id: int, action: str) -> Response:
        ticket = get_object_or_404(Ticket.objects.visible_to(request.user), pk=ticket_id)
        order = get_object_or_404(ticket.orders.select_related("channel_account"), pk=order_id)
        if action == "unlink":
            unlink_order(ticket=ticket, order=order, actor=request.user)
            return Response({"ok": True, "action": "unlink", "message": "", "event": None})
        serializer = OrderActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        options = {
            "lines": [(item["line"], item["quantity"]) for item in data.get("lines", [])],
            "reason": data.get("reason", ""),
            "note": data.get("note", ""),
        }
        try:
            result = order_actions.run_order_action(ticket=ticket, order=order, action=action, actor=request.user,
                                                    **options)
        except order_actions.OrderActionNotAllowed as exc:
            raise ValidationError({"detail": str(exc)}) from None
        body = {"ok": result.ok, "action": result.action, "message": result.message, "event": result.event.pk}
        return Response(body, status=status.HTTP_200_OK if result.ok else status.HTTP_502_BAD_GATEWAY)
