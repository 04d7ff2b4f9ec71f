"""Request middleware of the helpdesk."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class AgentLanguageMiddleware:
    """Speak the signed-in agent's profile language.

    An explicit choice from the language switcher (Django's language cookie) still wins; the
    browser's Accept-Language only decides for visitors and agents without a profile language.
    Must come after AuthenticationMiddleware and LocaleMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            user = getattr(request, "user", None)
            profile = getattr(user, "agent_profile", None) if user is not None and user.is_authenticated else None
            if profile is not None and profile.language in self.supported:
                translation.activate(profile.language)
                request.LANGUAGE_CODE = profile.language
        return self.get_response(request)
