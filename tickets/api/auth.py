"""`POST /api/v1/auth/token/`: trade a helpdesk user's username and password for an API token.

Scripts and integrations then send `Authorization: Token <key>`. A user keeps one token; asking
again returns the same one (revoke it in the Django admin to issue a new one).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from tickets.api.serializers import TokenSerializer
from tickets.roles import role_of


class TokenRequestThrottle(SimpleRateThrottle):
    """At most `rate` attempts per username, wherever they come from.

    Keyed on the username rather than the client address: addresses are cheap to rotate (and
    X-Forwarded-For is easy to forge), so a per-address limit would not stop password guessing
    against one account. The price is that someone can hold up one user's token requests for a
    minute; the web login is not affected.
    """

    scope = "api-token"
    rate = "10/minute"

    @classmethod
    def key_for(cls, username: str) -> str:
        # Hashed: usernames have no business in the cache, and the key stays short and plain.
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        return cls.cache_format % {"scope": cls.scope, "ident": digest}

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None  # nothing to guess against; the serializer will refuse it
        return self.key_for(username)


class ObtainTokenView(ObtainAuthToken):
    # The credentials are in the body; a session or an old token must not stand in for them.
    authentication_classes: list = []
    throttle_classes = [TokenRequestThrottle]

    @extend_schema(
        summary=_("Get an API token"),
        description=_(
            'Send a helpdesk user\'s username and password; use the token as "Authorization: Token <token>". '
            "Asking again returns the same token."
        ),
        tags=["auth"],
        request=AuthTokenSerializer,
        responses={200: TokenSerializer},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if role_of(user) is None:
            raise PermissionDenied(_("This account is not a helpdesk user."))
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
