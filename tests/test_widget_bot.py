"""The widget's rule-based bot: intents in English, Spanish and Romanian, order status through
self-service, the store's returns policy, handoff to a person (asked for, or offered after two
misses), and outside business hours the next opening in the store's time zone and an email
address collected. Against the real PostgreSQL and Redis."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from channels_ingest.widget import bot
from channels_ingest.widget.bot import (
    AWAIT_EMAIL,
    AWAIT_NUMBER,
    AWAIT_PROOF,
    HANDED_OFF,
    HANDOFF,
    ORDER_STATUS,
    RETURNS,
    greeting,
    intents_of,
    menu_options,
    needs_bot,
    respond,
)
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
)
from tickets.models import CalendarClosedDay, Order, Shipment, Store
from tickets.sla.presets import make_calendar, office_hours

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MADRID = ZoneInfo("Europe/Madrid")
BUCHAREST = ZoneInfo("Europe/Bucharest")
# A Wednesday at noon in Madrid: open in an office-hours calendar.
OPEN_NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=MADRID)
POLICY = "Returns are free within 30 days: write to us with your order number."

ORDER_ASK = ("I can check that for you. What is your order number? You will find it in your order "
             "confirmation, e.g. #1001.")
PROOF_ASK = "Thanks. To protect your privacy, please type the email address or the shipping postcode of that order."
NOT_FOUND = ("I couldn't find an order with that number and email address or postcode. Please check them and "
             "type the order number again.")
HELLO = "Hello! How can I help you?"
MISSED_ONCE = ("Sorry, I didn't understand. I can tell you where your order is, explain returns, or put you in "
               "touch with a person.")
MISSED_TWICE = "Sorry, I still don't understand. Would you like to talk to a person from our team?"
ANYTHING_ELSE = "Anything else I can help you with?"
HANDING_OFF = ("I'm passing you to a person from our team. They can see this conversation, so you won't need to "
               "repeat anything.")
LEAVE_EMAIL = "If you leave your email address, we will send the answer there too."


@dataclass
class Settings:
    """The protocol the bot reads (the widget's settings model has the same attributes)."""

    store: Store
    language: str = ""
    welcome_text: str = ""
    returns_policy: str = POLICY
    business_calendar: Any = None


def t(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


def visitor() -> str:
    return f"visitor-{uuid.uuid4()}"


class Chat:
    """One visitor's conversation, keeping the state between turns as the widget does (through JSON)."""

    def __init__(self, settings: Settings, now: dt.datetime = OPEN_NOW, state: dict | None = None) -> None:
        self.settings, self.now, self.state, self.key = settings, now, state or {}, visitor()

    def say(self, text: str) -> bot.BotTurn:
        before = copy.deepcopy(self.state)
        turn = respond(self.settings, self.state, text, visitor_key=self.key, now=self.now)
        assert self.state == before  # the caller's dict is not changed
        self.state = json.loads(json.dumps(turn.state))  # JSON-ready
        return turn


@pytest.fixture
def store():
    return StoreFactory(name="Casa Lumbre", time_zone="Europe/Madrid", default_language="es")


@pytest.fixture
def order(store):
    customer = CustomerFactory(name="Marta Gil", email="marta.gil@correo.example")
    order = OrderFactory(
        store=store, customer=customer, number="#1001", status=Order.Status.SHIPPED,
        placed_at=dt.datetime(2026, 3, 3, 10, 0, tzinfo=UTC), shipping_address={"zip": "28013", "city": "Madrid"},
    )
    OrderLineFactory(order=order, title="Taza de cerámica", quantity=2)
    ShipmentFactory(order=order, carrier="Correos", tracking_number="PK123ES", status=Shipment.Status.IN_TRANSIT,
                    tracking_url="https://www.correos.es/track?n=PK123ES")
    return order


@pytest.fixture
def office():
    """Monday to Friday 09:00–18:00 in Madrid, with Spain's public holidays."""
    return make_calendar("Madrid office", time_zone="Europe/Madrid", hours=office_hours(), holiday_country="ES")


# --- Intents in each language ---------------------------------------------------------------

ORDER_TEXTS = {"en": "Where is my order?", "es": "¿Dónde está mi pedido?", "ro": "Unde este comanda mea?"}
RETURN_TEXTS = {"en": "How do I return something?", "es": "Quiero hacer una devolución", "ro": "Cum fac un retur?"}
PERSON_TEXTS = {"en": "Can I talk to a person?", "es": "Quiero hablar con un humano",
                "ro": "Vreau să vorbesc cu un operator"}
GREETING_TEXTS = {"en": "Hello", "es": "Hola", "ro": "Bună ziua"}
UNKNOWN_TEXTS = {"en": "What colour is the sky", "es": "Me gusta el color azul", "ro": "Îmi place culoarea albastră"}


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_order_status_asks_for_the_order_number(store, language):
    turn = Chat(Settings(store, language=language)).say(ORDER_TEXTS[language])

    assert turn.replies == [t(language, ORDER_ASK)]
    assert turn.state["step"] == AWAIT_NUMBER
    assert not turn.handoff


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_returns_answer_with_the_stores_policy_text(store, language):
    turn = Chat(Settings(store, language=language)).say(RETURN_TEXTS[language])

    assert turn.replies == [POLICY, t(language, ANYTHING_ELSE)]
    assert not turn.handoff


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_without_a_returns_policy_a_person_is_offered(store, language):
    chat = Chat(Settings(store, language=language, returns_policy=""))
    turn = chat.say(RETURN_TEXTS[language])

    assert turn.replies == [t(language, "A person from our team will help you with your return. Shall I put you in touch?")]
    assert turn.options == [t(language, "Talk to a person")]
    assert chat.say({"en": "yes", "es": "sí", "ro": "da"}[language]).handoff


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_asking_for_a_person_hands_off(store, language):
    turn = Chat(Settings(store, language=language)).say(PERSON_TEXTS[language])

    assert turn.handoff is True
    assert turn.replies == [t(language, HANDING_OFF)]
    assert turn.wants_email is False
    assert turn.state["step"] == HANDED_OFF
    assert needs_bot(turn.state) is False


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_a_greeting_is_answered_with_the_menu(store, language):
    turn = Chat(Settings(store, language=language)).say(GREETING_TEXTS[language])

    assert turn.replies == [t(language, HELLO)]
    assert turn.options == [t(language, label) for label in ("Where is my order?", "Returns and refunds", "Talk to a person")]


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_an_unknown_message_offers_the_menu_then_a_person(store, language):
    chat = Chat(Settings(store, language=language))
    first = chat.say(UNKNOWN_TEXTS[language])
    assert first.replies == [t(language, MISSED_ONCE)]
    assert first.options == menu_options(chat.settings)
    assert not first.handoff

    second = chat.say(UNKNOWN_TEXTS[language])
    assert second.replies == [t(language, MISSED_TWICE)]
    assert second.options[0] == t(language, "Talk to a person")
    assert not second.handoff

    accepted = chat.say({"en": "Yes please", "es": "Sí, por favor", "ro": "Da, vă rog"}[language])
    assert accepted.handoff is True
    assert accepted.replies == [t(language, HANDING_OFF)]


def test_declining_the_offered_person_goes_back_to_the_menu(store):
    chat = Chat(Settings(store, language="en"))
    chat.say("blue sky")
    chat.say("green grass")

    turn = chat.say("no")

    assert not turn.handoff
    assert turn.replies == ["All right. What else can I help you with?"]
    assert chat.say("Where is my order?").replies == [ORDER_ASK]


@pytest.mark.parametrize(("text", "intent"), [
    # The menu's labels in each language select their intent.
    ("Where is my order?", ORDER_STATUS), ("¿Dónde está mi pedido?", ORDER_STATUS), ("Unde este comanda mea?", ORDER_STATUS),
    ("Returns and refunds", RETURNS), ("Devoluciones y reembolsos", RETURNS), ("Retururi și rambursări", RETURNS),
    ("Talk to a person", HANDOFF), ("Hablar con una persona", HANDOFF), ("Vorbește cu o persoană", HANDOFF),
    # And what visitors write.
    ("I need a human", HANDOFF), ("AGENT!!", HANDOFF), ("quiero un operador", HANDOFF), ("vreau un om", HANDOFF),
    ("where's my parcel", ORDER_STATUS), ("seguimiento del envío", ORDER_STATUS), ("unde e coletul", ORDER_STATUS),
    ("I want a refund", RETURNS), ("reembolso por favor", RETURNS), ("vreau banii înapoi", RETURNS),
])
def test_keywords_in_three_languages(text, intent):
    assert intent in intents_of(text)


def test_menu_labels_select_their_intent_in_every_language(store):
    for language in ("en", "es", "ro"):
        order_label, returns_label, person_label = menu_options(Settings(store, language=language))
        assert ORDER_STATUS in intents_of(order_label)
        assert RETURNS in intents_of(returns_label)
        assert HANDOFF in intents_of(person_label)


def test_asking_for_a_person_wins_over_other_words(store):
    turn = Chat(Settings(store, language="en")).say("My order is late, I want to speak to a human")

    assert turn.handoff is True


# --- Language --------------------------------------------------------------------------------


def test_without_a_configured_language_the_visitors_language_is_used_and_kept(store, order):
    chat = Chat(Settings(StoreFactory(default_language="en"), language=""))

    assert chat.say("¿Dónde está mi pedido?").replies == [t("es", ORDER_ASK)]
    assert chat.state["lang"] == "es"
    assert chat.say("4711").replies == [t("es", PROOF_ASK)]  # numbers say nothing of a language


def test_without_a_configured_or_recognisable_language_the_store_language_is_used(store):
    chat = Chat(Settings(StoreFactory(default_language="ro"), language=""))

    assert chat.say("#4711").replies == [t("ro", MISSED_ONCE)]
    assert "lang" not in chat.state
    assert chat.say("Unde este comanda mea?").replies == [t("ro", ORDER_ASK)]


def test_the_configured_language_wins_over_the_visitors(store):
    chat = Chat(Settings(store, language="ro"))

    assert chat.say("Where is my order?").replies == [t("ro", ORDER_ASK)]


def test_the_language_the_page_asked_for_is_used_and_kept(store):
    settings = Settings(store, language="")  # a Spanish store, no language configured
    state: dict = {}

    first = respond(settings, state, "#4711", visitor_key=visitor(), now=OPEN_NOW, language="ro")
    second = respond(settings, first.state, "¿Dónde está mi pedido?", visitor_key=visitor(), now=OPEN_NOW)

    assert first.replies == [t("ro", MISSED_ONCE)]
    assert first.state["lang"] == "ro"
    assert second.replies == [t("ro", ORDER_ASK)]
    assert greeting(settings, OPEN_NOW, language="ro") == [
        t("ro", "Hi! I can tell you where your order is, explain returns, or put you in touch with a person.")]
    assert menu_options(settings, language="en") == ["Where is my order?", "Returns and refunds", "Talk to a person"]


# --- Order status ----------------------------------------------------------------------------


def test_order_status_end_to_end_in_spanish(store, order):
    chat = Chat(Settings(store, language="es"))
    assert chat.say("¿Dónde está mi pedido?").state["step"] == AWAIT_NUMBER
    assert chat.say("Es el #1001").replies == [t("es", PROOF_ASK)]
    assert chat.state["step"] == AWAIT_PROOF

    turn = chat.say("marta.gil@correo.example")

    text = "\n".join(turn.replies)
    assert "#1001" in text
    assert "3 de marzo de 2026" in text  # the date in Spanish
    assert "Enviado" in text  # the status label in Spanish
    assert "2 × Taza de cerámica" in text
    assert "Correos (En tránsito)" in text
    assert "https://www.correos.es/track?n=PK123ES" in text
    assert turn.replies[-1] == t("es", ANYTHING_ELSE)
    assert turn.order == order
    assert turn.answer.order == order
    assert turn.customer_email == "marta.gil@correo.example"
    assert turn.state["order_id"] == order.pk
    assert not turn.handoff


def test_order_number_and_postcode_in_english(store, order):
    chat = Chat(Settings(store, language="en"))
    chat.say("where is my order 1001")

    turn = chat.say("my postcode is 28013")

    assert turn.replies[0] == "Order #1001, placed on March 3, 2026: Shipped."
    assert turn.replies[1] == "Items:\n2 × Taza de cerámica"
    assert turn.replies[2] == "Correos (In transit): follow it at https://www.correos.es/track?n=PK123ES"
    assert turn.order == order
    assert turn.customer_email is None  # a postcode is no email address


def test_number_and_email_in_one_message(store, order):
    turn = Chat(Settings(store, language="en")).say("Where is order #1001? My email is Marta.Gil@correo.example")

    assert turn.order == order
    assert turn.customer_email == "marta.gil@correo.example"


def test_an_unshipped_order_says_so_and_shows_no_link(store):
    OrderFactory(store=store, number="#2002", status=Order.Status.PAID, shipping_address={"zip": "08001"})
    chat = Chat(Settings(store, language="en"))
    chat.say("order #2002")

    turn = chat.say("08001")

    assert turn.replies[-2] == "It has not been shipped yet."
    assert "http" not in "".join(turn.replies)


def test_a_javascript_tracking_link_is_never_shown(store, order):
    order.shipments.update(tracking_url="javascript:alert(1)")
    chat = Chat(Settings(store, language="en"))
    chat.say("order 1001")

    turn = chat.say("28013")

    assert "javascript" not in "".join(turn.replies)
    assert "Correos (In transit), tracking number PK123ES" in turn.replies


def test_unknown_number_and_wrong_proof_get_the_same_reply(store, order):
    unknown = Chat(Settings(store, language="es"))
    unknown.say("pedido #9999")
    mismatch = Chat(Settings(store, language="es"))
    mismatch.say("pedido #1001")

    first, second = unknown.say("28013"), mismatch.say("28099")

    assert first.replies == second.replies == [t("es", NOT_FOUND)]
    assert first.order is second.order is None
    assert first.state["step"] == second.state["step"] == AWAIT_NUMBER


def test_a_second_failed_look_up_offers_a_person(store, order):
    chat = Chat(Settings(store, language="en"))
    chat.say("where is my order")
    chat.say("1001")
    chat.say("99999")
    chat.say("1001")

    turn = chat.say("99998")

    assert turn.replies == [NOT_FOUND, "Or would you rather talk to a person?"]
    assert chat.say("yes").handoff is True


def test_too_many_guesses_are_refused_with_the_wait(store, order, settings):
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"visitor": (1, 900)}
    chat = Chat(Settings(store, language="en"))
    chat.say("order 1001")
    assert chat.say("11111").replies[0] == NOT_FOUND
    chat.say("1001")

    turn = chat.say("28013")  # right, but too late

    assert turn.replies == ["Too many attempts. Please try again in 15 minutes, or talk to a person."]
    assert turn.order is None
    assert turn.options == ["Talk to a person"]
    assert chat.say("Talk to a person").handoff is True


def test_something_else_than_a_number_is_asked_again_then_a_person_offered(store):
    chat = Chat(Settings(store, language="en"))
    chat.say("where is my order")

    assert chat.say("I don't know").replies == [
        "Please type your order number as it appears in your order confirmation, e.g. #1001."]
    turn = chat.say("no idea")
    assert turn.replies == ["I can't find an order number in that. Would you like to talk to a person instead?"]
    assert chat.say("ok").handoff is True


def test_the_handoff_carries_the_identified_order_and_email(store, order):
    chat = Chat(Settings(store, language="en"))
    chat.say("order #1001 marta.gil@correo.example")

    turn = chat.say("I'd like to talk to someone")

    assert turn.handoff is True
    assert turn.order == order
    assert turn.customer_email == "marta.gil@correo.example"
    assert turn.wants_email is False


# --- Business hours --------------------------------------------------------------------------


def test_out_of_hours_handoff_names_the_next_opening_after_the_holidays(store, office):
    """Christmas Eve (a Thursday) at 20:00 in Madrid: Christmas Day is a public holiday, then the
    weekend, and the team closes on the 28th too: a person answers on Tuesday the 29th at 09:00."""
    CalendarClosedDay.objects.create(calendar=office, date=dt.date(2026, 12, 28), name="Inventario")
    chat = Chat(Settings(store, language="es", business_calendar=office),
                now=dt.datetime(2026, 12, 24, 20, 0, tzinfo=MADRID))

    turn = chat.say("Quiero hablar con una persona")

    assert turn.handoff is True
    assert turn.wants_email is True
    assert turn.next_opening == dt.datetime(2026, 12, 29, 8, 0, tzinfo=UTC)
    assert "martes" in turn.replies[0] and "29 de diciembre de 2026" in turn.replies[0]
    assert "09:00" in turn.replies[0] and "Europe/Madrid" in turn.replies[0]
    assert turn.replies[1] == t("es", LEAVE_EMAIL)
    assert turn.state["step"] == AWAIT_EMAIL
    assert needs_bot(turn.state) is True


def test_out_of_hours_in_romania_on_its_national_holidays():
    """30 November (St Andrew) and 1 December (National Day) are Romanian holidays."""
    store = StoreFactory(time_zone="Europe/Bucharest", default_language="ro")
    calendar = make_calendar("Bucharest office", time_zone="Europe/Bucharest", hours=office_hours("09:00", "17:00"),
                             holiday_country="RO")
    chat = Chat(Settings(store, language="ro", business_calendar=calendar),
                now=dt.datetime(2026, 11, 30, 10, 0, tzinfo=BUCHAREST))

    turn = chat.say("Vreau să vorbesc cu un operator")

    assert turn.next_opening == dt.datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    assert "miercuri, 2 decembrie 2026" in turn.replies[0]  # months in lower case, as Romanian writes them
    assert "09:00" in turn.replies[0] and "Europe/Bucharest" in turn.replies[0]


def test_the_next_opening_is_told_in_the_stores_time_zone(office):
    """A Bucharest store served from Madrid: 09:00 in Madrid is 10:00 in Bucharest."""
    store = StoreFactory(time_zone="Europe/Bucharest")
    chat = Chat(Settings(store, language="en", business_calendar=office),
                now=dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC))  # a Sunday

    turn = chat.say("talk to a person")

    assert turn.replies[0] == ("Our team is away right now. A person will answer tomorrow at 10 a.m. "
                               "(time zone: Europe/Bucharest) and can see this conversation.")


