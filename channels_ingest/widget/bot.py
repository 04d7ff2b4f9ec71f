"""The chat widget's small rule-based bot: it greets, answers "where is my order" by itself
(`selfservice.find_order`), gives the store's returns policy, and hands the conversation to a
person when asked, when it cannot help, or after it failed to understand twice.

It knows intents by keywords in English, Spanish and Romanian (accents and case ignored), and
answers in the conversation's language: the widget's configured language, else the one the
visitor writes in, else the store's. Outside the store's business hours (the widget's
`BusinessCalendar`; none means always open) a handoff says when a person will answer, in the
store's time zone, and asks for an email address so the answer can also go there.

The bot holds no state of its own: each call takes the conversation's state (a JSON-ready dict,
kept by the widget) and returns the new one in a `BotTurn`. It writes nothing to the database;
the widget acts on `BotTurn.handoff`, `.order` and `.customer_email`.

Settings are read through a small protocol: `store`, `language`, `welcome_text`, `returns_policy`
and `business_calendar` (the widget's `WidgetSettings`, whose fields are `returns_policy_text` and
`calendar`, is read under those names too).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from channels_ingest.widget.selfservice import OrderAnswer, RateLimited, find_order
from tickets.models import Order, Store
from tickets.sla.calendar import MAX_DAYS_SEARCHED, is_open_at, schedule_for

LANGUAGES = ("en", "es", "ro")
MAX_TEXT = 1000
MISSES_BEFORE_OFFERING_A_PERSON = 2

# Conversation steps kept in state["step"].
MENU = "menu"
AWAIT_NUMBER = "await_number"
AWAIT_PROOF = "await_proof"
AWAIT_EMAIL = "await_email"  # handed off outside business hours, waiting for an email address
HANDED_OFF = "handed_off"


class WidgetSettingsLike(Protocol):
    store: Store
    language: str
    welcome_text: str
    returns_policy: str
    business_calendar: Any  # tickets.models.BusinessCalendar | None


@dataclass
class BotTurn:
    """The bot's answer to one visitor message.

    `replies` are plain text (already translated; render them as text, links may be made
    clickable when http(s)); `options` are quick-reply labels: sending one as the visitor's text
    selects it. `handoff` is true on the turn that hands the conversation to a person; `order` is
    the order the visitor proved (on the turn it was found and again on the handoff turn), for the
    widget to link to the ticket; `customer_email` is an address the visitor gave (validated, lower
    case) or proved on an order; `wants_email` asks the widget to show an email field.
    `answer` holds the found order's visitor-safe data for a richer card (`answer.as_dict()`),
    and `next_opening` the UTC instant a person will answer, when that is later than now."""

    replies: list[str]
    state: dict
    handoff: bool = False
    order: Order | None = None
    customer_email: str | None = None
    wants_email: bool = False
    options: list[str] = field(default_factory=list)
    answer: OrderAnswer | None = None
    next_opening: dt.datetime | None = None


# --- Public entry points ---------------------------------------------------------------------


def greeting(settings: WidgetSettingsLike, now: dt.datetime, *, language: str | None = None) -> list[str]:
    """The first messages a visitor sees, in `language` (the one the shop page asked for), else
    the widget's, else the store's."""
    language = _valid(language) or _configured_language(settings) or _store_language(settings)
    with translation.override(language):
        welcome = (getattr(settings, "welcome_text", "") or "").strip()
        replies = [welcome or _(
            "Hi! I can tell you where your order is, explain returns, or put you in touch with a person."
        )]
        if not is_open_at(_calendar(settings), now):
            opening = next_opening(_calendar(settings), now)
            if opening is None:
                replies.append(_("Our team is away right now; a person will answer as soon as possible."))
            else:
                replies.append(_("Our team is away right now; a person will answer %(when)s.") % {
                    "when": describe_moment(opening, _zone(settings), now),
                })
        return replies


def menu_options(settings: WidgetSettingsLike, state: dict | None = None, *, language: str | None = None) -> list[str]:
    """The quick replies offered with the greeting and after each answer."""
    with translation.override(conversation_language(settings, dict(state or {}), language=language)):
        return _menu()


def needs_bot(state: dict) -> bool:
    """Whether the widget should pass the visitor's next message to `respond`: before the
    handoff, and after an out-of-hours handoff while the bot still waits for an email address."""
    return state.get("step") not in (HANDED_OFF,)


def respond(
    settings: WidgetSettingsLike, state: dict, text: str, *, visitor_key: str, now: dt.datetime,
    language: str | None = None,
) -> BotTurn:
    """The bot's turn after the visitor wrote `text`. `state` is not modified; the turn carries
    the new state (its "lang" is the conversation's language once known). `language` is the one
    the shop page or the visitor chose explicitly, if any (see `conversation_language`)."""
    state = dict(state or {})
    text = (text or "").strip()[:MAX_TEXT]
    language = conversation_language(settings, state, text, language=language)
    with translation.override(language):
        turn = _Conversation(settings, state, visitor_key=visitor_key, now=now).answer(text)
    return turn


def conversation_language(
    settings: WidgetSettingsLike, state: dict, text: str = "", *, language: str | None = None,
) -> str:
    """The language chosen for this conversation (kept in `state["lang"]`); the first time, the
    one the page or visitor chose explicitly (`language`), else the widget's configured one, else
    the one `text` is written in; until one of those is known, the store's."""
    if state.get("lang") in LANGUAGES:
        return state["lang"]
    fixed = _valid(language) or _configured_language(settings)
    if fixed:
        state["lang"] = fixed
        return fixed
    detected = detect_language(text)
    if detected:
        state["lang"] = detected
        return detected
    return _store_language(settings)


# --- Business hours --------------------------------------------------------------------------


def next_opening(calendar, now: dt.datetime) -> dt.datetime | None:
    """The UTC instant the calendar next opens after `now` (`now` itself when open; None when it
    has no opening time in the coming `MAX_DAYS_SEARCHED` days)."""
    if is_open_at(calendar, now):
        return now.astimezone(dt.UTC)
    schedule = schedule_for(calendar)
    if schedule is None or not schedule.has_opening_hours:
        return None
    moment = now.astimezone(dt.UTC)
    day = moment.astimezone(schedule.zone).date() - dt.timedelta(days=1)
    for _offset in range(MAX_DAYS_SEARCHED):
        for opens, _closes in schedule.intervals(day):
            if opens > moment:
                return opens
        day += dt.timedelta(days=1)
    return None


def date_text(day: dt.date) -> str:
    """A date in the active language's format. Django's Romanian month names are capitalised
    ("2 Decembrie 2026"); Romanian writes them in lower case."""
    text = formats.date_format(day, "DATE_FORMAT")
    return text.lower() if translation.get_language() == "ro" else text


def describe_moment(moment: dt.datetime, zone: ZoneInfo, now: dt.datetime) -> str:
    """A future instant as a visitor reads it, in the active language and the given time zone:
    "today at 16:00", "tomorrow at 09:00", "on Monday, 28 December 2026 at 09:00", followed by the
    time zone's name."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    time_text = formats.time_format(local.time().replace(tzinfo=None), "TIME_FORMAT")
    if local.date() == today:
        when = _("today at %(time)s") % {"time": time_text}
    elif local.date() == today + dt.timedelta(days=1):
        when = _("tomorrow at %(time)s") % {"time": time_text}
    else:
        when = _("on %(weekday)s, %(date)s at %(time)s") % {
            "weekday": formats.date_format(local.date(), "l"),
            "date": date_text(local.date()),
            "time": time_text,
        }
    return _("%(when)s (time zone: %(zone)s)") % {"when": when, "zone": zone.key}


# --- Understanding the visitor ---------------------------------------------------------------

HANDOFF, ORDER_STATUS, RETURNS, GREETING, THANKS, YES, NO = (
    "handoff", "order_status", "returns", "greeting", "thanks", "yes", "no",
)

# Keywords per intent (all languages at once: a visitor may write in any of them). A keyword of
# four letters or more matches any word it begins ("devolu" matches "devolución" and
# "devoluciones"); shorter ones, and those written "=word", match whole words only ("person" must
# not match "personalised"); several words match as a phrase.
KEYWORDS: dict[str, tuple[str, ...]] = {
    HANDOFF: (
        # en
        "=person", "=persons", "=people", "=human", "=humans", "agent", "operator", "someone", "somebody",
        "representative", "=staff", "real people", "talk to", "speak to", "speak with", "talk with", "live chat",
        "customer service",
        # es
        "=persona", "=personas", "=humano", "=humana", "operador", "alguien", "hablar con", "atencion al cliente",
        # ro
        "persoan", "=om", "=oameni", "=uman", "vorbesc cu", "vorbeasca cu", "=coleg", "=colega",
    ),
    ORDER_STATUS: (
        # en
        "order", "track", "parcel", "package", "delivery", "deliver", "shipping", "shipment", "shipped",
        "status", "where is my",
        # es
        "pedido", "compra", "envio", "enviado", "seguimiento", "paquete", "entrega", "donde esta",
        # ro
        "comanda", "comenz", "colet", "livrare", "livrat", "awb", "expedi", "urmarire", "unde este",
    ),
    RETURNS: (
        # en
        "return", "refund", "exchange", "send back", "money back",
        # es
        "devolu", "devolver", "reembols", "cambiar", "cambio",
        # ro
        "retur", "rambursa", "schimb", "banii inapoi",
    ),
    GREETING: (
        "hi", "hello", "hey", "good morning", "good afternoon", "good evening",
        "hola", "buenas", "buenos dias",
        "salut", "buna", "buna ziua", "neata", "servus",
    ),
    THANKS: ("thank", "thanks", "thx", "gracias", "multumesc", "mersi", "merci"),
    YES: ("yes", "yeah", "yep", "sure", "ok", "okay", "please", "si", "vale", "claro", "da", "sigur", "desigur"),
    NO: ("no", "nope", "not now", "nu", "nu multumesc"),
}

# Common words, to tell the visitor's language when the widget has none configured.
LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the is my where order hello hi thanks want please i you can return refund with to a".split()),
    "es": frozenset(
        "el la mi mis donde esta pedido hola gracias quiero por favor de que es con una un devolucion "
        "puedo necesito envio".split()
    ),
    "ro": frozenset(
        "unde este comanda mea meu buna salut multumesc vreau va rog si cu o un nu retur colet "
        "doresc am pot".split()
    ),
}

EMAIL_PATTERN = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"']+")
# An order number: "#1001", "1001", "123-1234567-1234567", "SO-2026-00042": three or more
# characters with at least one digit.
NUMBER_PATTERN = re.compile(r"(?<![\w@.-])#?\s?([A-Za-z0-9][A-Za-z0-9\-_/]{2,})(?![\w@-])")
# A postcode: 2 to 10 letters and digits, with a digit, possibly split by one space or dash.
POSTCODE_PATTERN = re.compile(r"^[A-Za-z0-9]{1,8}(?:[\s\-][A-Za-z0-9]{1,8})?$")
UK_POSTCODE_PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s?[0-9][A-Za-z]{2}(?![A-Za-z0-9])")


def normalize_text(text: str) -> str:
    """Lower case, accents dropped (ș → s, ñ → n), punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _matches(normalized: str, keyword: str) -> bool:
    if keyword.startswith("="):
        return keyword[1:] in normalized.split()
    if " " in keyword:
        return re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", normalized) is not None
    words = normalized.split()
    if len(keyword) >= 4:
        return any(word.startswith(keyword) for word in words)
    return keyword in words


def intents_of(text: str) -> set[str]:
    normalized = normalize_text(text)
    return {intent for intent, words in KEYWORDS.items() if any(_matches(normalized, word) for word in words)}


def detect_language(text: str) -> str | None:
    """The language most of `text`'s common words belong to; None when nothing tells."""
    words = normalize_text(text).split()
    if not words:
        return None
    scores = {language: sum(word in vocabulary for word in words) for language, vocabulary in LANGUAGE_WORDS.items()}
    # Spanish and Romanian letters are a strong hint on their own.
    lowered = text.lower()
    if re.search(r"[ñ¿¡áéíóú]", lowered):
        scores["es"] += 2
    if re.search(r"[ășțâîşţ]", lowered):
        scores["ro"] += 2
    best = max(scores.values())
    if best == 0:
        return None
    leaders = [language for language, score in scores.items() if score == best]
    return leaders[0] if len(leaders) == 1 else None


def find_email(text: str) -> str | None:
    """The first email address in `text`, lower-cased, if it is a valid one."""
    match = EMAIL_PATTERN.search(text or "")
    if not match:
        return None
    candidate = match.group(0).strip(".").lower()
    try:
        validate_email(candidate)
    except ValidationError:
        return None
    return candidate


def find_order_number(text: str) -> str | None:
    """The first token of `text` that looks like an order number (emails left aside)."""
    without_emails = EMAIL_PATTERN.sub(" ", text or "")
    for match in NUMBER_PATTERN.finditer(without_emails):
        token = match.group(1)
        if any(ch.isdigit() for ch in token):
            return token
    return None


def find_postcode(text: str) -> str | None:
    """The postcode the visitor typed: the whole message ("28013", "SW1A 1AA", "1000-001"), else a
    British-style postcode or the last group of letters and digits in a sentence ("it's 28013")."""
    candidate = (text or "").strip().strip(".")
    if POSTCODE_PATTERN.match(candidate) and any(ch.isdigit() for ch in candidate):
        return candidate
    british = UK_POSTCODE_PATTERN.search(candidate)
    if british:
        return british.group(0)
    tokens = [token for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9\-]{1,9}", candidate) if any(ch.isdigit() for ch in token)]
    return tokens[-1] if tokens else None


# --- The conversation ------------------------------------------------------------------------


def _returns_policy(settings: WidgetSettingsLike) -> str:
    value = getattr(settings, "returns_policy", None)
    if value is None:  # the widget model's field name
        value = getattr(settings, "returns_policy_text", "")
    return (value or "").strip()


def _calendar(settings: WidgetSettingsLike):
    if hasattr(settings, "business_calendar"):
        return settings.business_calendar
    return getattr(settings, "calendar", None)  # the widget model's field name


def _valid(language: str | None) -> str | None:
    language = (language or "").strip().lower()[:2]
    return language if language in LANGUAGES else None


def _configured_language(settings: WidgetSettingsLike) -> str | None:
    return _valid(getattr(settings, "language", ""))


def _store_language(settings: WidgetSettingsLike) -> str:
    language = (getattr(settings.store, "default_language", "") or "").lower()[:2]
    return language if language in LANGUAGES else "en"


def _zone(settings: WidgetSettingsLike) -> ZoneInfo:
    """The store's time zone; the calendar's when the store's is not a valid one."""
    for name in (getattr(settings.store, "time_zone", ""), getattr(_calendar(settings), "time_zone", "")):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            continue
    return ZoneInfo("UTC")


def _menu() -> list[str]:
    return [_("Where is my order?"), _("Returns and refunds"), _("Talk to a person")]


class _Conversation:
    def __init__(self, settings: WidgetSettingsLike, state: dict, *, visitor_key: str, now: dt.datetime) -> None:
        self.settings = settings
        self.state = state
        self.visitor_key = visitor_key
        self.now = now
        state.setdefault("step", MENU)
        state.setdefault("misses", 0)

    def turn(self, replies: list[str], **extra) -> BotTurn:
        return BotTurn(replies=[str(reply) for reply in replies], state=self.state, **extra)

    def answer(self, text: str) -> BotTurn:
        step = self.state["step"]
        if step == HANDED_OFF:
            return self.turn([])
        if step == AWAIT_EMAIL:
            return self.collect_email(text)
        intents = intents_of(text)
        if HANDOFF in intents or (self.state.get("offered_person") and YES in intents and not intents & {
            ORDER_STATUS, RETURNS,
        }):
            return self.hand_off()
        if self.state.get("offered_person") and NO in intents and len(normalize_text(text).split()) <= 3:
            self.state["offered_person"] = False
            return self.turn([_("All right. What else can I help you with?")], options=_menu())
        if step == AWAIT_PROOF:
            return self.take_proof(text, intents)
        if step == AWAIT_NUMBER:
            return self.take_number(text, intents)
        return self.from_menu(text, intents)

    # Intents from the menu ------------------------------------------------------------------

    def from_menu(self, text: str, intents: set[str]) -> BotTurn:
        if ORDER_STATUS in intents:
            self.recognised()
            number = find_order_number(text)
            if number:
                return self.got_number(number, text)
            self.state["step"] = AWAIT_NUMBER
            return self.turn([_("I can check that for you. What is your order number? You will find it in your order confirmation, e.g. #1001.")])
        if RETURNS in intents:
            self.recognised()
            return self.returns()
        if THANKS in intents:
            self.recognised()
            return self.turn([_("You're welcome! Anything else I can help you with?")], options=_menu())
        if GREETING in intents:
            self.recognised()
            return self.turn([_("Hello! How can I help you?")], options=_menu())
        return self.missed()

    def returns(self) -> BotTurn:
        self.state["step"] = MENU
        policy = _returns_policy(self.settings)
        if policy:
            return self.turn([policy, _("Anything else I can help you with?")], options=_menu())
        self.state["offered_person"] = True
        return self.turn(
            [_("A person from our team will help you with your return. Shall I put you in touch?")],
            options=[_("Talk to a person")],
        )

    def missed(self) -> BotTurn:
        self.state["misses"] = int(self.state.get("misses", 0)) + 1
        self.state["step"] = MENU
        if self.state["misses"] >= MISSES_BEFORE_OFFERING_A_PERSON:
            self.state["offered_person"] = True
            return self.turn(
                [_("Sorry, I still don't understand. Would you like to talk to a person from our team?")],
                options=[_("Talk to a person"), *_menu()[:2]],
            )
        return self.turn(
            [_("Sorry, I didn't understand. I can tell you where your order is, explain returns, or put you in touch with a person.")],
            options=_menu(),
        )

    def recognised(self) -> None:
        self.state["misses"] = 0
        self.state["offered_person"] = False

    # Order status ---------------------------------------------------------------------------

    def take_number(self, text: str, intents: set[str]) -> BotTurn:
        number = find_order_number(text)
        if number:
            self.recognised()
            return self.got_number(number, text)
        if intents & {RETURNS, THANKS, GREETING}:
            return self.from_menu(text, intents)
        self.state["misses"] = int(self.state.get("misses", 0)) + 1
        if self.state["misses"] >= MISSES_BEFORE_OFFERING_A_PERSON:
            self.state["offered_person"] = True
            return self.turn(
                [_("I can't find an order number in that. Would you like to talk to a person instead?")],
                options=[_("Talk to a person")],
            )
        return self.turn([_("Please type your order number as it appears in your order confirmation, e.g. #1001.")])

    def got_number(self, number: str, text: str) -> BotTurn:
        self.state["number"] = number
        email = find_email(text)
        if email:
            return self.look_up(email)
        self.state["step"] = AWAIT_PROOF
        return self.turn([_("Thanks. To protect your privacy, please type the email address or the shipping postcode of that order.")])

    def take_proof(self, text: str, intents: set[str]) -> BotTurn:
        if re.search(r"#\s?[A-Za-z0-9]", text) and find_order_number(text):
            return self.got_number(find_order_number(text), text)  # "sorry, it's #1002"
        proof = find_email(text) or find_postcode(text)
        if proof:
            return self.look_up(proof)
        if "@" in text:
            return self.turn([_("That email address does not look right. Please check it and type it again.")])
        if intents & {RETURNS, THANKS, GREETING}:
            self.state["step"] = MENU
            return self.from_menu(text, intents)
        return self.turn([_("Please type the email address or the shipping postcode of the order.")])

    def look_up(self, proof: str) -> BotTurn:
        result = find_order(self.settings.store, self.state.get("number", ""), proof, visitor_key=self.visitor_key)
        self.state["step"] = MENU
        if isinstance(result, RateLimited):
            minutes = max(1, math.ceil(result.retry_after / 60))
            self.state["offered_person"] = True
            return self.turn(
                [ngettext(
                    "Too many attempts. Please try again in %(minutes)d minute, or talk to a person.",
                    "Too many attempts. Please try again in %(minutes)d minutes, or talk to a person.",
                    minutes,
                ) % {"minutes": minutes}],
                options=[_("Talk to a person")],
            )
        if result is None:
            failures = int(self.state.get("lookup_failures", 0)) + 1
            self.state["lookup_failures"] = failures
            self.state["step"] = AWAIT_NUMBER
            replies = [_("I couldn't find an order with that number and email address or postcode. Please check them and type the order number again.")]
            if failures >= MISSES_BEFORE_OFFERING_A_PERSON:
                self.state["offered_person"] = True
                replies.append(_("Or would you rather talk to a person?"))
            return self.turn(replies, options=[_("Talk to a person")])
        self.state.update(order_id=result.order.pk, lookup_failures=0, misses=0, offered_person=False)
        email = proof if result.proof_was_email else None
        if email:
            self.state["email"] = email
        return self.turn(
            [*order_replies(result), _("Anything else I can help you with?")],
            order=result.order, answer=result, customer_email=email,
            options=[_("Talk to a person"), _("Returns and refunds")],
        )

    # Handoff --------------------------------------------------------------------------------

    def hand_off(self) -> BotTurn:
        order = self.identified_order()
        email = self.state.get("email") or None
        calendar = _calendar(self.settings)
        if is_open_at(calendar, self.now):
            self.state["step"] = HANDED_OFF
            return self.turn(
                [_("I'm passing you to a person from our team. They can see this conversation, so you won't need to repeat anything.")],
                handoff=True, order=order, customer_email=email,
            )
        opening = next_opening(calendar, self.now)
        if opening is None:
            replies = [_("Our team is away right now. A person will answer here as soon as possible and can see this conversation.")]
        else:
            replies = [_("Our team is away right now. A person will answer %(when)s and can see this conversation.") % {
                "when": describe_moment(opening, _zone(self.settings), self.now),
            }]
        if email:
            self.state["step"] = HANDED_OFF
            replies.append(_("We will also send the answer to %(email)s.") % {"email": email})
            return self.turn(replies, handoff=True, order=order, customer_email=email, next_opening=opening)
        self.state["step"] = AWAIT_EMAIL
        replies.append(_("If you leave your email address, we will send the answer there too."))
        return self.turn(replies, handoff=True, order=order, wants_email=True, next_opening=opening)

    def collect_email(self, text: str) -> BotTurn:
        email = find_email(text)
        if email:
            self.state["email"] = email
            self.state["step"] = HANDED_OFF
            return self.turn([_("Thank you. We will answer you at %(email)s.") % {"email": email}], customer_email=email)
        if "@" in text:
            return self.turn([_("That email address does not look right. Please check it and type it again.")], wants_email=True)
        # Anything else is for the person who will answer: the widget adds it to the ticket.
        return self.turn([], wants_email=True)

    def identified_order(self) -> Order | None:
        order_id = self.state.get("order_id")
        if not order_id:
            return None
        return Order.objects.filter(pk=order_id, store=self.settings.store).first()


def order_replies(answer: OrderAnswer) -> list[str]:
    """The found order as chat messages, in the active language."""
    replies = [_("Order %(number)s, placed on %(date)s: %(status)s.") % {
        "number": answer.number,
        "date": date_text(answer.placed_on),
        "status": answer.status_label,
    }]
    if answer.items:
        replies.append("\n".join(
            [_("Items:")] + [_("%(quantity)d × %(title)s") % {"quantity": item.quantity, "title": item.title} for item in answer.items]
        ))
    for shipment in answer.shipments:
        values = {
            "carrier": shipment.carrier or _("Shipment"),
            "status": shipment.status_label,
            "number": shipment.tracking_number,
            "url": shipment.tracking_url,
        }
        if shipment.tracking_url:
            replies.append(_("%(carrier)s (%(status)s): follow it at %(url)s") % values)
        elif shipment.tracking_number:
            replies.append(_("%(carrier)s (%(status)s), tracking number %(number)s") % values)
        else:
            replies.append(_("%(carrier)s (%(status)s)") % values)
    if not answer.shipments and answer.status in (Order.Status.PENDING, Order.Status.PAID, Order.Status.PROCESSING):
        replies.append(_("It has not been shipped yet."))
    return replies
