"""Bulk actions over the API, the same as the inbox's toolbar:

    POST tickets/bulk/  {"action": "status", "tickets": [12, 13], "status": "solved"}

Answers 200 with the tickets done, unchanged and refused (each with the reason); 400 when the
request itself is wrong (unknown action, missing choice), nothing changed then.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets.api.permissions import HasHelpdeskRole
from tickets.inbox.bulk import ACTIONS, MAX_TICKETS, BulkError, apply_bulk_action
from tickets.inbox.counts import forget_counts
from tickets.models import Ticket


class BulkActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[(a, a) for a in ACTIONS])
    tickets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_TICKETS
    )
    assignee = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("assign: the agent's user id.")
    )
    unassign = serializers.BooleanField(
        required=False, default=False, help_text=_("assign: leave the tickets with no agent.")
    )
    team = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("assign: the team's id.")
    )
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    tag = serializers.IntegerField(required=False, help_text=_("tag: the tag's id."))
    merge_target = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=_("merge: one of the tickets (default: the oldest)."),
    )


class RefusedSerializer(serializers.Serializer):
    ticket = serializers.IntegerField()
    reason = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    done = serializers.ListField(child=serializers.IntegerField())
    unchanged = serializers.ListField(child=serializers.IntegerField())
    refused = RefusedSerializer(many=True)


class TicketBulkView(APIView):
    permission_classes = [HasHelpdeskRole]

    @extend_schema(
        request=BulkActionSerializer,
        responses={200: BulkResultSerializer},
        summary="Act on several tickets",
    )
    def post(self, request: Request) -> Response:
        serializer = BulkActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = apply_bulk_action(
                request.user,
                data["tickets"],
                data["action"],
                assignee_id=data.get("assignee"),
                unassign=data.get("unassign", False),
                team_id=data.get("team"),
                status=data.get("status", ""),
                tag_id=data.get("tag"),
                merge_target_id=data.get("merge_target"),
            )
        except BulkError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        forget_counts(request.user)
        return Response(
            {
                "done": result.done,
                "unchanged": result.unchanged,
                "refused": [{"ticket": pk, "reason": reason} for pk, reason in result.refused],
            }
        )