def test_before_opening_time_the_answer_comes_today(store, office):
    chat = Chat(Settings(store, language="en", business_calendar=office),
                now=dt.datetime(2026, 11, 23, 7, 15, tzinfo=MADRID))  # a Monday

    turn = chat.say("agent")

    assert "A person will answer today at 9 a.m. (time zone: Europe/Madrid)" in turn.replies[0]


def test_inside_business_hours_no_email_is_asked(store, office):
    turn = Chat(Settings(store, language="en", business_calendar=office), now=OPEN_NOW).say("human please")

    assert turn.replies == [HANDING_OFF]
    assert turn.wants_email is False and turn.next_opening is None


def test_a_calendar_without_opening_hours_promises_no_time(store):
    closed = make_calendar("Never open", time_zone="Europe/Madrid", hours={})

    turn = Chat(Settings(store, language="en", business_calendar=closed)).say("operator")

    assert turn.replies[0] == ("Our team is away right now. A person will answer here as soon as possible and "
                               "can see this conversation.")
    assert turn.wants_email is True


def test_out_of_hours_the_email_is_collected(store, office):
    chat = Chat(Settings(store, language="es", business_calendar=office),
                now=dt.datetime(2026, 11, 28, 11, 0, tzinfo=MADRID))  # a Saturday
    assert chat.say("hablar con una persona").wants_email is True

    chatter = chat.say("es sobre una taza rota")
    assert chatter.replies == [] and chatter.wants_email is True and chatter.customer_email is None

    wrong = chat.say("marta@")
    assert wrong.replies == [t("es", "That email address does not look right. Please check it and type it again.")]
    assert wrong.customer_email is None and wrong.wants_email is True

    given = chat.say("Mi correo es Marta.Gil@Correo.example")
    assert given.customer_email == "marta.gil@correo.example"
    assert given.replies == [t("es", "Thank you. We will answer you at %(email)s.") % {"email": "marta.gil@correo.example"}]
    assert given.wants_email is False
    assert needs_bot(given.state) is False
    assert given.handoff is False  # the handoff already happened


