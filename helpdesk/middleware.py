"""Request middleware of the helpdesk. Each one runs in both sync and async stacks, so that
under ASGI no request pays a thread hop for it."""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class AgentLanguageMiddleware:
    """Speak the signed-in agent's profile language.

    An explicit choice from the language switcher (Django's language cookie) still wins; the
    browser's Accept-Language only decides for visitors and agents without a profile language.
    Must come after AuthenticationMiddleware and LocaleMiddleware. The user is only loaded when
    there is a session, so webhooks and anonymous pages never pay for it.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def _language_for(self, user) -> str | None:
        if user is None or not user.is_authenticated:
            return None
        profile = getattr(user, "agent_profile", None)
        if profile is not None and profile.language in self.supported:
            return profile.language
        return None

    def _wants_profile_language(self, request: HttpRequest) -> bool:
        return (
            settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
            and settings.SESSION_COOKIE_NAME in request.COOKIES
        )

    def _apply(self, request: HttpRequest, language: str | None) -> None:
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        if self._wants_profile_language(request):
            self._apply(request, self._language_for(getattr(request, "user", None)))
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if self._wants_profile_language(request):
            from asgiref.sync import sync_to_async

            user = await request.auser()
            self._apply(request, await sync_to_async(self._language_for)(user))
        return await self.get_response(request)
