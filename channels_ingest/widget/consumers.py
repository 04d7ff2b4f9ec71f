"""The visitor's WebSocket: `ws/widget/<public key>/`.

The socket is refused (before the handshake completes) unless the widget exists, is enabled and
the page's Origin is one the store allows. The visitor's token is never in the URL: the widget's
first frame is `{"type": "hello", "token": ...}` (no token for a new visitor). A conversation
is created with the visitor's first message, and its token sent back once (`{"type": "token"}`).

From the widget:  hello, message {text, client_id}, typing {typing}, ack {ids, state},
                  email {email}, ping.
To the widget:    ready {messages, greeting, handed_off, email}, token, message {message},
                  typing {from: "agent"}, handoff, email_saved, pong, error {code, message}.

The socket only ever joins its own conversation's group, and everything sent on it is built by
`conversations.public_message` / `transcript_payload`: no notes, no agents' addresses, nothing
of another conversation.
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_ingest.widget import conversations, limits
from channels_ingest.widget.conversations import WidgetError
from channels_ingest.widget.models import WidgetConversation, WidgetSettings

# Close codes (4000-4999 are the application's): the widget shows a quiet "chat unavailable".
CLOSE_UNKNOWN_WIDGET = 4404
CLOSE_ORIGIN_REFUSED = 4403
CLOSE_TOO_MANY = 4429
# A frame longer than this is refused without being parsed.
MAX_FRAME_BYTES = 16 * 1024
TYPING_MIN_INTERVAL_SECONDS = 2.0


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def client_address(scope) -> str:
    client = scope.get("client") or ("unknown", 0)
    return str(client[0])


class WidgetConsumer(AsyncJsonWebsocketConsumer):
    widget: WidgetSettings
    conversation_id: int | None = None
    greeted = False
    last_typing = 0.0
    chosen_language = ""  # the language the shop page asked for, if any

    async def connect(self) -> None:
        key = self.scope["url_route"]["kwargs"]["public_key"]
        self.widget = await database_sync_to_async(conversations.widget_for_key)(key)
        if self.widget is None:
            await self.close(code=CLOSE_UNKNOWN_WIDGET)
            return
        if not self.widget.allows_origin(_header(self.scope, b"origin")):
            await self.close(code=CLOSE_ORIGIN_REFUSED)
            return
        if await database_sync_to_async(limits.hit)("connect", client_address(self.scope)):
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.language = self.widget.conversation_language
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(self._group, self.channel_name)
            await database_sync_to_async(_leave)(self.conversation_id, self.channel_name)

    @property
    def _group(self) -> str:
        return WidgetConversation(pk=self.conversation_id).group_name

    # --- Frames from the widget -------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if text_data is not None and len(text_data.encode()) > MAX_FRAME_BYTES:
            await self._error(WidgetError("too_long", self._translated(_too_long_text)))
            return
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self._error(WidgetError("invalid", self._translated(lambda: _("The message could not be read."))))
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
            return
        if not self.greeted:
            await self._error(WidgetError("hello_first", "hello first"))
            return
        try:
            if kind == "message":
                await self._message(content)
            elif kind == "typing":
                await self._typing(content)
            elif kind == "ack":
                if self.conversation_id is not None:
                    await database_sync_to_async(_acknowledge)(self.conversation_id, content.get("ids"),
                                                               str(content.get("state") or ""))
            elif kind == "email":
                await self._email(content)
            elif kind == "ping":
                if self.conversation_id is not None:
                    await database_sync_to_async(limits.socket_seen)(self.conversation_id, self.channel_name)
                await self.send_json({"type": "pong"})
        except WidgetError as error:
            await self._error(error)

    async def _hello(self, content: dict) -> None:
        if self.greeted:
            return
        requested = str(content.get("language") or "")
        if requested in {code for code, _name in settings.LANGUAGES}:
            self.language = self.chosen_language = requested
        token = content.get("token")
        conversation = None
        if token:
            conversation = await database_sync_to_async(conversations.find_conversation)(self.widget, token)
        self.greeted = True
        if conversation is None:
            greeting = await database_sync_to_async(conversations.greeting)(self.widget, self.language)
            options = await database_sync_to_async(conversations.menu_options)(
                self.widget, language=self.language)
            await self.send_json({"type": "ready", "conversation": False, "reset": bool(token),
                                  "messages": [], "greeting": greeting, "options": options,
                                  "handed_off": False, "email": ""})
            return
        self.language = conversation.language
        await self._join(conversation.pk)
        history = await database_sync_to_async(_history)(conversation.pk)
        await self.send_json({"type": "ready", "conversation": True, **history})

    async def _join(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        await self.channel_layer.group_add(self._group, self.channel_name)
        await database_sync_to_async(_arrive)(conversation_id, self.channel_name)

    async def _message(self, content: dict) -> None:
        text = await self._in_language(conversations.clean_text, content.get("text"))
        if self.conversation_id is None:
            blocked = await database_sync_to_async(limits.hit)("conversation", client_address(self.scope))
            if blocked:
                raise self._rate_limited(blocked)
            conversation, token = await database_sync_to_async(conversations.start_conversation)(
                self.widget, language=self.language, page_url=str(content.get("page") or ""),
            )
            await self._join(conversation.pk)
            await self.send_json({"type": "token", "token": token})
        blocked = await database_sync_to_async(limits.hit)("message", str(self.conversation_id))
        if blocked:
            raise self._rate_limited(blocked)
        said = await database_sync_to_async(_say)(self.conversation_id, text, str(content.get("client_id") or ""),
                                                  self.chosen_language)
        self.language = said.language or self.language
        for event in said.events:
            await self.channel_layer.group_send(self._group, {"type": "widget.event", "event": event})

    async def _typing(self, content: dict) -> None:
        now = time.monotonic()
        typing = bool(content.get("typing"))
        if self.conversation_id is None or (typing and now - self.last_typing < TYPING_MIN_INTERVAL_SECONDS):
            return
        self.last_typing = now if typing else 0.0
        await database_sync_to_async(_typing)(self.conversation_id, typing)

    async def _email(self, content: dict) -> None:
        if self.conversation_id is None:
            raise WidgetError("no_conversation", self._translated(lambda: _("Write a message first.")))
        email = await database_sync_to_async(_set_email)(self.conversation_id, str(content.get("email") or ""),
                                                         self.language)
        await self.send_json({"type": "email_saved", "email": email})

    # --- Events for the conversation's sockets ------------------------------------------------------

    async def widget_event(self, event: dict) -> None:
        await self.send_json(event["event"])

    # --- Helpers -------------------------------------------------------------------------------------

    def _translated(self, make):
        with translation.override(self.language):
            return str(make())

    async def _in_language(self, function, *args):
        with translation.override(self.language):
            return function(*args)

    def _rate_limited(self, blocked: limits.RateLimited) -> WidgetError:
        with translation.override(self.language):
            return WidgetError(
                "rate_limited",
                _("You are sending messages too quickly. Please wait %(seconds)s seconds.")
                % {"seconds": blocked.retry_after},
                retry_after=blocked.retry_after,
            )

    async def _error(self, error: WidgetError) -> None:
        await self.send_json(error.payload())


def _too_long_text() -> str:
    return _("The message is too long: at most %(limit)s characters.") % {"limit": conversations.max_message_chars()}


# Synchronous parts, run in the database thread.


def _arrive(conversation_id: int, channel_name: str) -> None:
    limits.socket_seen(conversation_id, channel_name)
    conversations.touch(conversation_id)


def _leave(conversation_id: int, channel_name: str) -> None:
    limits.socket_gone(conversation_id, channel_name)
    conversations.touch(conversation_id)


def _conversation(conversation_id: int) -> WidgetConversation:
    return (
        WidgetConversation.objects.select_related("settings", "settings__store", "settings__account", "ticket",
                                                  "ticket__customer")
        .get(pk=conversation_id)
    )


def _history(conversation_id: int) -> dict:
    conversation = _conversation(conversation_id)
    with translation.override(conversation.language):
        greeting = conversations.greeting(conversation.settings, conversation.language)
        options = [] if conversation.ticket_id else conversations.menu_options(
            conversation.settings, conversation.state, language=conversation.language)
    return {
        "messages": conversations.public_history(conversation),
        "greeting": greeting,
        "options": options,
        "handed_off": conversation.ticket_id is not None,
        "email": conversation.visitor_email,
    }


def _say(conversation_id: int, text: str, client_id: str, language: str) -> conversations.Said:
    conversation = _conversation(conversation_id)
    with translation.override(conversation.language):
        return conversations.visitor_says(conversation, text, client_id=client_id, now=timezone.now(),
                                          language=language or None)


def _typing(conversation_id: int, typing: bool) -> None:
    conversations.announce_visitor_typing(_conversation(conversation_id), typing)


def _acknowledge(conversation_id: int, ids, state: str) -> None:
    conversations.record_acknowledgement(_conversation(conversation_id), ids if isinstance(ids, list) else [], state)


def _set_email(conversation_id: int, email: str, language: str) -> str:
    with translation.override(language):
        return conversations.set_visitor_email(_conversation(conversation_id), email)