def test_out_of_hours_with_a_known_email_nothing_is_asked(store, order, office):
    chat = Chat(Settings(store, language="en", business_calendar=office),
                now=dt.datetime(2026, 11, 28, 11, 0, tzinfo=MADRID))
    chat.say("order 1001 marta.gil@correo.example")

    turn = chat.say("talk to a person")

    assert turn.handoff is True and turn.wants_email is False
    assert turn.customer_email == "marta.gil@correo.example"
    assert turn.order == order
    assert turn.replies[1] == "We will also send the answer to marta.gil@correo.example."


# --- Greeting --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "es", "ro"])
def test_greeting_in_the_widgets_language(store, language):
    replies = greeting(Settings(store, language=language), OPEN_NOW)

    assert replies == [t(language, "Hi! I can tell you where your order is, explain returns, or put you in touch with a person.")]


def test_greeting_uses_the_stores_welcome_text_and_says_when_the_team_is_back(store, office):
    settings = Settings(store, language="es", welcome_text="¡Hola! Somos Casa Lumbre.", business_calendar=office)

    replies = greeting(settings, dt.datetime(2026, 11, 27, 19, 0, tzinfo=MADRID))  # a Friday evening

    assert replies[0] == "¡Hola! Somos Casa Lumbre."
    assert "lunes" in replies[1] and "30 de noviembre de 2026" in replies[1] and "Europe/Madrid" in replies[1]


def test_the_widget_settings_model_is_read_as_is(store, office):
    from channels_ingest.widget.models import WidgetSettings

    settings = WidgetSettings.objects.create(
        store=store, language="ro", welcome_text="Bun venit!", returns_policy_text="Retur gratuit în 30 de zile.",
        calendar=office,
    )
    chat = Chat(settings, now=dt.datetime(2026, 11, 28, 11, 0, tzinfo=MADRID))

    assert greeting(settings, OPEN_NOW) == ["Bun venit!"]
    assert chat.say("retur").replies == ["Retur gratuit în 30 de zile.", t("ro", ANYTHING_ELSE)]
    handoff = chat.say("vreau un om")
    assert handoff.handoff and handoff.wants_email
    assert "luni" in handoff.replies[0]


def test_after_the_handoff_the_bot_stays_silent(store):
    chat = Chat(Settings(store, language="en"))
    chat.say("talk to a person")

    turn = chat.say("Where is my order?")

    assert turn.replies == [] and not turn.handoff


def test_a_corrected_order_number_replaces_the_first(store, order):
    chat = Chat(Settings(store, language="en"))
    chat.say("order #1999")

    assert chat.say("sorry, it's #1001").replies == [PROOF_ASK]
    assert chat.say("28013").order == order


@pytest.mark.parametrize("text", ["Is my personalised mug shipped?", "¿Mi pedido personalizado?", "Comanda omului"])
def test_words_that_only_begin_like_person_do_not_hand_off(text):
    assert HANDOFF not in intents_of(text)
    assert ORDER_STATUS in intents_of(text)
