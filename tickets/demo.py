"""Demo data for a product demo: two stores, every channel, a few hundred realistic tickets.

`seed_demo()` builds a Spanish home-goods store and a Romanian craft store with their connected
accounts, a small support team, tags, canned responses, customers (some on two channels) and about
300 tickets with orders, shipments and conversations in Spanish, Romanian and English.

Contract:
- Deterministic: everything comes from `random.Random(SEED)`; timestamps are offsets from the
  moment of the first run, spread over the last ~60 days.
- Idempotent: every row is found by a natural key before it is created (store slug, username, tag
  name, account external id, the customer's first channel identity, an order's external id, and the
  ticket's demo marker `demo-NNNN` kept in `external_thread_id`). A second run changes nothing.
- Restartable: reference data and customers are written in one transaction, then each ticket with
  its order in its own; an interrupted run is completed by the next one, never duplicated.
- Tickets are built through `tickets.actions` so their timelines look like real work happened.

No credentials are stored: accounts carry no secrets and are marked `{"demo": true}`.
"""

from __future__ import annotations

import html
import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from tickets import actions
from tickets.models import (
    AgentProfile,
    CannedResponse,
    Channel,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    OrderLine,
    Shipment,
    Store,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)

SEED = 20_250_611
TICKET_COUNT = 300
DEMO_PASSWORD = "demo"
MARKER_PREFIX = "demo-"
HISTORY_DAYS = 60

# --- Stores, accounts, people --------------------------------------------------------------


class StoreSpec(NamedTuple):
    slug: str
    name: str
    language: str
    time_zone: str
    country: str
    currency: str
    website: str


STORES = [
    StoreSpec("casa-lumbre", "Casa Lumbre", "es", "Europe/Madrid", "ES", "EUR", "https://casalumbre.example"),
    StoreSpec(
        "atelier-carpati", "Atelier Carpați", "ro", "Europe/Bucharest", "RO", "RON", "https://ateliercarpati.example"
    ),
]


class AccountSpec(NamedTuple):
    key: str
    store: str
    channel: str
    provider: str
    display_name: str
    external_id: str
    settings: dict


ACCOUNTS = [
    AccountSpec("es-email", "casa-lumbre", Channel.EMAIL, "imap", "Soporte Casa Lumbre", "soporte@casalumbre.example",
                {"address": "soporte@casalumbre.example", "host": "imap.casalumbre.example"}),
    AccountSpec("es-amazon", "casa-lumbre", Channel.AMAZON, "amazon", "Amazon Europa (ES, UK)", "A2DEMO7CLUMBRE",
                {"region": "eu", "marketplaces": ["amazon.es", "amazon.co.uk"]}),
    AccountSpec("es-ebay", "casa-lumbre", Channel.EBAY, "ebay", "eBay casalumbre_home", "casalumbre_home",
                {"sites": ["EBAY_GB", "EBAY_ES"]}),
    AccountSpec("es-shopify", "casa-lumbre", Channel.SHOPIFY, "shopify", "Tienda online (Shopify)",
                "casa-lumbre-demo.myshopify.com", {"shop_domain": "casa-lumbre-demo.myshopify.com"}),
    AccountSpec("es-messenger", "casa-lumbre", Channel.MESSENGER, "messenger", "Facebook · Casa Lumbre",
                "104200000000101", {"page_name": "Casa Lumbre"}),
    AccountSpec("es-instagram", "casa-lumbre", Channel.INSTAGRAM, "instagram", "Instagram @casalumbre",
                "17841400000000101", {"username": "casalumbre"}),
    AccountSpec("es-whatsapp", "casa-lumbre", Channel.WHATSAPP, "whatsapp", "WhatsApp +34 910 000 101",
                "109000000000101", {"display_phone_number": "+34910000101"}),
    AccountSpec("es-sms", "casa-lumbre", Channel.SMS, "twilio-sms", "SMS +34 910 000 102", "+34910000102", {}),
    AccountSpec("es-chat", "casa-lumbre", Channel.CHAT, "chat", "Chat web casalumbre.example", "casa-lumbre-web",
                {"greeting": "¡Hola! ¿En qué podemos ayudarte?"}),
    AccountSpec("es-api", "casa-lumbre", Channel.API, "api", "Portal de devoluciones (API)", "returns-portal",
                {"source": "returns portal"}),
    AccountSpec("ro-email", "atelier-carpati", Channel.EMAIL, "imap", "Contact Atelier Carpați",
                "contact@ateliercarpati.example",
                {"address": "contact@ateliercarpati.example", "host": "imap.ateliercarpati.example"}),
    AccountSpec("ro-woocommerce", "atelier-carpati", Channel.WOOCOMMERCE, "woocommerce",
                "Magazin online (WooCommerce)", "ateliercarpati.example", {"site_url": "https://ateliercarpati.example"}),
    AccountSpec("ro-emag", "atelier-carpati", Channel.MARKETPLACE, "generic", "eMAG Marketplace", "emag-vendor-48213",
                {"marketplace": "eMAG", "country": "RO"}),
    AccountSpec("ro-messenger", "atelier-carpati", Channel.MESSENGER, "messenger", "Facebook · Atelier Carpați",
                "104200000000202", {"page_name": "Atelier Carpați"}),
    AccountSpec("ro-instagram", "atelier-carpati", Channel.INSTAGRAM, "instagram", "Instagram @ateliercarpati",
                "17841400000000202", {"username": "ateliercarpati"}),
    AccountSpec("ro-whatsapp", "atelier-carpati", Channel.WHATSAPP, "whatsapp", "WhatsApp +40 21 000 0201",
                "109000000000202", {"display_phone_number": "+40210000201"}),
    AccountSpec("ro-sms", "atelier-carpati", Channel.SMS, "twilio-sms", "SMS +40 21 000 0202", "+40210000202", {}),
    AccountSpec("ro-chat", "atelier-carpati", Channel.CHAT, "chat", "Chat ateliercarpati.example",
                "atelier-carpati-web", {"greeting": "Bună! Cu ce te putem ajuta?"}),
]


class UserSpec(NamedTuple):
    username: str
    first_name: str
    last_name: str
    role: str
    language: str
    time_zone: str
    availability: str


USERS = [
    UserSpec("admin", "Alex", "Admin", AgentProfile.Role.ADMIN, "en", "Europe/Madrid", AgentProfile.Availability.OFFLINE),
    UserSpec("manager", "Marta", "Vidal", AgentProfile.Role.MANAGER, "es", "Europe/Madrid",
             AgentProfile.Availability.ONLINE),
    UserSpec("lucia", "Lucía", "Fernández", AgentProfile.Role.AGENT, "es", "Europe/Madrid",
             AgentProfile.Availability.ONLINE),
    UserSpec("andrei", "Andrei", "Popescu", AgentProfile.Role.AGENT, "ro", "Europe/Bucharest",
             AgentProfile.Availability.ONLINE),
    UserSpec("emma", "Emma", "Clarke", AgentProfile.Role.AGENT, "en", "Europe/London", AgentProfile.Availability.AWAY),
]

SPAIN_TEAM, ROMANIA_TEAM, MARKETPLACES_TEAM = "Soporte España", "Suport România", "Marketplaces"
TEAMS = [  # name, store slug (None: every store), lead, members
    (SPAIN_TEAM, "casa-lumbre", "lucia", ["lucia", "manager"]),
    (ROMANIA_TEAM, "atelier-carpati", "andrei", ["andrei", "manager"]),
    (MARKETPLACES_TEAM, None, "emma", ["emma", "lucia", "manager"]),
]

TAGS = {
    "where-is-my-order": "#2563eb",
    "return": "#7c3aed",
    "refund": "#db2777",
    "damaged": "#dc2626",
    "invoice": "#0891b2",
    "vip": "#ca8a04",
    "cancellation": "#ea580c",
    "exchange": "#9333ea",
    "address-change": "#0d9488",
    "product-question": "#16a34a",
    "payment": "#be123c",
    "missing-item": "#c2410c",
    "carrier-claim": "#4b5563",
}

# title, language, store slug (None: every store), author, body. Placeholders: tickets.canned.PLACEHOLDERS.
CANNED_RESPONSES = [
    ("Greeting", "en", None, "emma",
     "Hi {{ customer_first_name }},\n\nThanks for getting in touch with {{ store_name }}. "),
    ("Where is my order", "en", None, "emma",
     "Hi {{ customer_first_name }},\n\nYour order {{ order_number }} is on its way. You can follow it here: "
     "{{ tracking_link }}\n\nKind regards,\n{{ agent_first_name }}"),
    ("Return instructions", "en", None, "emma",
     "Hi {{ customer_first_name }},\n\nYou can return order {{ order_number }} within 30 days. We'll email you a "
     "prepaid label: pack the item in its original box, stick the label on and drop it off. We refund within 3–5 "
     "working days of receiving it.\n\nKind regards,\n{{ agent_first_name }}"),
    ("Refund confirmation", "en", None, "emma",
     "Hi {{ customer_first_name }},\n\nThe refund for order {{ order_number }} has been issued to your original "
     "payment method. Depending on your bank it can take 3–5 working days to show.\n\nKind regards,\n"
     "{{ agent_first_name }}"),
    ("Invoice attached", "en", None, "emma",
     "Hi {{ customer_first_name }},\n\nPlease find attached the invoice for order {{ order_number }}.\n\n"
     "Kind regards,\n{{ agent_first_name }}"),
    ("Saludo", "es", "casa-lumbre", "lucia",
     "Hola {{ customer_first_name }}:\n\nGracias por escribir a {{ store_name }}. "),
    ("¿Dónde está mi pedido?", "es", "casa-lumbre", "lucia",
     "Hola {{ customer_first_name }}:\n\nTu pedido {{ order_number }} ya está en camino. Puedes seguirlo aquí: "
     "{{ tracking_link }} (número de seguimiento {{ tracking_number }}).\n\nUn saludo,\n{{ agent_first_name }}"),
    ("Instrucciones de devolución", "es", "casa-lumbre", "lucia",
     "Hola {{ customer_first_name }}:\n\nPuedes devolver el pedido {{ order_number }} en un plazo de 30 días. Te "
     "enviamos por correo una etiqueta prepagada: mete el artículo en su caja original, pega la etiqueta y "
     "entrégalo en cualquier oficina. Te reembolsamos en 3–5 días laborables desde que lo recibamos.\n\n"
     "Un saludo,\n{{ agent_first_name }}"),
    ("Confirmación de reembolso", "es", "casa-lumbre", "lucia",
     "Hola {{ customer_first_name }}:\n\nYa hemos emitido el reembolso del pedido {{ order_number }} al mismo "
     "método de pago. Según tu banco, puede tardar de 3 a 5 días laborables en aparecer.\n\nUn saludo,\n"
     "{{ agent_first_name }}"),
    ("Factura adjunta", "es", "casa-lumbre", "lucia",
     "Hola {{ customer_first_name }}:\n\nTe adjuntamos la factura del pedido {{ order_number }}.\n\n"
     "Un saludo,\n{{ agent_first_name }}"),
    ("Salut", "ro", "atelier-carpati", "andrei",
     "Bună ziua, {{ customer_first_name }},\n\nVă mulțumim că ne-ați scris la {{ store_name }}. "),
    ("Unde este comanda?", "ro", "atelier-carpati", "andrei",
     "Bună ziua, {{ customer_first_name }},\n\nComanda {{ order_number }} este pe drum. O puteți urmări aici: "
     "{{ tracking_link }} (AWB {{ tracking_number }}).\n\nCu drag,\n{{ agent_first_name }}"),
    ("Instrucțiuni de retur", "ro", "atelier-carpati", "andrei",
     "Bună ziua, {{ customer_first_name }},\n\nPuteți returna comanda {{ order_number }} în 14 zile. Vă trimitem "
     "pe e-mail eticheta de retur: ambalați produsul în cutia originală, iar curierul îl ridică de la adresa "
     "dumneavoastră. Rambursăm în 3–5 zile lucrătoare de la primire.\n\nCu drag,\n{{ agent_first_name }}"),
    ("Confirmare rambursare", "ro", "atelier-carpati", "andrei",
     "Bună ziua, {{ customer_first_name }},\n\nAm efectuat rambursarea pentru comanda {{ order_number }} pe "
     "aceeași metodă de plată. În funcție de bancă, suma apare în 3–5 zile lucrătoare.\n\nCu drag,\n"
     "{{ agent_first_name }}"),
    ("Factura atașată", "ro", "atelier-carpati", "andrei",
     "Bună ziua, {{ customer_first_name }},\n\nGăsiți atașată factura pentru comanda {{ order_number }}.\n\n"
     "Cu drag,\n{{ agent_first_name }}"),
]

# --- Products, places, carriers ------------------------------------------------------------


class Product(NamedTuple):
    sku: str
    title: str
    title_en: str
    price: Decimal
    kind: str  # "fragile", "sized" or "textile"


PRODUCTS = {
    "casa-lumbre": [
        Product("CL-VELA-HIG", "Vela aromática de cera de soja Higuera, 200 g",
                "Fig Tree soy wax scented candle, 200 g", Decimal("18.90"), "fragile"),
        Product("CL-VELA-AZA", "Vela Azahar en vaso de cerámica, 300 g",
                "Orange Blossom candle in a ceramic jar, 300 g", Decimal("26.50"), "fragile"),
        Product("CL-TAZA-SET4", "Juego de 4 tazas de gres esmaltado, verde salvia",
                "Set of 4 glazed stoneware mugs, sage green", Decimal("34.00"), "fragile"),
        Product("CL-MANTA-MER", "Manta de lana merino 130×170 cm, gris perla",
                "Merino wool throw 130×170 cm, pearl grey", Decimal("79.00"), "textile"),
        Product("CL-LAMP-RAT", "Lámpara de sobremesa de ratán natural", "Natural rattan table lamp",
                Decimal("64.90"), "fragile"),
        Product("CL-DIF-AZA", "Difusor de varillas Azahar, 100 ml", "Orange Blossom reed diffuser, 100 ml",
                Decimal("21.00"), "fragile"),
        Product("CL-MANTEL-LIN", "Mantel de lino lavado 150×250 cm, terracota",
                "Washed linen tablecloth 150×250 cm, terracotta", Decimal("45.00"), "textile"),
        Product("CL-CESTA-MIM", "Cesta de mimbre con asas, mediana", "Wicker basket with handles, medium",
                Decimal("29.90"), "textile"),
        Product("CL-PLATOS-6", "Juego de 6 platos llanos de cerámica artesanal",
                "Set of 6 handmade ceramic dinner plates", Decimal("58.00"), "fragile"),
        Product("CL-ALB-M", "Albornoz de algodón orgánico, talla M", "Organic cotton bathrobe, size M",
                Decimal("55.00"), "sized"),
        Product("CL-ZAP-39", "Zapatillas de casa de lana, talla 39", "Wool house slippers, EU size 39",
                Decimal("32.00"), "sized"),
    ],
    "atelier-carpati": [
        Product("AC-CANA-HRZ", "Cană ceramică de Horezu, 350 ml", "", Decimal("65.00"), "fragile"),
        Product("AC-FARF-HRZ6", "Set 6 farfurii ceramică de Horezu, pictate manual", "", Decimal("420.00"), "fragile"),
        Product("AC-BOL-CUC", "Bol ceramică de Cucuteni, 18 cm", "", Decimal("120.00"), "fragile"),
        Product("AC-COVOR", "Covor țesut manual din lână, 120×180 cm", "", Decimal("1150.00"), "textile"),
        Product("AC-TRAISTA", "Traistă maramureșeană din lână", "", Decimal("185.00"), "textile"),
        Product("AC-PATURA", "Pătură de lână țigaie, 150×200 cm", "", Decimal("460.00"), "textile"),
        Product("AC-LINGURI", "Set 3 linguri de lemn sculptate manual", "", Decimal("95.00"), "textile"),
        Product("AC-FATA-MASA", "Față de masă brodată, 140×180 cm", "", Decimal("260.00"), "textile"),
        Product("AC-IE-M", "Ie tradițională brodată manual, mărimea M", "", Decimal("590.00"), "sized"),
        Product("AC-VESTA-S", "Vestă din lână țesută, mărimea S", "", Decimal("340.00"), "sized"),
    ],
}

FIRST_NAMES = {
    "es": ["María", "Carmen", "Javier", "Pablo", "Laura", "Elena", "Sergio", "Marta", "Alejandro", "Nuria", "Raúl",
           "Cristina", "Diego", "Irene", "Álvaro", "Beatriz", "Jorge", "Paula", "Andrés", "Sofía", "Miguel", "Rocío",
           "Daniel", "Ainhoa", "Iñaki", "Montserrat", "Noelia", "Jaume", "Ana", "Rubén"],
    "ro": ["Ioana", "Maria", "Elena", "Andreea", "Mihai", "Alexandru", "Ion", "Cristina", "Gabriel", "Daniela",
           "Bogdan", "Raluca", "Ștefan", "Oana", "Vlad", "Adriana", "Florin", "Simona", "Cătălin", "Irina", "Radu",
           "Mirela", "Sorin", "Alina", "Tudor", "Bianca", "Ciprian", "Roxana", "Dragoș", "Larisa"],
    "en": ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Grace", "Thomas", "Sophie", "James",
           "Emily", "William", "Chloe", "Liam", "Aoife", "Niamh", "Conor", "Ciara", "Seán", "Hannah", "Charlotte",
           "Ruby", "Callum", "Freya", "Declan"],
}
LAST_NAMES = {
    "es": ["García", "Martínez", "López", "Sánchez", "Romero", "Navarro", "Torres", "Domínguez", "Gil", "Vázquez",
           "Serrano", "Ramos", "Blanco", "Molina", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín",
           "Iglesias", "Medina", "Garrido", "Cortés", "Santos", "Lozano", "Guerrero", "Cano", "Prieto", "Méndez"],
    "ro": ["Popa", "Ionescu", "Constantin", "Dumitrescu", "Stan", "Stoica", "Gheorghe", "Rusu", "Munteanu", "Matei",
           "Ciobanu", "Marin", "Tudor", "Lungu", "Moldovan", "Florea", "Dinu", "Sârbu", "Mocanu", "Nistor", "Barbu",
           "Radu", "Cristea", "Toma", "Ene", "Pavel", "Iordache", "Preda", "Zamfir", "Mihăilă"],
    "en": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Roberts", "Walsh", "Murphy",
           "O'Brien", "Kelly", "Byrne", "Ryan", "Hughes", "Clarke", "Patel", "Wright", "Green", "Hall", "Wood",
           "Edwards", "Turner", "Kennedy", "Doyle", "Fletcher"],
}


class Place(NamedTuple):
    city: str
    postcode_prefix: str
    region: str


PLACES = {
    "ES": [Place("Madrid", "280", "Madrid"), Place("Barcelona", "080", "Barcelona"),
           Place("Valencia", "460", "Valencia"), Place("Sevilla", "410", "Sevilla"),
           Place("Zaragoza", "500", "Zaragoza"), Place("Málaga", "290", "Málaga"), Place("Bilbao", "480", "Bizkaia"),
           Place("Granada", "180", "Granada"), Place("Valladolid", "470", "Valladolid"),
           Place("Alicante", "030", "Alicante"), Place("Córdoba", "140", "Córdoba"),
           Place("Palma", "070", "Illes Balears")],
    "RO": [Place("București", "030", "București"), Place("Cluj-Napoca", "400", "Cluj"), Place("Iași", "700", "Iași"),
           Place("Timișoara", "300", "Timiș"), Place("Brașov", "500", "Brașov"), Place("Constanța", "900", "Constanța"),
           Place("Sibiu", "550", "Sibiu"), Place("Oradea", "410", "Bihor"), Place("Craiova", "200", "Dolj"),
           Place("Suceava", "720", "Suceava")],
    "GB": [Place("London", "N1", "Greater London"), Place("Manchester", "M14", "Greater Manchester"),
           Place("Leeds", "LS6", "West Yorkshire"), Place("Bristol", "BS7", "Bristol"),
           Place("Edinburgh", "EH10", "City of Edinburgh"), Place("Brighton", "BN2", "East Sussex"),
           Place("Cardiff", "CF24", "Cardiff"), Place("Norwich", "NR2", "Norfolk")],
    "IE": [Place("Dublin", "D04", "County Dublin"), Place("Cork", "T12", "County Cork"),
           Place("Galway", "H91", "County Galway"), Place("Limerick", "V94", "County Limerick")],
}
STREETS = {
    "ES": ["Calle Mayor", "Calle de Alcalá", "Avenida de la Constitución", "Calle San Vicente", "Calle Larios",
           "Gran Vía", "Calle del Carmen", "Avenida de Andalucía", "Calle Real", "Paseo de la Castellana"],
    "RO": ["Str. Mihai Eminescu", "Bd. Unirii", "Str. Avram Iancu", "Calea Victoriei", "Str. Republicii",
           "Bd. Independenței", "Str. Florilor", "Str. Lalelelor", "Str. Nicolae Bălcescu"],
    "GB": ["Rosebery Avenue", "Mill Lane", "Station Road", "Church Street", "Victoria Road", "Park Avenue",
           "Queen's Road", "Albert Street"],
    "IE": ["Main Street", "Church Road", "Strand Road", "Seafield Avenue", "Castle Street"],
}
COUNTRY_TIME_ZONES = {"ES": "Europe/Madrid", "RO": "Europe/Bucharest", "GB": "Europe/London", "IE": "Europe/Dublin"}
VAT_RATES = {"ES": Decimal("0.21"), "RO": Decimal("0.19"), "GB": Decimal("0.20"), "IE": Decimal("0.23")}
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]


class Carrier(NamedTuple):
    name: str
    tracking: Callable[[random.Random], str]
    url: str  # with {n} for the tracking number


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _letters(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(count))


CARRIERS = {
    "Correos": Carrier("Correos", lambda r: f"PQ{_letters(r, 3)}{_digits(r, 2)}{_digits(r, 15)}{_letters(r, 1)}",
                       "https://www.correos.es/es/es/herramientas/localizador/envios/detalle?tracking-number={n}"),
    "SEUR": Carrier("SEUR", lambda r: f"0625{_digits(r, 10)}",
                    "https://www.seur.com/livetracking/?segOnlineIdentificador={n}"),
    "MRW": Carrier("MRW", lambda r: f"0264{_digits(r, 8)}",
                   "https://www.mrw.es/seguimiento_envios/MRW_resultados_consultas.asp?modo=nacional&envio={n}"),
    "DHL": Carrier("DHL", lambda r: _digits(r, 10), "https://www.dhl.com/gb-en/home/tracking.html?tracking-id={n}"),
    "Royal Mail": Carrier("Royal Mail", lambda r: f"{_letters(r, 2)}{_digits(r, 9)}GB",
                          "https://www.royalmail.com/track-your-item#/tracking-results/{n}"),
    "Fan Courier": Carrier("Fan Courier", lambda r: f"23{_digits(r, 11)}",
                           "https://www.fancourier.ro/awb-tracking/?tracking={n}"),
    "Sameday": Carrier("Sameday", lambda r: f"1ONB{_digits(r, 11)}", "https://sameday.ro/#awb={n}"),
    "Cargus": Carrier("Cargus", lambda r: f"107{_digits(r, 7)}",
                      "https://www.cargus.ro/tracking-romanian/?t={n}"),
}
CARRIERS_BY_COUNTRY = {
    "ES": ["Correos", "SEUR", "MRW"],
    "GB": ["Royal Mail", "DHL"],
    "IE": ["DHL"],
    "RO": ["Fan Courier", "Sameday", "Cargus"],
}

# --- Conversation texts ---------------------------------------------------------------------
# One Thread is one coherent conversation: the customer's opening, the agent's first reply, the
# customer's answer, the agent's resolution and an internal note. Placeholders: {first} {name}
# {order} {product} {carrier} {tracking} {link} {amount} {address} {city} {store}.


class Thread(NamedTuple):
    subject: str
    opening: str
    reply: str
    followup: str
    resolution: str
    note: str


THREADS: dict[str, dict[str, list[Thread]]] = {
    "wismo": {
        "es": [
            Thread("¿Dónde está mi pedido {order}?",
                   "Hice el pedido {order} hace más de una semana y todavía no me ha llegado. ¿Me podéis decir dónde "
                   "está?",
                   "Tu pedido {order} salió de nuestro almacén y lo lleva {carrier}. Puedes seguirlo aquí: {link} "
                   "(número de seguimiento {tracking}). Según el transportista, la entrega está prevista en 1–2 días "
                   "laborables.",
                   "He mirado el enlace y sigue poniendo «en tránsito» desde el martes. ¿Podéis preguntar a "
                   "{carrier}?",
                   "Hemos abierto una incidencia con {carrier} y nos confirman que el paquete se entrega mañana por "
                   "la mañana. Si no fuera así, te enviamos otro sin coste.",
                   "Abierta reclamación con {carrier} (ref. {tracking}). Esperar 48 h antes de reenviar."),
            Thread("Pedido {order} sin noticias",
                   "El seguimiento de {carrier} no se actualiza desde hace cuatro días y no sé si el paquete sigue en "
                   "camino. Es un regalo de cumpleaños y lo necesito para el sábado.",
                   "Lo hemos comprobado: el paquete está en la delegación de {carrier} de tu zona y saldrá a reparto "
                   "en breve. Te dejo el enlace de seguimiento: {link}",
                   "¡Genial! ¿Seguro que llega antes del sábado?",
                   "{carrier} nos confirma que ya está en reparto: lo tendrás hoy o mañana como muy tarde. ¡Que lo "
                   "disfrutéis!",
                   "Seguimiento parado 4 días en el centro de clasificación. Si mañana no se mueve, reenvío."),
            Thread("No he recibido el número de seguimiento",
                   "¿Cuándo llega mi pedido {order}? No he recibido ningún correo con el número de seguimiento.",
                   "Perdona, el correo de envío no llegó a salir. Tu pedido va con {carrier}, número {tracking}. "
                   "Puedes seguirlo aquí: {link}",
                   "Vale, gracias. Si el viernes no ha llegado os vuelvo a escribir.",
                   "¡Perfecto! Cualquier cosa, aquí estamos.",
                   "La notificación de envío falló para este pedido. Revisar la plantilla de la tienda."),
        ],
        "ro": [
            Thread("Unde este comanda {order}?",
                   "Am plasat comanda {order} acum o săptămână și încă nu am primit-o. Puteți verifica, vă rog, unde "
                   "se află coletul?",
                   "Comanda {order} a plecat din atelier și este livrată de {carrier}. O puteți urmări aici: {link} "
                   "(AWB {tracking}). Curierul estimează livrarea în 1–2 zile lucrătoare.",
                   "Am verificat linkul și apare tot „în tranzit” de marți. Puteți lua legătura cu {carrier}?",
                   "Am deschis o reclamație la {carrier}, iar colegii lor ne confirmă că livrarea se face mâine până "
                   "la prânz. Dacă nu ajunge, vă trimitem alt colet fără costuri.",
                   "Reclamație deschisă la {carrier} pentru AWB {tracking}. Așteptăm 48 h înainte să retrimitem."),
            Thread("Comanda {order} nu a ajuns",
                   "Pe site-ul {carrier} scrie de patru zile că coletul e în depozit. Mai durează mult? E un cadou de "
                   "ziua cuiva și am nevoie de el până sâmbătă.",
                   "Am verificat: coletul se află la depozitul {carrier} din zona dumneavoastră și va ieși în livrare "
                   "în curând. Linkul de urmărire: {link}",
                   "Super! Sigur ajunge până sâmbătă?",
                   "{carrier} ne confirmă că acum coletul este în livrare: îl primiți azi sau cel târziu mâine. Vă "
                   "mulțumim pentru răbdare!",
                   "Tracking blocat de 4 zile în hub. Dacă nu se mișcă mâine, retrimit comanda."),
            Thread("Nu am primit AWB-ul",
                   "Nu am primit niciun AWB pentru comanda {order}. A fost expediată?",
                   "Ne cerem scuze, e-mailul de expediere nu a plecat. Comanda este la {carrier}, AWB {tracking}. O "
                   "puteți urmări aici: {link}",
                   "Bine, mulțumesc. Dacă nu ajunge până vineri, vă scriu din nou.",
                   "Perfect! Pentru orice întrebare, suntem aici.",
                   "Notificarea de expediere a eșuat la comanda asta. De verificat șablonul din magazin."),
        ],
        "en": [
            Thread("Where is my order {order}?",
                   "I placed order {order} over a week ago and it still hasn't arrived. Could you let me know where "
                   "it is?",
                   "Your order {order} has left our warehouse with {carrier}. You can follow it here: {link} "
                   "(tracking number {tracking}). The carrier expects to deliver within 1–2 working days.",
                   "I've checked the link and it's said \"in transit\" since Tuesday. Could you chase {carrier}?",
                   "We've opened a case with {carrier} and they confirm delivery tomorrow morning. If it doesn't turn "
                   "up we'll send a replacement free of charge.",
                   "Case opened with {carrier} for {tracking}. Give it 48 h before reshipping."),
            Thread("Order {order} not arrived yet",
                   "The {carrier} tracking hasn't updated for four days. It's a birthday present so I really need it "
                   "by Saturday. Can you check?",
                   "I've looked into it: the parcel is at the local {carrier} depot and should be out for delivery "
                   "shortly. Here's the tracking link: {link}",
                   "Brilliant, will it definitely be here before Saturday?",
                   "{carrier} confirm it's now out for delivery, so you'll have it today or tomorrow at the latest. "
                   "Enjoy!",
                   "Tracking stuck at the sorting centre for 4 days; reship tomorrow if no movement."),
            Thread("No tracking number received",
                   "When will my order {order} be delivered? I never got a shipping confirmation email.",
                   "Sorry about that, the shipping email didn't go out. Your order is with {carrier}, tracking number "
                   "{tracking}: {link}",
                   "Ok thanks, I'll wait and get back to you if it's not here by Friday.",
                   "Perfect! Just shout if you need anything else.",
                   "Shipping notification failed for this order. Check the shop's email template."),
        ],
    },
    "not_received": {
        "es": [
            Thread("Pone entregado pero no lo he recibido",
                   "El seguimiento dice que mi pedido {order} se entregó ayer, pero yo no he recibido nada. He "
                   "preguntado a los vecinos y en portería y nadie tiene el paquete.",
                   "Sentimos mucho el problema. Hemos pedido a {carrier} la prueba de entrega (firma y ubicación). "
                   "Mientras tanto, ¿nos confirmas que la dirección de envío es {address}?",
                   "Sí, la dirección es correcta. He vuelto a preguntar en el edificio y nada.",
                   "{carrier} no ha podido demostrar la entrega, así que te enviamos un pedido nuevo hoy mismo. "
                   "Recibirás el nuevo número de seguimiento por correo.",
                   "Pedida prueba de entrega a {carrier}. Si no hay firma, reenvío sin coste."),
            Thread("Pedido {order} marcado como entregado",
                   "{carrier} marca el pedido {order} como entregado, pero estuve en casa toda la tarde y nadie "
                   "llamó. ¿Qué hago?",
                   "Gracias por avisarnos. Hemos abierto una investigación con {carrier}; suelen responder en 2–3 "
                   "días laborables. Te escribimos en cuanto sepamos algo.",
                   "De acuerdo, quedo a la espera.",
                   "Buenas noticias: {carrier} había dejado el paquete por error en un punto de recogida cercano. "
                   "Mañana te lo llevan a casa.",
                   "Cliente con 3 pedidos anteriores sin incidencias. OK a reenviar si el transportista no responde."),
        ],
        "ro": [
            Thread("Apare livrat, dar nu l-am primit",
                   "Pe urmărire scrie că pachetul pentru comanda {order} a fost livrat ieri, dar eu nu am primit "
                   "nimic. Am întrebat și vecinii, nimeni nu are coletul.",
                   "Ne pare foarte rău. Am cerut de la {carrier} dovada livrării (semnătura și locația). Între timp, "
                   "ne puteți confirma că adresa de livrare este {address}?",
                   "Da, adresa este corectă. Am mai întrebat o dată la bloc și nimic.",
                   "{carrier} nu a putut dovedi livrarea, așa că vă trimitem azi o comandă nouă. Veți primi noul AWB "
                   "pe e-mail.",
                   "Cerută dovada livrării de la {carrier}. Dacă nu au semnătură, retrimitem gratuit."),
            Thread("Comanda {order} marcată ca livrată",
                   "{carrier} arată comanda {order} ca livrată, dar am fost acasă toată după-amiaza și nu m-a sunat "
                   "nimeni. Ce pot face?",
                   "Mulțumim că ne-ați anunțat. Am deschis o anchetă la {carrier}; de obicei răspund în 2–3 zile "
                   "lucrătoare. Revenim imediat ce aflăm ceva.",
                   "Bine, aștept vești de la voi.",
                   "Vești bune: curierul a lăsat din greșeală coletul într-un punct de ridicare din apropiere. Mâine "
                   "vi-l aduce acasă.",
                   "Client fidel, 3 comenzi fără probleme. OK pentru retrimitere dacă curierul nu răspunde."),
        ],
        "en": [
            Thread("Says delivered but I haven't received it",
                   "Tracking says my parcel for order {order} was delivered yesterday but I haven't received "
                   "anything. I've asked my neighbours and nobody has it.",
                   "I'm so sorry about this. We've asked {carrier} for proof of delivery (signature and location). In "
                   "the meantime, could you confirm the delivery address is {address}?",
                   "Yes, that's the right address. I've asked around again, nothing.",
                   "{carrier} couldn't prove delivery, so we're sending you a replacement today. You'll get the new "
                   "tracking number by email.",
                   "Asked {carrier} for proof of delivery. No signature = reship free."),
            Thread("Order {order} marked as delivered",
                   "{carrier} shows order {order} as delivered but I was home all afternoon and nobody knocked. What "
                   "can I do?",
                   "Thanks for letting us know. We've opened an investigation with {carrier}; they usually reply "
                   "within 2–3 working days. We'll be in touch as soon as we hear back.",
                   "Ok, I'll wait to hear from you.",
                   "Good news: {carrier} had left the parcel at a nearby collection point by mistake. They'll bring "
                   "it to your door tomorrow.",
                   "Repeat customer, no previous claims. OK to reship if the carrier doesn't answer."),
        ],
    },
    "damaged": {
        "es": [
            Thread("Producto roto al llegar",
                   "Acabo de abrir el paquete y «{product}» ha llegado en mal estado: la caja venía aplastada por un "
                   "lado y el producto está roto. ¿Me podéis enviar otro?",
                   "¡Qué rabia, lo sentimos mucho! Para tramitarlo rápido, ¿nos envías una foto del producto y otra "
                   "de la caja por fuera? No hace falta que nos lo devuelvas.",
                   "Os acabo de mandar las fotos. Prefiero que me enviéis uno nuevo, no el reembolso.",
                   "Gracias por las fotos. Te enviamos hoy mismo uno nuevo con {carrier}, sin ningún coste. No hace "
                   "falta que devuelvas el dañado.",
                   "Fotos recibidas: rotura clara por transporte. Reclamar a {carrier} con la ref. {tracking}."),
            Thread("Me ha llegado dañado el pedido {order}",
                   "El pedido {order} ha llegado con «{product}» dañado. Es una pena porque era para un regalo. ¿Cómo "
                   "lo solucionamos?",
                   "Sentimos mucho que haya llegado así. Ya hemos registrado la incidencia; ¿prefieres que te "
                   "enviemos uno nuevo o que te devolvamos el importe?",
                   "Prefiero el reembolso, gracias.",
                   "Hecho: hemos reembolsado {amount} al mismo método de pago. Lo verás en tu cuenta en 3–5 días "
                   "laborables.",
                   "Tercer caso esta semana con este producto: revisar el embalaje con almacén."),
        ],
        "ro": [
            Thread("Produs spart la livrare",
                   "Am deschis coletul și produsul „{product}” a ajuns spart: cutia era turtită pe o parte. Îmi "
                   "puteți trimite altul?",
                   "Ne pare tare rău! Ca să rezolvăm rapid, ne puteți trimite o poză cu produsul și una cu cutia pe "
                   "exterior? Nu trebuie să ni-l returnați.",
                   "V-am trimis pozele. Aș prefera un produs nou în loc de bani înapoi.",
                   "Mulțumim pentru poze. Vă trimitem azi un produs nou prin {carrier}, fără niciun cost. Nu este "
                   "nevoie să returnați produsul deteriorat.",
                   "Poze primite: deteriorare clară la transport. Deschidem dosar de daună la {carrier} pentru AWB "
                   "{tracking}."),
            Thread("Comanda {order} a ajuns deteriorată",
                   "Comanda {order} a ajuns cu produsul „{product}” deteriorat. Păcat, era un cadou. Cum rezolvăm?",
                   "Ne pare rău că a ajuns așa. Am înregistrat deja problema; preferați să vă trimitem un produs nou "
                   "sau să vă returnăm banii?",
                   "Prefer banii înapoi, mulțumesc.",
                   "Gata: am rambursat {amount} pe aceeași metodă de plată. Suma va apărea în cont în 3–5 zile "
                   "lucrătoare.",
                   "Al treilea caz săptămâna asta cu ceramica; de verificat ambalarea cu depozitul."),
        ],
        "en": [
            Thread("Item arrived broken",
                   "I've just opened the parcel and the \"{product}\" is broken. The outer box was crushed on one "
                   "side. Could you send another one?",
                   "Oh no, I'm really sorry! To get this sorted quickly, could you send us a photo of the item and "
                   "one of the outside of the box? There's no need to send it back.",
                   "I've sent you the photos. I'd rather have a replacement than a refund.",
                   "Thanks for the photos. We're sending a new one today with {carrier}, at no cost to you. No need "
                   "to return the damaged one.",
                   "Photos received: clear transit damage. Claim against {carrier} with ref {tracking}."),
            Thread("Order {order} arrived damaged",
                   "Order {order} arrived with the \"{product}\" damaged. Such a shame, it was a gift. How can we "
                   "sort this out?",
                   "I'm sorry it arrived like that. I've logged the damage already; would you prefer a replacement or "
                   "a refund?",
                   "A refund please.",
                   "Done: we've refunded {amount} to your original payment method. It should show in 3–5 working "
                   "days.",
                   "Third breakage this week on this product; raise packaging with the warehouse."),
        ],
    },
    "exchange": {
        "es": [
            Thread("Cambio de talla",
                   "Me ha llegado «{product}» pero me queda pequeño. ¿Puedo cambiarlo por una talla más?",
                   "¡Claro! El cambio de talla es gratis. Te enviamos por correo una etiqueta de devolución; en cuanto "
                   "el paquete esté en camino, te mandamos la talla nueva.",
                   "Perfecto, lo llevo mañana a la oficina con la etiqueta.",
                   "Hemos recibido la devolución y la talla nueva ya va de camino. Seguimiento: {link}",
                   "Comprobado stock de la talla siguiente: quedan 3 unidades. Reservada una."),
            Thread("Cambio de talla – pedido {order}",
                   "Pedí «{product}» y es demasiado grande. ¿Cómo hago el cambio? No lo he usado y tiene la etiqueta.",
                   "Sin problema. Dime qué talla necesitas y te preparo el cambio; {carrier} pasará a recogerlo por tu "
                   "domicilio.",
                   "Una talla menos, por favor. ¿Tengo que pagar yo el envío?",
                   "No, el cambio no tiene ningún coste para ti. La talla nueva sale hoy mismo: {link}",
                   "Recogida programada con {carrier}. Enviar la talla nueva sin esperar a la devolución."),
        ],
        "ro": [
            Thread("Schimb de mărime",
                   "Am primit „{product}”, dar îmi este mic. Se poate schimba cu o mărime mai mare?",
                   "Sigur! Schimbul de mărime este gratuit. Vă trimitem pe e-mail eticheta de retur; după ce coletul "
                   "pleacă, vă expediem mărimea nouă.",
                   "Perfect, îl dau mâine curierului cu eticheta.",
                   "Am primit returul, iar mărimea nouă este deja pe drum. Urmărire: {link}",
                   "Verificat stocul pentru mărimea următoare: mai sunt 3 bucăți. Am rezervat una."),
            Thread("Schimb mărime – comanda {order}",
                   "Am comandat „{product}” și este prea mare. Cum fac schimbul? Nu l-am purtat, are eticheta.",
                   "Nicio problemă. Spuneți-ne ce mărime doriți și pregătim schimbul; curierul {carrier} vine să "
                   "ridice coletul de acasă.",
                   "O mărime mai mică, vă rog. Transportul îl plătesc eu?",
                   "Nu, schimbul nu vă costă nimic. Mărimea nouă pleacă azi: {link}",
                   "Ridicare programată cu {carrier}. Trimitem mărimea nouă fără să așteptăm returul."),
        ],
        "en": [
            Thread("Size exchange",
                   "The \"{product}\" arrived but it's too small. Can I exchange it for the next size up?",
                   "Of course! Size exchanges are free. We'll email you a return label; as soon as the parcel is on "
                   "its way we'll send out the new size.",
                   "Great, I'll drop it off tomorrow with the label.",
                   "We've received your return and the new size is on its way. Tracking: {link}",
                   "Checked stock for the next size up: 3 left, one reserved."),
            Thread("Exchange for a different size – order {order}",
                   "I ordered the \"{product}\" and it's far too big. How do I swap it? It's unworn with the tags on.",
                   "No problem at all. Just tell me which size you need and I'll set up the exchange; {carrier} will "
                   "collect it from your address.",
                   "One size down please. Do I have to pay for postage?",
                   "No, exchanges don't cost you anything. The new size ships today: {link}",
                   "Collection booked with {carrier}. Send the new size without waiting for the return."),
        ],
    },
    "invoice": {
        "es": [
            Thread("Factura del pedido {order}",
                   "¿Me podéis enviar la factura del pedido {order}? La necesito a nombre de mi empresa.",
                   "¡Claro! Para emitir la factura a nombre de la empresa necesitamos la razón social, el NIF y la "
                   "dirección fiscal. En cuanto los tengamos te la enviamos.",
                   "Los datos son: Estudio Alba Interiores S.L., NIF B00000000, Calle Colón 14, 46004 Valencia.",
                   "Aquí tienes la factura con los datos de tu empresa. ¡Gracias por confiar en {store}!",
                   "Factura emitida desde el ERP con los datos fiscales del cliente."),
            Thread("Solicitud de factura",
                   "Necesito la factura completa (no el ticket) del pedido {order} para la contabilidad. Gracias.",
                   "Te adjuntamos la factura del pedido {order} en PDF. Si necesitas algún cambio en los datos "
                   "fiscales, dínoslo.",
                   "Recibida. ¿Podéis poner también mi segundo apellido?",
                   "Hecho, te adjunto la factura corregida.",
                   "Factura rectificada: cambio de nombre, mismo importe."),
        ],
        "ro": [
            Thread("Factură pe firmă pentru comanda {order}",
                   "Îmi puteți trimite factura pentru comanda {order}? Am nevoie de ea pe firmă.",
                   "Sigur! Pentru factura pe firmă avem nevoie de denumire, CUI și adresa sediului. Cum le primim, o "
                   "emitem.",
                   "Datele sunt: Casa Verde Design SRL, CUI RO00000000, Str. Memorandumului 21, Cluj-Napoca.",
                   "Găsiți atașată factura cu datele firmei. Vă mulțumim că ați ales {store}!",
                   "Factura emisă din ERP; de transmis și în e-Factura."),
            Thread("Solicitare factură",
                   "Aș avea nevoie de factura fiscală pentru comanda {order}, pentru contabilitate. Mulțumesc!",
                   "Vă atașăm factura pentru comanda {order} în format PDF. Dacă trebuie modificat ceva la datele de "
                   "facturare, ne spuneți.",
                   "Am primit-o. Puteți trece și adresa de facturare corectă? Am schimbat apartamentul.",
                   "Gata, vă atașăm factura corectată.",
                   "Factură stornată și reemisă cu adresa nouă."),
        ],
        "en": [
            Thread("VAT invoice for order {order}",
                   "Could you send me a VAT invoice for order {order}? I need it in my company's name.",
                   "Of course! For a company invoice we need the company name, VAT number and registered address. "
                   "Once we have them we'll send it straight over.",
                   "Company details: Hollow Oak Interiors Ltd, VAT GB000000000, 12 Mill Lane, Bristol BS1 4DJ.",
                   "Here's the invoice with your company details. Thanks for shopping with {store}!",
                   "Invoice raised in the ERP with the customer's company details."),
            Thread("Invoice request",
                   "I need a proper invoice (not just the packing slip) for order {order} for my accounts. Thanks!",
                   "Please find attached the invoice for order {order} as a PDF. Let us know if any of the billing "
                   "details need changing.",
                   "Got it, thanks. Could you add my middle name? My accountant is picky.",
                   "Done, the corrected invoice is attached.",
                   "Invoice reissued: name change only, same amount."),
        ],
    },
    "cancellation": {
        "es": [
            Thread("Cancelar pedido {order}",
                   "Acabo de hacer el pedido {order} y me he equivocado de color. ¿Lo podéis cancelar antes de que "
                   "salga?",
                   "Lo hemos parado a tiempo: el pedido {order} está cancelado y no se enviará. El reembolso de "
                   "{amount} se hace al mismo método de pago.",
                   "Vale, ¿y cuándo veré el dinero?",
                   "El reembolso ya está emitido; según tu banco puede tardar de 3 a 5 días laborables en aparecer.",
                   "Pedido retenido en almacén antes de preparar. Cancelado en la tienda."),
            Thread("Quiero cancelar mi pedido",
                   "Quiero cancelar el pedido {order}, lo he encontrado en una tienda cerca de casa. Todavía no ha "
                   "salido, ¿verdad?",
                   "Estamos revisando con el almacén si el pedido ya ha salido. Te confirmamos en un rato.",
                   "Gracias, quedo a la espera.",
                   "Confirmado: pedido cancelado y reembolso de {amount} emitido. Puede tardar 3–5 días laborables en "
                   "aparecer en tu cuenta.",
                   "Ya tenía etiqueta creada: anulada la etiqueta de {carrier}."),
        ],
        "ro": [
            Thread("Anulare comandă {order}",
                   "Tocmai am plasat comanda {order} și am greșit culoarea. O puteți anula înainte să plece?",
                   "Am oprit-o la timp: comanda {order} este anulată și nu va fi expediată. Suma de {amount} se "
                   "returnează pe aceeași metodă de plată.",
                   "Bine, și banii când îi primesc înapoi?",
                   "Rambursarea este deja făcută; în funcție de bancă, poate dura 3–5 zile lucrătoare până apare în "
                   "cont.",
                   "Comanda oprită în depozit înainte de ambalare. Anulată în magazin."),
            Thread("Vreau să anulez comanda",
                   "Aș dori să anulez comanda {order}, am găsit produsul într-un magazin din oraș. Încă nu a fost "
                   "expediată, nu?",
                   "Verificăm cu depozitul dacă a plecat deja comanda. Revenim în scurt timp.",
                   "Mulțumesc, aștept.",
                   "Confirmat: comanda a fost anulată și am inițiat rambursarea de {amount}. Poate dura 3–5 zile "
                   "lucrătoare până apare în cont.",
                   "Avea deja AWB generat: am anulat AWB-ul la {carrier}."),
        ],
        "en": [
            Thread("Cancel order {order}",
                   "I've just placed order {order} and picked the wrong colour. Can you cancel it before it ships?",
                   "We caught it in time: order {order} is cancelled and won't be shipped. The refund of {amount} "
                   "goes back to your original payment method.",
                   "Ok, when will I see the money?",
                   "The refund has already been issued; depending on your bank it takes 3–5 working days to show.",
                   "Stopped at the warehouse before picking. Cancelled in the shop admin."),
            Thread("Please cancel my order",
                   "I'd like to cancel order {order}, I found the same thing locally. It hasn't been sent yet, has "
                   "it?",
                   "I'm checking with the warehouse whether it has already left. I'll confirm shortly.",
                   "Thanks, I'll wait.",
                   "Confirmed: the order is cancelled and a refund of {amount} has been issued. It can take 3–5 "
                   "working days to show on your account.",
                   "Label already created: voided the {carrier} label."),
        ],
    },
    "return": {
        "es": [
            Thread("Devolución del pedido {order}",
                   "Quiero devolver «{product}», no me convence cómo queda en casa. ¿Cómo lo hago?",
                   "Claro, tienes 30 días para devolverlo. Te enviamos una etiqueta de devolución de {carrier}: pégala "
                   "en la caja y entrégala en cualquier oficina. Cuando la recibamos, te reembolsamos en 3–5 días.",
                   "Ya lo he enviado con la etiqueta que me pasasteis.",
                   "Hemos recibido la devolución y todo está correcto. Ya hemos emitido el reembolso de {amount}.",
                   "Devolución recibida en almacén, producto en perfecto estado. Reembolsar."),
            Thread("Quiero devolver un artículo",
                   "Me gustaría devolver el pedido {order}. Está sin usar y en su caja. ¿Cuál es el procedimiento?",
                   "Sin problema. Empaqueta el artículo en su caja original y te mandamos la etiqueta. La devolución "
                   "es gratuita.",
                   "¿Tengo que imprimir la etiqueta o me la traen?",
                   "No hace falta imprimir: con el código QR que te hemos enviado te la imprimen en la oficina.",
                   "Fuera de plazo por 2 días, pero lo aceptamos: buen cliente."),
        ],
        "ro": [
            Thread("Retur comanda {order}",
                   "Aș vrea să returnez „{product}”, nu arată cum mă așteptam în casă. Cum procedez?",
                   "Sigur, aveți 14 zile pentru retur. Vă trimitem o etichetă de retur {carrier}: o lipiți pe colet "
                   "și curierul îl ridică de la adresa dumneavoastră. După ce îl primim, vă rambursăm în 3–5 zile.",
                   "L-am predat azi curierului, cu eticheta primită de la voi.",
                   "Am primit returul și totul este în regulă. Am inițiat deja rambursarea de {amount}.",
                   "Retur primit în depozit, produs în stare perfectă. De rambursat."),
            Thread("Aș dori să returnez un produs",
                   "Doresc să returnez comanda {order}. Produsele sunt nefolosite, în ambalajul original. Care este "
                   "procedura?",
                   "Nicio problemă. Ambalați produsul în cutia originală și vă trimitem eticheta. Returul este "
                   "gratuit.",
                   "Trebuie să printez eticheta sau vine curierul cu ea?",
                   "Nu trebuie să printați nimic: curierul vine cu AWB-ul tipărit.",
                   "Depășit termenul cu 2 zile, dar acceptăm: client fidel."),
        ],
        "en": [
            Thread("Return for order {order}",
                   "I'd like to return the \"{product}\", it doesn't look right in our living room. How do I do that?",
                   "Of course, you have 30 days to return it. We'll email you a prepaid {carrier} label: stick it on "
                   "the box and drop it off. Once it's back with us we'll refund you within 3–5 days.",
                   "I've sent it back today with the label you gave me.",
                   "Your return has arrived and everything's in order. We've issued a refund of {amount}.",
                   "Return received at the warehouse, item as new. Refund."),
            Thread("I'd like to return an item",
                   "I want to return order {order}. It's unused and still in the box. What's the process?",
                   "No problem. Pack the item in its original box and we'll send the label over. Returns are free.",
                   "Do I need to print the label or will the courier bring it?",
                   "No need to print anything: show the QR code we sent at the drop-off point.",
                   "Two days outside the return window but accepting, good customer."),
        ],
    },
    "refund_status": {
        "es": [
            Thread("¿Cuándo recibo el reembolso?",
                   "Devolví el pedido {order} hace dos semanas y todavía no he recibido el reembolso. ¿Me podéis decir "
                   "algo?",
                   "Hemos revisado tu devolución: llegó al almacén y el reembolso de {amount} se emitió ayer. Según el "
                   "banco, puede tardar de 3 a 5 días laborables en aparecer.",
                   "Sigo sin ver nada en la cuenta. ¿Me podéis mandar el justificante?",
                   "Te adjuntamos el justificante del reembolso de {amount}. Si en dos días no lo ves, dínoslo y lo "
                   "revisamos con el banco.",
                   "Reembolso atascado en la pasarela de pago; relanzado manualmente."),
            Thread("Reembolso pendiente del pedido {order}",
                   "Según el seguimiento, la devolución os llegó el lunes. ¿Cuándo me vais a devolver el dinero?",
                   "Perdona el retraso. La devolución está en control de calidad y hoy mismo se emite el reembolso. Te "
                   "avisamos en cuanto esté.",
                   "Vale, gracias por avisar.",
                   "Te confirmamos que el reembolso de {amount} está emitido.",
                   "Control de calidad OK. Reembolso lanzado."),
        ],
        "ro": [
            Thread("Când primesc banii înapoi?",
                   "Am returnat comanda {order} acum două săptămâni și încă nu am primit banii înapoi. Îmi puteți "
                   "spune ceva?",
                   "Am verificat returul: a ajuns în depozit și rambursarea de {amount} a fost făcută ieri. În "
                   "funcție de bancă, poate dura 3–5 zile lucrătoare.",
                   "Tot nu văd nimic în cont. Îmi puteți trimite dovada plății?",
                   "Vă atașăm dovada rambursării de {amount}. Dacă în două zile nu apare, ne spuneți și verificăm cu "
                   "banca.",
                   "Rambursare blocată în procesatorul de plăți; relansată manual."),
            Thread("Rambursare în așteptare pentru comanda {order}",
                   "Conform AWB-ului, returul a ajuns la voi luni. Când îmi returnați banii?",
                   "Ne cerem scuze pentru întârziere. Returul este la verificare și azi inițiem rambursarea. Vă "
                   "anunțăm imediat.",
                   "Bine, mulțumesc că m-ați anunțat.",
                   "Vă confirmăm că rambursarea de {amount} a fost efectuată.",
                   "Verificare OK. Rambursare lansată."),
        ],
        "en": [
            Thread("When will I get my refund?",
                   "I returned order {order} two weeks ago and still haven't had my refund. Can you tell me what's "
                   "happening?",
                   "I've checked your return: it reached our warehouse and the refund of {amount} was issued "
                   "yesterday. Depending on your bank it can take 3–5 working days to appear.",
                   "Still nothing on my card. Could you send me proof of the refund?",
                   "Attached is the confirmation of the {amount} refund. If it hasn't shown in two days, let us know "
                   "and we'll chase it with the bank.",
                   "Refund stuck at the payment gateway; re-triggered manually."),
            Thread("Refund still pending for order {order}",
                   "Tracking shows you received my return on Monday. When will I be refunded?",
                   "Sorry for the delay. Your return is in quality control and the refund goes out today. I'll let you "
                   "know as soon as it's done.",
                   "Ok, thanks for the update.",
                   "I can confirm the refund of {amount} has been issued.",
                   "QC passed. Refund issued."),
        ],
    },
    "address_change": {
        "es": [
            Thread("Me he equivocado de dirección – pedido {order}",
                   "En el pedido {order} puse mal la dirección: el piso es 3.º B, no 2.º B. ¿Lo podéis corregir?",
                   "¡Sin problema! Como el pedido aún no ha salido, lo cambiamos. ¿Nos confirmas la dirección "
                   "completa con el código postal?",
                   "Es {address}, pero 3.º B.",
                   "Dirección corregida y pedido preparado. Seguimiento: {link}",
                   "Dirección corregida en la tienda y en la etiqueta de {carrier}."),
            Thread("Cambiar dirección de entrega",
                   "¿Puedo cambiar la dirección de entrega del pedido {order}? Esa semana no estaré en casa y prefiero "
                   "que llegue al trabajo.",
                   "Claro, pásanos la dirección del trabajo y la cambiamos antes de que salga.",
                   "Calle de Serrano 41, 4.º izquierda, 28001 Madrid. Gracias por la rapidez.",
                   "Hemos actualizado la dirección en el pedido {order}. Sale hoy con {carrier}: {link}",
                   "Etiqueta de {carrier} regenerada con la nueva dirección."),
        ],
        "ro": [
            Thread("Am greșit adresa – comanda {order}",
                   "La comanda {order} am greșit numărul apartamentului: este ap. 17, nu 7. Puteți corecta?",
                   "Nicio problemă! Comanda nu a plecat încă, așa că putem modifica adresa. Ne confirmați adresa "
                   "completă, cu codul poștal?",
                   "Este {address}, dar ap. 17.",
                   "Adresa a fost corectată, iar comanda este pregătită. Urmărire: {link}",
                   "Adresa corectată în magazin și pe AWB-ul {carrier}."),
            Thread("Schimbare adresă de livrare",
                   "Pot schimba adresa de livrare pentru comanda {order}? Săptămâna asta nu sunt acasă și aș vrea să "
                   "vină la birou.",
                   "Sigur, trimiteți-ne adresa biroului și o modificăm înainte de expediere.",
                   "Bd. Eroilor 5, et. 2, birou 204, Brașov. Mulțumesc pentru rapiditate!",
                   "Am actualizat adresa la comanda {order}. Pleacă azi prin {carrier}: {link}",
                   "AWB {carrier} regenerat cu adresa nouă."),
        ],
        "en": [
            Thread("Wrong address on order {order}",
                   "I put the wrong flat number on order {order}: it's flat 3B, not 2B. Can you correct it?",
                   "No problem! The order hasn't shipped yet so we can change it. Could you confirm the full address "
                   "with the postcode?",
                   "It's {address}, but flat 3B.",
                   "Address corrected and the order is packed. Tracking: {link}",
                   "Address corrected in the shop and on the {carrier} label."),
            Thread("Change delivery address",
                   "Can I change the delivery address for order {order}? I'm away that week and would rather it went "
                   "to my office.",
                   "Of course, send us the office address and we'll change it before it ships.",
                   "Unit 4, Riverside Works, 22 Canal Street, Manchester M1 3HE. Thanks for the quick help!",
                   "I've updated the address on order {order}. It goes out today with {carrier}: {link}",
                   "{carrier} label regenerated with the new address."),
        ],
    },
    "product_question": {
        "es": [
            Thread("Pregunta sobre «{product}»",
                   "Tengo una duda sobre «{product}»: ¿qué medidas tiene exactamente y de qué material es? ¿Cuánto "
                   "tarda en llegar a {city}?",
                   "¡Hola! Está hecho a mano en un pequeño taller, así que cada pieza varía un poco; en la ficha tienes "
                   "las medidas exactas. Los envíos a {city} tardan 24–48 h laborables.",
                   "Genial, entonces lo pido hoy. ¿Lo podéis envolver para regalo?",
                   "¡Claro! Añade una nota en el pedido y lo envolvemos sin coste.",
                   "Pregunta frecuente: añadir medidas y material a la ficha del producto."),
            Thread("Consulta antes de comprar",
                   "¿Tenéis «{product}» en stock? En la web pone que quedan pocas unidades y querría dos.",
                   "Sí, nos quedan unidades y te podemos reservar dos. Si haces el pedido hoy antes de las 14:00, "
                   "sale hoy mismo.",
                   "Perfecto, ahora mismo lo pido.",
                   "¡Gracias! Ya vemos tu pedido, sale esta tarde.",
                   "Reservadas 2 unidades durante 24 h."),
        ],
        "ro": [
            Thread("Întrebare despre „{product}”",
                   "Am o întrebare despre „{product}”: ce dimensiuni are exact și din ce material este? În cât timp "
                   "ajunge în {city}?",
                   "Bună! Este lucrat manual într-un atelier mic, așa că fiecare bucată diferă puțin; dimensiunile "
                   "exacte sunt în descriere. Livrarea în {city} durează 1–2 zile lucrătoare.",
                   "Super, atunci comand azi. Îl puteți ambala de cadou?",
                   "Sigur! Lăsați o notă la comandă și îl ambalăm gratuit.",
                   "Întrebare frecventă: de adăugat dimensiunile și materialul în descrierea produsului."),
            Thread("Întrebare înainte de comandă",
                   "Mai aveți „{product}” pe stoc? Pe site scrie că mai sunt puține bucăți și aș vrea două.",
                   "Da, mai avem și vă putem rezerva două. Dacă plasați comanda azi până la ora 14:00, pleacă azi.",
                   "Perfect, comand acum.",
                   "Mulțumim! Vedem comanda, pleacă în după-amiaza asta.",
                   "Rezervate 2 bucăți pentru 24 h."),
        ],
        "en": [
            Thread("Question about the \"{product}\"",
                   "Quick question about the \"{product}\": what are the exact dimensions and what is it made of? "
                   "How long does delivery to {city} take?",
                   "Hi! It's handmade in a small workshop, so every piece varies slightly; the exact dimensions are "
                   "on the product page. Delivery to {city} takes 3–5 working days.",
                   "Lovely, I'll order today then. Could you gift wrap it?",
                   "Of course! Add a note to your order and we'll wrap it free of charge.",
                   "FAQ: add dimensions and material to the product page."),
            Thread("Question before ordering",
                   "Do you have the \"{product}\" in stock? The site says only a few left and I'd like two.",
                   "Yes, we still have some and can hold two for you. Order before 2 pm and it ships the same day.",
                   "Perfect, ordering now.",
                   "Thank you! We can see your order, it ships this afternoon.",
                   "Held 2 units for 24 h."),
        ],
    },
    "payment": {
        "es": [
            Thread("Me habéis cobrado dos veces",
                   "He hecho el pedido {order} y en el banco me aparecen dos cargos de {amount}. ¿Podéis revisar qué "
                   "ha pasado?",
                   "Lo hemos comprobado: el segundo cargo es una preautorización que el banco libera en unos días; "
                   "solo se ha cobrado una vez. Si en 7 días sigue apareciendo, escríbenos y lo revisamos.",
                   "Hoy sigue apareciendo el segundo cargo. Os mando captura del extracto.",
                   "Gracias por la captura. Hemos visto el cargo duplicado en la pasarela y lo hemos anulado; el "
                   "importe se libera en 2–3 días.",
                   "Pasarela de pago: doble autorización por reintento del cliente. Anulada la segunda."),
            Thread("El código de descuento no se aplicó",
                   "Hice el pedido {order} pero el código BIENVENIDA10 no se aplicó. ¿Me podéis devolver la "
                   "diferencia?",
                   "Tienes razón, el código no se aplicó por un error de la web. Te devolvemos la diferencia, "
                   "{amount}.",
                   "Genial, ¿cuándo lo veré?",
                   "Reembolso parcial emitido hoy; lo verás en 3–5 días laborables.",
                   "Error conocido con códigos en carritos con productos rebajados. Avisado a desarrollo."),
        ],
        "ro": [
            Thread("Mi s-a retras suma de două ori",
                   "Am plasat comanda {order} și în aplicația băncii văd două plăți de {amount}. Puteți verifica ce "
                   "s-a întâmplat?",
                   "Am verificat: a doua sumă este doar o pre-autorizare pe care banca o eliberează în câteva zile; "
                   "plata a fost încasată o singură dată. Dacă după 7 zile apare în continuare, scrieți-ne.",
                   "Azi încă apar ambele plăți. Vă trimit captura din extras.",
                   "Mulțumim pentru captură. Am găsit plata dublă la procesator și am anulat-o; suma se deblochează în "
                   "2–3 zile.",
                   "Procesator plăți: dublă autorizare după reîncercarea clientului. Anulată a doua."),
            Thread("Codul de reducere nu s-a aplicat",
                   "Am plasat comanda {order}, dar codul BINEAIVENIT10 nu s-a aplicat. Îmi puteți returna diferența?",
                   "Aveți dreptate, codul nu s-a aplicat din cauza unei erori pe site. Vă returnăm diferența de "
                   "{amount}.",
                   "Super, când o să văd banii?",
                   "Rambursarea parțială a fost făcută azi; o veți vedea în 3–5 zile lucrătoare.",
                   "Bug cunoscut la coduri pe coșuri cu produse reduse. Anunțată echipa tehnică."),
        ],
        "en": [
            Thread("I've been charged twice",
                   "I placed order {order} and my bank shows two payments of {amount}. Can you check what happened?",
                   "I've checked: the second one is a pre-authorisation that your bank releases within a few days; "
                   "you've only been charged once. If it's still there in 7 days, let us know.",
                   "It's still showing today. I've sent you a screenshot of my statement.",
                   "Thanks for the screenshot. We found the duplicate charge at the payment gateway and voided it; "
                   "the money is released in 2–3 days.",
                   "Gateway: double authorisation after the customer retried. Voided the second."),
            Thread("Discount code didn't apply",
                   "I placed order {order} but the WELCOME10 code didn't apply. Can you refund the difference?",
                   "You're right, the code didn't apply because of a bug on the site. We'll refund the difference, "
                   "{amount}.",
                   "Great, when will I see it?",
                   "Partial refund issued today; you'll see it in 3–5 working days.",
                   "Known bug with codes on baskets with sale items. Reported to the developers."),
        ],
    },
    "missing_item": {
        "es": [
            Thread("Falta un artículo en mi pedido",
                   "Me ha llegado el pedido {order} pero falta «{product}». En el albarán aparece, pero en la caja no "
                   "está.",
                   "¡Perdona! «{product}» salió en un segundo paquete porque no teníamos stock al preparar el "
                   "pedido. Te llega con {carrier}: {link}",
                   "Ah, vale, no lo sabía. ¿Cuándo llegará?",
                   "Según {carrier}, se entrega mañana. ¡Gracias por tu paciencia!",
                   "Envío parcial: la segunda caja salió 2 días después. Avisar al cliente en estos casos."),
            Thread("Pedido {order} incompleto",
                   "En el paquete del pedido {order} falta «{product}». ¿Me lo podéis mandar?",
                   "Lo sentimos, ha sido un error de preparación. Te enviamos lo que falta hoy mismo, sin coste.",
                   "Gracias. ¿Me pasáis el seguimiento cuando salga?",
                   "Aquí lo tienes: {link}. ¡Disculpa las molestias!",
                   "Error de preparación: revisar con almacén los pedidos de esta semana."),
        ],
        "ro": [
            Thread("Lipsește un produs din comandă",
                   "Am primit comanda {order}, dar lipsește „{product}”. Apare pe factură, dar nu e în colet.",
                   "Ne cerem scuze! „{product}” a plecat într-un al doilea colet, pentru că nu era pe stoc la "
                   "ambalare. Vine cu {carrier}: {link}",
                   "A, bine, nu știam. Când ajunge?",
                   "Conform {carrier}, se livrează mâine. Mulțumim pentru răbdare!",
                   "Livrare parțială: al doilea colet a plecat după 2 zile. Anunțăm clientul în astfel de cazuri."),
            Thread("Comanda {order} incompletă",
                   "În coletul pentru comanda {order} lipsește „{product}”. Mi-l puteți trimite?",
                   "Ne pare rău, a fost o greșeală la ambalare. Vă trimitem azi produsul lipsă, fără costuri.",
                   "Mulțumesc. Îmi trimiteți AWB-ul când pleacă?",
                   "Poftiți: {link}. Ne cerem scuze pentru neplăcere!",
                   "Greșeală la ambalare: de verificat cu depozitul comenzile din săptămâna asta."),
        ],
        "en": [
            Thread("Item missing from my order",
                   "Order {order} arrived but the \"{product}\" is missing. It's on the packing slip but not in the "
                   "box.",
                   "Sorry about that! The \"{product}\" went out in a second parcel because it was out of stock when "
                   "we packed your order. It's coming with {carrier}: {link}",
                   "Ah ok, I didn't know. When will it arrive?",
                   "{carrier} say it'll be delivered tomorrow. Thanks for your patience!",
                   "Split shipment: second box left 2 days later. Tell the customer up front next time."),
            Thread("Order {order} incomplete",
                   "The \"{product}\" is missing from my order {order}. Can you send it?",
                   "Sorry, that was a packing mistake. We're sending the missing item today at no cost.",
                   "Thanks. Could you send me the tracking when it goes?",
                   "Here you go: {link}. Sorry for the trouble!",
                   "Packing error: check this week's orders with the warehouse."),
        ],
    },
}

NUDGES = {
    "es": ["¿Alguna novedad?", "Hola, ¿habéis podido mirar lo que os escribí?",
           "Os escribí hace dos días y sigo sin respuesta."],
    "ro": ["Vreo noutate?", "Bună, ați apucat să vă uitați la mesajul meu?",
           "V-am scris acum două zile și încă nu am primit răspuns."],
    "en": ["Any update?", "Hi, did you get a chance to look at my message?",
           "I wrote two days ago and haven't heard back."],
}
THANKS = {
    "es": ["¡Muchas gracias por la ayuda!", "Perfecto, gracias.", "Todo solucionado, gracias por la rapidez."],
    "ro": ["Mulțumesc mult pentru ajutor!", "Perfect, mulțumesc.", "S-a rezolvat, mulțumesc pentru promptitudine."],
    "en": ["Thanks so much for your help!", "Perfect, thank you.", "All sorted, thanks for being so quick."],
}
CUSTOMER_GREETINGS = {"es": ["Hola,", "Buenos días,", "Buenas tardes,"], "ro": ["Bună ziua,", "Bună,"],
                      "en": ["Hi,", "Hello,", "Good morning,"]}
CUSTOMER_SIGNOFFS = {"es": ["Un saludo,", "Gracias,", "Saludos,"], "ro": ["Mulțumesc,", "Cu stimă,", "O zi bună,"],
                     "en": ["Thanks,", "Kind regards,", "Cheers,", "Many thanks,"]}
AGENT_GREETINGS = {"es": "Hola {first}:", "ro": "Bună ziua, {first},", "en": "Hi {first},"}
AGENT_SHORT_GREETINGS = {"es": "¡Hola, {first}!", "ro": "Bună, {first}!", "en": "Hi {first}!"}
AGENT_SIGNOFFS = {
    "es": "Un saludo,\n{agent}\nAtención al cliente · {store}",
    "ro": "Cu drag,\n{agent}\nRelații clienți · {store}",
    "en": "Kind regards,\n{agent}\n{store} customer care",
}
AGENT_CLOSINGS = {  # after the customer's thanks, on chat-like channels
    "es": "¡A ti! Que tengas un buen día.", "ro": "Cu plăcere! O zi frumoasă.", "en": "You're welcome, have a lovely day!",
}
MANAGER_NOTES = [
    "Approved, go ahead.",
    "OK to refund without waiting for the return.",
    "Let's add a 10% voucher for the trouble.",
    "Keep an eye on this one, the customer mentioned leaving a review.",
]

# Marketplace framing: how the first message of a marketplace conversation arrives.
AMAZON_SUBJECTS = {
    "es": "Consulta del cliente de Amazon {name} (pedido: {order})",
    "en": "Inquiry from Amazon customer {name} (Order: {order})",
}
AMAZON_SUBJECTS_NO_ORDER = {
    "es": "Consulta sobre un producto del cliente de Amazon {name}",
    "en": "Product question from Amazon customer {name}",
}
AMAZON_BODIES = {
    "es": "N.º de pedido: {order}\nArtículo: {product}\n\nMensaje del comprador:\n\n{text}",
    "en": "Order ID: {order}\nItem: {product}\n\nMessage from the buyer:\n\n{text}",
}
EBAY_SUBJECTS = {
    "es": "{handle} te ha enviado una pregunta sobre el artículo n.º {item_id}: {product}",
    "en": "{handle} sent a message about item #{item_id}: {product}",
}
EMAG_SUBJECT = "Mesaj nou de la client eMAG – comanda {order}"
EMAG_SUBJECT_NO_ORDER = "Întrebare nouă de la client eMAG despre {product}"
PORTAL_SUBJECTS = {"es": "Portal de devoluciones: pedido {order}", "en": "Returns portal: order {order}"}
PORTAL_BODIES = {
    "es": "Solicitud enviada desde el portal de devoluciones.\n\nPedido: {order}\nArtículo: {product}\n"
          "Motivo: {reason}\n\nComentario del cliente:\n{text}",
    "en": "Request sent from the returns portal.\n\nOrder: {order}\nItem: {product}\nReason: {reason}\n\n"
          "Customer's comment:\n{text}",
}
PORTAL_REASONS = {
    "return": {"es": "Ya no lo quiero", "en": "No longer needed"},
    "damaged": {"es": "Llegó dañado", "en": "Arrived damaged"},
    "exchange": {"es": "Talla incorrecta", "en": "Wrong size"},
}
FAILURE_REASONS = {
    Channel.WHATSAPP: "WhatsApp 131047: more than 24 hours since the customer's last message; only a template "
                      "message can be sent now.",
    Channel.SMS: "Twilio 30006: the destination cannot receive SMS (landline or unreachable carrier).",
    Channel.EMAIL: "SMTP 552 5.2.2: the recipient's mailbox is full.",
}

# --- Scenarios and channels -----------------------------------------------------------------

ALL = frozenset(Channel.values)
MARKETPLACE_CHANNELS = frozenset({Channel.AMAZON, Channel.EBAY, Channel.MARKETPLACE})
CHAT_LIKE = frozenset({Channel.CHAT, Channel.WHATSAPP, Channel.SMS, Channel.MESSENGER, Channel.INSTAGRAM})


class Scenario(NamedTuple):
    key: str
    weight: int
    tags: tuple[str, ...]
    channels: frozenset
    order_status: str | None  # None: no order (a question before buying)
    resolved_order_status: str | None
    shipment: str | None  # status of the (first) shipment, None for no shipment
    lead_days: tuple[int, int]  # how long before the ticket the order was placed
    product_kind: str | None = None


SCENARIOS = [
    Scenario("wismo", 22, ("where-is-my-order",), ALL - {Channel.API}, Order.Status.SHIPPED, Order.Status.DELIVERED,
             "varies", (4, 10)),
    Scenario("not_received", 7, ("where-is-my-order", "carrier-claim"), ALL - {Channel.API, Channel.INSTAGRAM},
             Order.Status.DELIVERED, Order.Status.DELIVERED, Shipment.Status.DELIVERED, (4, 9)),
    Scenario("damaged", 11, ("damaged",), ALL - {Channel.SMS}, Order.Status.DELIVERED,
             Order.Status.PARTIALLY_REFUNDED, Shipment.Status.DELIVERED, (3, 8), "fragile"),
    Scenario("exchange", 7, ("exchange", "return"), ALL - {Channel.SMS}, Order.Status.DELIVERED,
             Order.Status.DELIVERED, Shipment.Status.DELIVERED, (4, 12), "sized"),
    Scenario("invoice", 7, ("invoice",),
             frozenset({Channel.EMAIL, Channel.AMAZON, Channel.EBAY, Channel.MARKETPLACE, Channel.SHOPIFY,
                        Channel.WOOCOMMERCE, Channel.WHATSAPP}),
             Order.Status.DELIVERED, Order.Status.DELIVERED, Shipment.Status.DELIVERED, (3, 30)),
    Scenario("cancellation", 7, ("cancellation",), ALL - {Channel.API, Channel.INSTAGRAM},
             Order.Status.PROCESSING, Order.Status.CANCELLED, None, (0, 1)),
    Scenario("return", 10, ("return",), ALL - {Channel.SMS}, Order.Status.DELIVERED, Order.Status.RETURNED,
             Shipment.Status.DELIVERED, (5, 20)),
    Scenario("refund_status", 6, ("refund", "return"), ALL - {Channel.API}, Order.Status.RETURNED,
             Order.Status.REFUNDED, Shipment.Status.DELIVERED, (15, 30)),
    Scenario("address_change", 5, ("address-change",),
             frozenset({Channel.EMAIL, Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.WHATSAPP, Channel.CHAT,
                        Channel.SMS, Channel.MESSENGER}),
             Order.Status.PROCESSING, Order.Status.SHIPPED, Shipment.Status.PENDING, (0, 2)),
    Scenario("product_question", 10, ("product-question",), ALL - {Channel.API, Channel.SMS}, None, None, None,
             (0, 0)),
    Scenario("payment", 4, ("payment",),
             frozenset({Channel.EMAIL, Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.WHATSAPP, Channel.CHAT}),
             Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED, None, (0, 3)),
    Scenario("missing_item", 5, ("missing-item",),
             frozenset({Channel.EMAIL, Channel.AMAZON, Channel.EBAY, Channel.MARKETPLACE, Channel.SHOPIFY,
                        Channel.WOOCOMMERCE, Channel.WHATSAPP, Channel.MESSENGER}),
             Order.Status.PARTIALLY_SHIPPED, Order.Status.DELIVERED, Shipment.Status.DELIVERED, (3, 8)),
]
SCENARIOS_BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}

# (channel, ticket count, [(account key, language, customer country, weight), ...]); counts add up to 300.
CHANNEL_MIX = [
    (Channel.EMAIL, 48, [("es-email", "es", "ES", 26), ("es-email", "en", "IE", 6), ("ro-email", "ro", "RO", 16)]),
    (Channel.AMAZON, 40, [("es-amazon", "es", "ES", 22), ("es-amazon", "en", "GB", 18)]),
    (Channel.EBAY, 20, [("es-ebay", "en", "GB", 14), ("es-ebay", "es", "ES", 6)]),
    (Channel.SHOPIFY, 24, [("es-shopify", "es", "ES", 19), ("es-shopify", "en", "IE", 5)]),
    (Channel.WOOCOMMERCE, 20, [("ro-woocommerce", "ro", "RO", 1)]),
    (Channel.MESSENGER, 20, [("es-messenger", "es", "ES", 10), ("ro-messenger", "ro", "RO", 10)]),
    (Channel.INSTAGRAM, 20, [("es-instagram", "es", "ES", 11), ("es-instagram", "en", "GB", 2),
                             ("ro-instagram", "ro", "RO", 7)]),
    (Channel.WHATSAPP, 36, [("es-whatsapp", "es", "ES", 18), ("ro-whatsapp", "ro", "RO", 16),
                            ("es-whatsapp", "en", "GB", 2)]),
    (Channel.SMS, 12, [("es-sms", "es", "ES", 6), ("ro-sms", "ro", "RO", 6)]),
    (Channel.CHAT, 26, [("es-chat", "es", "ES", 12), ("es-chat", "en", "IE", 4), ("ro-chat", "ro", "RO", 10)]),
    (Channel.MARKETPLACE, 26, [("ro-emag", "ro", "RO", 1)]),
    (Channel.API, 8, [("es-api", "es", "ES", 6), ("es-api", "en", "IE", 2)]),
]

# Conversation shapes per final status. Tokens: opening, nudge, reply, followup, resolution, thanks,
# note, closing (agent's short goodbye), solved (a status change in the middle: the customer then reopens).
SHAPES: dict[str, list[tuple[int, tuple[str, ...]]]] = {
    Ticket.Status.NEW: [(5, ("opening",)), (3, ("opening", "nudge")), (2, ("opening", "note"))],
    Ticket.Status.OPEN: [(5, ("opening", "reply", "followup")), (3, ("opening", "note", "reply", "followup")),
                         (2, ("opening", "reply", "solved", "followup")),
                         (2, ("opening", "reply", "followup", "resolution", "nudge"))],
    Ticket.Status.PENDING: [(5, ("opening", "reply")), (2, ("opening", "note", "reply")),
                            (3, ("opening", "reply", "followup", "resolution"))],
    Ticket.Status.ON_HOLD: [(4, ("opening", "reply", "note")), (3, ("opening", "reply", "followup", "note"))],
    Ticket.Status.SOLVED: [(2, ("opening", "reply")), (3, ("opening", "reply", "thanks")),
                           (4, ("opening", "reply", "followup", "resolution")),
                           (3, ("opening", "reply", "followup", "resolution", "thanks")),
                           (2, ("opening", "note", "reply", "followup", "resolution", "thanks"))],
}
SHAPES[Ticket.Status.CLOSED] = SHAPES[Ticket.Status.SOLVED]

# Final status by the ticket's age: recent tickets are still being worked on, old ones are closed.
STATUS_WEIGHTS_BY_AGE = [  # (younger than days, {status: weight})
    (2, {Ticket.Status.NEW: 30, Ticket.Status.OPEN: 28, Ticket.Status.PENDING: 14, Ticket.Status.ON_HOLD: 6,
         Ticket.Status.SOLVED: 22}),
    (7, {Ticket.Status.NEW: 8, Ticket.Status.OPEN: 22, Ticket.Status.PENDING: 20, Ticket.Status.ON_HOLD: 10,
         Ticket.Status.SOLVED: 34, Ticket.Status.CLOSED: 6}),
    (10_000, {Ticket.Status.NEW: 1, Ticket.Status.OPEN: 6, Ticket.Status.PENDING: 5, Ticket.Status.ON_HOLD: 5,
              Ticket.Status.SOLVED: 18, Ticket.Status.CLOSED: 65}),
]

# --- The plan: everything decided up front, in memory, from the seed --------------------------


class IdentityPlan(NamedTuple):
    kind: str
    value: str
    account_key: str | None  # set for page-scoped ids
    display_name: str


@dataclass
class CustomerPlan:
    key: str
    name: str
    language: str
    country: str
    store: str
    place: Place
    street: str
    postcode: str
    email: str = ""
    phone: str = ""
    identities: list[IdentityPlan] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    oldest_ticket_minutes_ago: int = 0

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    @property
    def address_line(self) -> str:
        if self.country == "GB":
            return f"{self.street}, {self.place.city} {self.postcode}"
        return f"{self.street}, {self.postcode} {self.place.city}"

    def has_identity(self, kind: str, account_key: str | None = None) -> bool:
        return any(i.kind == kind and i.account_key == account_key for i in self.identities)


class LinePlan(NamedTuple):
    external_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal


class ShipmentPlan(NamedTuple):
    external_id: str
    carrier: str
    tracking_number: str
    tracking_url: str
    status: str
    shipped_hours_after_order: int | None
    delivered_hours_after_order: int | None


class OrderPlan(NamedTuple):
    account_key: str
    marketplace: str
    external_id: str
    number: str
    status: str
    currency: str
    lines: list[LinePlan]
    shipping: Decimal
    vat_rate: Decimal
    shipments: list[ShipmentPlan]
    placed_minutes_before_ticket: int


class Step(NamedTuple):
    """One thing that happens on a ticket, `gap` minutes after the previous step."""

    kind: str  # message, note, assign, tags, priority, link, status
    gap: float
    by_agent: bool = False  # snapped into the store's working hours
    direction: str = ""
    author: str | None = None  # username
    text: str = ""
    html: str = ""
    subject: str = ""
    delivery_state: str = ""
    failure_reason: str = ""
    value: object = None  # status, priority, tag names, (assignee, team)


@dataclass
class TicketPlan:
    number: int
    marker: str
    store: str
    account_key: str
    channel: str
    language: str
    customer_key: str
    scenario: str
    subject: str
    status: str
    priority: int
    minutes_ago: int
    order: OrderPlan | None
    steps: list[Step]


@dataclass
class Plan:
    customers: dict[str, CustomerPlan]
    tickets: list[TicketPlan]


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in ".-_")).lower()


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str, language: str) -> str:
    if currency == "GBP":
        return f"£{amount:,.2f}"
    if language == "en":
        return f"€{amount:,.2f}" if currency == "EUR" else f"{amount:,.2f} {currency}"
    text = f"{amount:,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} €" if currency == "EUR" else f"{text} lei"


def _to_html(text: str, quote: str = "") -> str:
    """Plain text as a mail client would send it: paragraphs, line breaks and links."""
    paragraphs = []
    for block in text.split("\n\n"):
        escaped = html.escape(block)
        escaped = re.sub(r"(https://[^\s<]+)", r'<a href="\1">\1</a>', escaped)
        paragraphs.append("<p>" + escaped.replace("\n", "<br>") + "</p>")
    body = "".join(paragraphs)
    if quote:
        body += "<blockquote>" + "".join(f"<p>{html.escape(p)}</p>" for p in quote.split("\n\n")) + "</blockquote>"
    return f'<div dir="ltr">{body}</div>'


class _Planner:
    """Turns the seed into a Plan. Pure Python: no database access, same output every time."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.customers: dict[str, CustomerPlan] = {}
        self.pools: dict[tuple[str, str], list[CustomerPlan]] = {}
        self.used_values: set[str] = set()
        self.order_counters = {"shopify": 1041, "woocommerce": 10233}

    # Unique handles ------------------------------------------------------------------------
    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.used_values:
                self.used_values.add(value)
                return value

    def _email(self, name: str) -> str:
        rng = self.rng
        parts = [_ascii(p) for p in name.split()]
        first, last = parts[0], parts[1]
        styles = [f"{first}.{last}", f"{first}{last[:1]}", f"{first[:1]}{last}", f"{first}_{last}"]
        return self._unique(
            lambda: f"{rng.choice(styles)}{rng.choice(['', '', str(rng.randint(1, 99))])}@{rng.choice(EMAIL_DOMAINS)}"
        )

    def _phone(self, country: str) -> str:
        rng = self.rng
        makers = {
            "ES": lambda: f"+346{_digits(rng, 8)}",
            "RO": lambda: f"+407{rng.choice('2345')}{_digits(rng, 7)}",
            "GB": lambda: f"+447700900{_digits(rng, 3)}",  # Ofcom's range reserved for fiction
            "IE": lambda: f"+35385{_digits(rng, 7)}",
        }
        return self._unique(makers[country])

    # Customers -----------------------------------------------------------------------------
    def _new_customer(self, store: str, language: str, country: str) -> CustomerPlan:
        rng = self.rng
        first = rng.choice(FIRST_NAMES[language])
        last = rng.choice(LAST_NAMES[language])
        if language == "es" and rng.random() < 0.6:
            last = f"{last} {rng.choice(LAST_NAMES['es'])}"
        place = rng.choice(PLACES[country])
        street = rng.choice(STREETS[country])
        if country == "ES":
            street_line = f"{street} {rng.randint(1, 140)}, {rng.randint(1, 8)}.º {rng.choice('ABCD')}"
            postcode = f"{place.postcode_prefix}{rng.randint(1, 50):02d}"
        elif country == "RO":
            if rng.random() < 0.6:
                street_line = f"{street} nr. {rng.randint(1, 90)}, bl. {rng.choice('ABCDM')}{rng.randint(1, 9)}, " \
                              f"ap. {rng.randint(1, 60)}"
            else:
                street_line = f"{street} nr. {rng.randint(1, 120)}"
            postcode = f"{place.postcode_prefix}{rng.randint(0, 999):03d}"
        elif country == "GB":
            street_line = f"{rng.randint(1, 180)} {street}"
            postcode = f"{place.postcode_prefix} {rng.randint(1, 9)}{_letters(rng, 2)}"
        else:
            street_line = f"{rng.randint(1, 60)} {street}"
            postcode = f"{place.postcode_prefix} {_letters(rng, 1)}{rng.randint(1, 9)}{_letters(rng, 1)}" \
                       f"{rng.randint(1, 9)}"
        key = f"c{len(self.customers) + 1:04d}"
        customer = CustomerPlan(key=key, name=f"{first} {last}", language=language, country=country, store=store,
                                place=place, street=street_line, postcode=postcode)
        self.customers[key] = customer
        self.pools.setdefault((store, language), []).append(customer)
        return customer

    def _pick_customer(self, store: str, language: str, country: str, channel: str) -> CustomerPlan:
        rng = self.rng
        pool = self.pools.get((store, language), [])
        if channel in MARKETPLACE_CHANNELS:
            # A repeat buyer on the same marketplace: the marketplace hides who they are elsewhere.
            candidates = [c for c in pool if channel in c.channels]
            if candidates and rng.random() < 0.12:
                return rng.choice(candidates)
        else:
            direct = [c for c in pool if any(ch not in MARKETPLACE_CHANNELS for ch in c.channels)]
            # People who emailed before now also write on WhatsApp, Instagram...: one person, two channels.
            if channel in CHAT_LIKE:
                preferred = [c for c in direct if Channel.EMAIL in c.channels and channel not in c.channels]
                if preferred and rng.random() < 0.3:
                    return rng.choice(preferred)
            if direct and rng.random() < 0.15:
                return rng.choice(direct)
        return self._new_customer(store, language, country)

    def _add_identities(self, customer: CustomerPlan, channel: str, account_key: str) -> str:
        """Give the customer the handle this channel knows them by; returns a display handle."""
        rng = self.rng
        Kind = ChannelIdentity.Kind

        def add(kind: str, value: str, scoped: bool, display: str) -> None:
            account = account_key if scoped else None
            if not any(i.kind == kind and i.account_key == account for i in customer.identities):
                customer.identities.append(IdentityPlan(kind, value, account, display))

        def ensure_email() -> None:
            if not customer.email:
                customer.email = self._email(customer.name)
            add(Kind.EMAIL, customer.email, False, customer.name)

        def ensure_phone() -> str:
            if not customer.phone:
                customer.phone = self._phone(customer.country)
            return customer.phone

        handle = customer.name
        if channel in (Channel.EMAIL, Channel.API):
            ensure_email()
        elif channel == Channel.AMAZON:
            existing = [i for i in customer.identities if i.kind == Kind.AMAZON_RELAY]
            if not existing:
                domain = "marketplace.amazon.co.uk" if customer.country == "GB" else "marketplace.amazon.es"
                relay = self._unique(
                    lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
                    + f"@{domain}"
                )
                add(Kind.AMAZON_RELAY, relay, False, customer.name)
        elif channel == Channel.EBAY:
            existing = [i for i in customer.identities if i.kind == Kind.EBAY_USER]
            if existing:
                handle = existing[0].value
            else:
                parts = [_ascii(p).replace(".", "") for p in customer.name.split()]
                handle = self._unique(lambda: rng.choice([
                    f"{parts[0]}_{parts[1]}{rng.randint(10, 99)}", f"{parts[0][:1]}{parts[1]}-{rng.randint(1, 999)}",
                    f"{parts[1]}.{parts[0]}{rng.randint(70, 99)}",
                ]))
                add(Kind.EBAY_USER, handle, False, handle)
        elif channel in (Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.MARKETPLACE):
            if channel != Channel.MARKETPLACE:
                ensure_email()
            if not customer.has_identity(Kind.SHOP_CUSTOMER, account_key):
                if channel == Channel.SHOPIFY:
                    shop_id = self._unique(lambda: f"7{_digits(rng, 12)}")
                elif channel == Channel.WOOCOMMERCE:
                    shop_id = self._unique(lambda: str(rng.randint(1200, 9800)))
                else:
                    shop_id = self._unique(lambda: f"emag-{rng.randint(1_000_000, 9_999_999)}")
                add(Kind.SHOP_CUSTOMER, shop_id, True, customer.name)
        elif channel == Channel.WHATSAPP:
            add(Kind.WHATSAPP, ensure_phone(), False, customer.name)
        elif channel == Channel.SMS:
            add(Kind.PHONE, ensure_phone(), False, customer.phone)
        elif channel == Channel.MESSENGER:
            if not customer.has_identity(Kind.MESSENGER_PSID, account_key):
                add(Kind.MESSENGER_PSID, self._unique(lambda: f"{rng.choice('23')}{_digits(rng, 15)}"), True,
                    customer.name)
        elif channel == Channel.INSTAGRAM:
            if not customer.has_identity(Kind.INSTAGRAM, account_key):
                parts = [_ascii(p).replace(".", "") for p in customer.name.split()]
                handle = "@" + rng.choice([f"{parts[0]}.{parts[1]}", f"{parts[0]}_{parts[1][:3]}",
                                           f"{parts[0]}{rng.randint(80, 99)}"])
                add(Kind.INSTAGRAM, self._unique(lambda: f"17{_digits(rng, 15)}"), True, handle)
        elif channel == Channel.CHAT:
            if not customer.has_identity(Kind.CHAT_VISITOR, account_key):
                visitor = self._unique(lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)))
                add(Kind.CHAT_VISITOR, visitor, True, customer.name)
            if rng.random() < 0.5:
                ensure_email()  # the widget asked for an email address
        if channel not in customer.channels:
            customer.channels.append(channel)
        return handle

    # Orders --------------------------------------------------------------------------------
    def _order(self, store: str, channel: str, account_key: str, customer: CustomerPlan, scenario: Scenario,
               resolved: bool) -> OrderPlan:
        rng = self.rng
        products = PRODUCTS[store]
        wanted = [p for p in products if scenario.product_kind and p.kind == scenario.product_kind]
        first = rng.choice(wanted or products)
        others = [p for p in products if p != first and p.kind != "sized"]
        chosen = [first] + rng.sample(others, k=rng.choice([0, 0, 0, 1, 1, 2]))

        if channel in (Channel.AMAZON, Channel.EBAY, Channel.MARKETPLACE):
            shop_account = account_key
        elif store == "casa-lumbre":
            shop_account = "es-shopify"
        else:
            shop_account = "ro-woocommerce"
        marketplace = ACCOUNT_CHANNELS[shop_account]
        currency = "GBP" if customer.country == "GB" and marketplace in (Channel.AMAZON, Channel.EBAY) else (
            "RON" if store == "atelier-carpati" else "EUR"
        )

        lines = []
        for product in chosen:
            price = product.price
            if currency == "GBP":
                price = _money(price * Decimal("0.86")).quantize(Decimal("1")) - Decimal("0.01")
            title = product.title_en if customer.language == "en" and product.title_en else product.title
            quantity = 2 if rng.random() < 0.12 and product.kind != "sized" else 1
            if marketplace == Channel.SHOPIFY:
                line_id = self._unique(lambda: f"1{_digits(rng, 13)}")
            elif marketplace == Channel.AMAZON:
                line_id = self._unique(lambda: _digits(rng, 14))
            elif marketplace == Channel.EBAY:
                line_id = self._unique(lambda: f"2{_digits(rng, 11)}")
            else:
                line_id = ""
            lines.append(LinePlan(line_id, product.sku, title, quantity, price))

        if marketplace == Channel.AMAZON:
            prefix = rng.choice(["202", "203", "204", "206"]) if currency == "GBP" else rng.choice(
                ["402", "403", "404", "405", "406", "407", "408"])
            number = self._unique(lambda: f"{prefix}-{_digits(rng, 7)}-{_digits(rng, 7)}")
            external_id = number
        elif marketplace == Channel.EBAY:
            number = self._unique(lambda: f"{rng.randint(10, 27)}-{_digits(rng, 5)}-{_digits(rng, 5)}")
            external_id = number
        elif marketplace == Channel.SHOPIFY:
            self.order_counters["shopify"] += 1
            number = f"#{self.order_counters['shopify']}"
            external_id = self._unique(lambda: f"5{rng.randint(600, 999)}{_digits(rng, 9)}")
        elif marketplace == Channel.WOOCOMMERCE:
            self.order_counters["woocommerce"] += rng.randint(1, 4)
            number = str(self.order_counters["woocommerce"])
            external_id = number
        else:
            number = self._unique(lambda: f"3{rng.randint(10, 49)}{_digits(rng, 6)}")
            external_id = number

        subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        if currency == "RON":
            shipping = Decimal("0") if subtotal >= 250 else Decimal("19.99")
        elif currency == "GBP":
            shipping = Decimal("0") if subtotal >= 60 else Decimal("6.99")
        elif customer.country == "IE":
            shipping = Decimal("7.95")
        else:
            shipping = Decimal("0") if subtotal >= 50 else Decimal("4.95")

        lead_days = rng.randint(*scenario.lead_days)
        placed_minutes = lead_days * 1440 + rng.randint(60, 1200)
        shipments: list[ShipmentPlan] = []
        carrier = CARRIERS[rng.choice(CARRIERS_BY_COUNTRY[customer.country])]

        def shipment(status: str, shipped_hours: int | None, delivered_hours: int | None) -> ShipmentPlan:
            tracking = self._unique(lambda: carrier.tracking(rng))
            external = self._unique(lambda: f"4{_digits(rng, 12)}") if marketplace == Channel.SHOPIFY else ""
            return ShipmentPlan(external, carrier.name, tracking, carrier.url.format(n=tracking), status,
                                shipped_hours, delivered_hours)

        hours_before_ticket = placed_minutes // 60
        shipped_after = min(rng.randint(8, 40), max(hours_before_ticket - 6, 1))
        delivered_after = max(min(shipped_after + rng.randint(24, 80), hours_before_ticket - 3), shipped_after + 1)
        order_status = scenario.resolved_order_status if resolved else scenario.order_status
        if scenario.shipment == "varies":
            status = rng.choices(
                [Shipment.Status.IN_TRANSIT, Shipment.Status.EXCEPTION, Shipment.Status.OUT_FOR_DELIVERY,
                 Shipment.Status.PENDING], [55, 20, 15, 10])[0]
            if resolved:
                shipments.append(shipment(Shipment.Status.DELIVERED, shipped_after, hours_before_ticket + 30))
            else:
                shipments.append(shipment(status, None if status == Shipment.Status.PENDING else shipped_after, None))
        elif scenario.shipment == Shipment.Status.PENDING:
            shipments.append(shipment(Shipment.Status.IN_TRANSIT if resolved else Shipment.Status.PENDING,
                                      hours_before_ticket + 20 if resolved else None, None))
        elif scenario.shipment == Shipment.Status.DELIVERED:
            shipments.append(shipment(Shipment.Status.DELIVERED, shipped_after, delivered_after))
            if scenario.key in ("exchange", "missing_item"):
                # The new size, or the second box of a split order.
                shipments.append(shipment(Shipment.Status.DELIVERED if resolved else Shipment.Status.IN_TRANSIT,
                                          hours_before_ticket + 2, hours_before_ticket + 50 if resolved else None))
            if scenario.key == "refund_status":
                shipments.append(shipment(Shipment.Status.DELIVERED, delivered_after + 100, delivered_after + 150))

        return OrderPlan(shop_account, marketplace, external_id, number, order_status, currency, lines, shipping,
                         VAT_RATES[customer.country], shipments, placed_minutes)

    # Tickets -------------------------------------------------------------------------------
    def _slots(self) -> list[tuple[str, str, str, str]]:
        slots = []
        for channel, count, options in CHANNEL_MIX:
            weights = [option[3] for option in options]
            for _ in range(count):
                account_key, language, country, _weight = self.rng.choices(options, weights)[0]
                slots.append((channel, account_key, language, country))
        self.rng.shuffle(slots)
        return slots

    def plan(self) -> Plan:
        tickets = []
        for number, (channel, account_key, language, country) in enumerate(self._slots(), start=1):
            tickets.append(self._ticket(number, channel, account_key, language, country))
        return Plan(self.customers, tickets)

    def _ticket(self, number: int, channel: str, account_key: str, language: str, country: str) -> TicketPlan:
        rng = self.rng
        store = ACCOUNT_STORES[account_key]
        candidates = [s for s in SCENARIOS if channel in s.channels]
        if channel == Channel.API:
            candidates = [s for s in candidates if s.key in PORTAL_REASONS]
        scenario = rng.choices(candidates, [s.weight for s in candidates])[0]

        minutes_ago = int(HISTORY_DAYS * 1440 * rng.random() ** 2) + rng.randint(20, 90)
        age_days = minutes_ago / 1440
        weights = next(w for limit, w in STATUS_WEIGHTS_BY_AGE if age_days < limit)
        if scenario.key == "product_question" or channel == Channel.CHAT:
            weights = {s: w for s, w in weights.items() if s != Ticket.Status.ON_HOLD} or weights
        status = rng.choices(list(weights), list(weights.values()))[0]
        shape = rng.choices([s for _, s in SHAPES[status]], [w for w, _ in SHAPES[status]])[0]
        resolved = status in (Ticket.Status.SOLVED, Ticket.Status.CLOSED) and "resolution" in shape

        customer = self._pick_customer(store, language, country, channel)
        handle = self._add_identities(customer, channel, account_key)
        customer.oldest_ticket_minutes_ago = max(customer.oldest_ticket_minutes_ago, minutes_ago)
        order = (self._order(store, channel, account_key, customer, scenario, resolved)
                 if scenario.order_status else None)

        product = order.lines[0].title if order else self._product_title(store, language)
        shipment = order.shipments[-1] if order and order.shipments else None
        carrier = shipment.carrier if shipment else CARRIERS_BY_COUNTRY[country][0]
        amount = self._amount(scenario.key, order, rng.random() < 0.5) if order else Decimal("0")
        thread_index = rng.randrange(len(THREADS[scenario.key][language]))
        thread = THREADS[scenario.key][language][thread_index]
        if scenario.key == "payment" and thread_index == 1 and order:
            amount = _money(sum((line.unit_price * line.quantity for line in order.lines), Decimal("0")) / 10)
        context = {
            "first": customer.first_name, "name": customer.name, "order": order.number if order else "",
            "product": product, "carrier": carrier, "tracking": shipment.tracking_number if shipment else "",
            "link": shipment.tracking_url if shipment else "",
            "amount": format_amount(amount, order.currency if order else "EUR", language),
            "address": customer.address_line, "city": customer.place.city, "store": STORE_NAMES[store],
        }
        fill = lambda template: template.format_map(context)  # noqa: E731

        agent = self._agent(store, language, channel)
        team = self._team(store, language, channel)
        item_id = order.lines[0].external_id if order and order.marketplace == Channel.EBAY else \
            f"2{_digits(rng, 11)}"
        subject = self._subject(channel, language, thread, fill, customer, order, product, handle, item_id)
        steps = self._steps(channel, language, status, shape, thread, fill, scenario, customer, order, agent, team,
                            subject)
        priority = Ticket.Priority.NORMAL
        if scenario.key == "product_question":
            priority = Ticket.Priority.LOW
        elif scenario.key == "cancellation":
            priority = Ticket.Priority.HIGH
        return TicketPlan(number=number, marker=f"{MARKER_PREFIX}{number:04d}", store=store, account_key=account_key,
                          channel=channel, language=language, customer_key=customer.key, scenario=scenario.key,
                          subject=subject, status=status, priority=priority, minutes_ago=minutes_ago, order=order,
                          steps=steps)

    def _product_title(self, store: str, language: str) -> str:
        product = self.rng.choice(PRODUCTS[store])
        return product.title_en if language == "en" and product.title_en else product.title

    @staticmethod
    def _amount(scenario: str, order: OrderPlan, first_line_only: bool) -> Decimal:
        first = order.lines[0]
        if scenario in ("damaged", "return", "exchange", "missing_item") and (first_line_only or len(order.lines) == 1):
            return _money(first.unit_price * first.quantity)
        subtotal = sum((line.unit_price * line.quantity for line in order.lines), Decimal("0"))
        return _money(subtotal + order.shipping)

    @staticmethod
    def _agent(store: str, language: str, channel: str) -> str:
        if language == "en":
            return "emma"
        return "andrei" if store == "atelier-carpati" else "lucia"

    @staticmethod
    def _team(store: str, language: str, channel: str) -> str:
        if language == "en" or channel in (Channel.AMAZON, Channel.EBAY):
            return MARKETPLACES_TEAM
        return ROMANIA_TEAM if store == "atelier-carpati" else SPAIN_TEAM

    def _subject(self, channel: str, language: str, thread: Thread, fill: Callable[[str], str],
                 customer: CustomerPlan, order: OrderPlan | None, product: str, handle: str, item_id: str) -> str:
        if channel == Channel.AMAZON:
            template = AMAZON_SUBJECTS[language] if order else AMAZON_SUBJECTS_NO_ORDER[language]
            return fill(template)
        if channel == Channel.EBAY:
            return EBAY_SUBJECTS[language].format(handle=handle, item_id=item_id, product=product)
        if channel == Channel.MARKETPLACE:
            return fill(EMAG_SUBJECT if order else EMAG_SUBJECT_NO_ORDER)
        if channel == Channel.API:
            return fill(PORTAL_SUBJECTS[language])
        if channel in CHAT_LIKE:
            first_line = fill(thread.opening).split("\n")[0]
            return first_line if len(first_line) <= 80 else first_line[:77].rsplit(" ", 1)[0] + "…"
        return fill(thread.subject)

    def _customer_text(self, channel: str, language: str, body: str, customer: CustomerPlan) -> str:
        if channel in (Channel.EMAIL, Channel.SHOPIFY, Channel.WOOCOMMERCE):
            greeting = self.rng.choice(CUSTOMER_GREETINGS[language])
            signoff = self.rng.choice(CUSTOMER_SIGNOFFS[language])
            return f"{greeting}\n\n{body}\n\n{signoff}\n{customer.name}"
        return body

    def _agent_text(self, channel: str, language: str, body: str, customer: CustomerPlan, agent: str,
                    store: str, first_reply: bool) -> str:
        agent_name = next(u.first_name for u in USERS if u.username == agent)
        values = {"first": customer.first_name, "agent": agent_name, "store": STORE_NAMES[store]}
        if channel in CHAT_LIKE:
            return f"{AGENT_SHORT_GREETINGS[language].format_map(values)} {body}" if first_reply else body
        greeting = AGENT_GREETINGS[language].format_map(values)
        return f"{greeting}\n\n{body}\n\n{AGENT_SIGNOFFS[language].format_map(values)}"

    def _gap(self, channel: str, kind: str) -> float:
        """Minutes between two steps, by channel: chat is live, email takes hours."""
        rng = self.rng
        fast = channel == Channel.CHAT
        social = channel in CHAT_LIKE and not fast
        if kind == "agent":
            return rng.uniform(1, 6) if fast else rng.uniform(8, 200) if social else rng.uniform(40, 1300)
        if kind == "customer":
            return rng.uniform(1, 5) if fast else rng.uniform(10, 500) if social else rng.uniform(90, 2600)
        if kind == "nudge":
            return rng.uniform(3, 9) if fast else rng.uniform(600, 2880)
        if kind == "note":
            return rng.uniform(1, 8) if fast else rng.uniform(5, 150)
        return rng.uniform(1, 25)

    def _steps(self, channel: str, language: str, status: str, shape: tuple[str, ...], thread: Thread,
               fill: Callable[[str], str], scenario: Scenario, customer: CustomerPlan, order: OrderPlan | None,
               agent: str, team: str, subject: str) -> list[Step]:
        rng = self.rng
        store = customer.store
        steps: list[Step] = []
        reply_subject = subject if subject.startswith("Re: ") else f"Re: {subject}"
        threaded = channel not in CHAT_LIKE
        html_email = channel == Channel.EMAIL and rng.random() < 0.6
        read_states = {
            Channel.WHATSAPP: [Message.DeliveryState.READ, Message.DeliveryState.DELIVERED],
            Channel.MESSENGER: [Message.DeliveryState.READ, Message.DeliveryState.DELIVERED],
            Channel.INSTAGRAM: [Message.DeliveryState.READ, Message.DeliveryState.DELIVERED],
            Channel.SMS: [Message.DeliveryState.DELIVERED], Channel.CHAT: [Message.DeliveryState.READ],
        }.get(channel, [Message.DeliveryState.SENT])
        works = False  # has an agent started on it (assigned, tagged)?
        linked = False
        assign_to = agent if rng.random() < 0.93 else None
        if assign_to and language == "es" and rng.random() < 0.06:
            assign_to = "manager"
        responder = assign_to or agent
        last_customer_text = ""
        first_reply = True

        def customer_message(body: str, gap: float, first: bool = False) -> None:
            nonlocal last_customer_text
            text = self._customer_text(channel, language, body, customer) if (first or threaded) else body
            if first and channel == Channel.AMAZON and order:
                text = AMAZON_BODIES[language].format(order=order.number, product=order.lines[0].title, text=text)
            if first and channel == Channel.API and order:
                text = PORTAL_BODIES[language].format(order=order.number, product=order.lines[0].title, text=body,
                                                      reason=PORTAL_REASONS[scenario.key][language])
            markup = _to_html(text, "" if first else last_agent_text) if html_email and rng.random() < 0.8 else ""
            msg_subject = subject if first else (reply_subject if threaded else "")
            steps.append(Step("message", gap, direction=Message.Direction.INBOUND, text=text, html=markup,
                              subject=msg_subject))
            last_customer_text = text

        last_agent_text = ""

        def start_work(gap: float, actor: str) -> float:
            """Assignment, tags, order link and priority that come with an agent's first look."""
            nonlocal works, linked
            if works:
                return gap
            works = True
            steps.append(Step("assign", gap, by_agent=True, value=(assign_to, team), author=actor))
            tags = list(scenario.tags)
            if rng.random() < 0.12:
                tags.append("vip")
            steps.append(Step("tags", rng.uniform(0.5, 3), by_agent=True, value=tags, author=responder))
            if order and not linked:
                linked = True
                steps.append(Step("link", rng.uniform(0.2, 2), by_agent=True, author=responder))
            if scenario.key in ("damaged", "not_received", "payment") and rng.random() < 0.5:
                urgent = "vip" in tags or rng.random() < 0.25
                steps.append(Step("priority", rng.uniform(0.2, 2), by_agent=True, author=responder,
                                  value=Ticket.Priority.URGENT if urgent else Ticket.Priority.HIGH))
            return rng.uniform(1, 12)

        for index, token in enumerate(shape):
            if token == "opening":
                customer_message(fill(thread.opening), 0, first=True)
                if order and (channel in MARKETPLACE_CHANNELS or channel == Channel.API or rng.random() < 0.4):
                    # The order number was in the message: matched automatically.
                    linked = True
                    steps.append(Step("link", 0.1))
                if status == Ticket.Status.NEW:
                    if rng.random() < 0.6:
                        steps.append(Step("assign", rng.uniform(0.1, 1), value=(None, team)))
                    if rng.random() < 0.4:
                        steps.append(Step("tags", rng.uniform(0.1, 1), value=list(scenario.tags)))
                    if rng.random() < 0.3 or "note" in shape:
                        assign_to = agent
                        start_work(rng.uniform(5, 120), "manager")
            elif token == "nudge":
                customer_message(rng.choice(NUDGES[language]), self._gap(channel, "nudge"))
            elif token in ("followup", "thanks"):
                body = fill(thread.followup) if token == "followup" else rng.choice(THANKS[language])
                customer_message(body, self._gap(channel, "customer"))
            elif token == "note":
                gap = start_work(self._gap(channel, "note"), rng.choice([responder, "manager"]))
                if rng.random() < 0.15:
                    steps.append(Step("note", gap, by_agent=True, author="manager", text=rng.choice(MANAGER_NOTES)))
                else:
                    steps.append(Step("note", gap, by_agent=True, author=responder, text=fill(thread.note)))
            elif token in ("reply", "resolution"):
                gap = start_work(self._gap(channel, "agent"), responder)
                body = fill(thread.reply if token == "reply" else thread.resolution)
                text = self._agent_text(channel, language, body, customer, responder, store, first_reply)
                first_reply = False
                state = rng.choice(read_states)
                failure = ""
                is_last_message = all(t in ("note", "solved") for t in shape[index + 1:])
                if (is_last_message and status in (Ticket.Status.OPEN, Ticket.Status.PENDING)
                        and channel in FAILURE_REASONS and rng.random() < 0.25):
                    state, failure = Message.DeliveryState.FAILED, FAILURE_REASONS[channel]
                markup = _to_html(text, last_customer_text) if html_email else ""
                steps.append(Step("message", gap, by_agent=True, direction=Message.Direction.OUTBOUND,
                                  author=responder, text=text, html=markup,
                                  subject=reply_subject if threaded else "", delivery_state=state,
                                  failure_reason=failure))
                last_agent_text = text
            elif token == "solved":
                steps.append(Step("status", self._gap(channel, "status"), by_agent=True, author=responder,
                                  value=Ticket.Status.SOLVED))
        if shape[-1] == "thanks" and channel in CHAT_LIKE and len(shape) < 6 and rng.random() < 0.5:
            text = AGENT_CLOSINGS[language]
            steps.append(Step("message", self._gap(channel, "agent"), by_agent=True,
                              direction=Message.Direction.OUTBOUND, author=responder, text=text,
                              delivery_state=rng.choice(read_states)))
        if status in (Ticket.Status.PENDING, Ticket.Status.ON_HOLD, Ticket.Status.SOLVED, Ticket.Status.CLOSED):
            steps.append(Step("status", self._gap(channel, "status"), by_agent=True, author=responder,
                              value=Ticket.Status.SOLVED if status == Ticket.Status.CLOSED else status))
        if status == Ticket.Status.CLOSED:
            # Solved tickets close on their own after four days without news.
            steps.append(Step("status", 4 * 1440 + rng.uniform(0, 60), value=Ticket.Status.CLOSED))
        return steps


ACCOUNT_STORES = {account.key: account.store for account in ACCOUNTS}
ACCOUNT_CHANNELS = {account.key: account.channel for account in ACCOUNTS}
STORE_NAMES = {store.slug: store.name for store in STORES}


def build_plan(seed: int = SEED) -> Plan:
    """The whole demo as plain data. Same seed, same plan."""
    return _Planner(seed).plan()


# --- Writing it to the database -------------------------------------------------------------


@dataclass
class _Context:
    anchor: datetime
    stores: dict[str, Store]
    accounts: dict[str, ChannelAccount]
    users: dict[str, object]
    teams: dict[str, Team]
    tags: dict[str, Tag]
    customers: dict[str, Customer]
    customer_plans: dict[str, CustomerPlan]


def _ensure_reference_data() -> tuple[dict, dict, dict, dict, dict]:
    stores = {}
    for spec in STORES:
        stores[spec.slug], _ = Store.objects.get_or_create(slug=spec.slug, defaults={
            "name": spec.name, "default_language": spec.language, "time_zone": spec.time_zone,
            "country": spec.country, "currency": spec.currency, "website": spec.website,
        })
    accounts = {}
    for spec in ACCOUNTS:
        accounts[spec.key], _ = ChannelAccount.objects.get_or_create(
            store=stores[spec.store], channel=spec.channel, provider=spec.provider, external_id=spec.external_id,
            defaults={"display_name": spec.display_name, "settings": {"demo": True, **spec.settings}},
        )
    User = get_user_model()
    users = {}
    for spec in USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            extra = {"is_staff": True, "is_superuser": True} if spec.role == AgentProfile.Role.ADMIN else {}
            user = User.objects.create_user(
                username=spec.username, email=f"{spec.username}@helpdesk.example", password=DEMO_PASSWORD,
                first_name=spec.first_name, last_name=spec.last_name, **extra,
            )
        AgentProfile.objects.get_or_create(user=user, defaults={
            "role": spec.role, "language": spec.language, "time_zone": spec.time_zone,
            "availability": spec.availability,
        })
        users[spec.username] = user
    teams = {}
    for name, store_slug, lead, members in TEAMS:
        team, _ = Team.objects.get_or_create(name=name, defaults={
            "store": stores[store_slug] if store_slug else None, "lead": users[lead],
        })
        teams[name] = team
        for member in members:
            users[member].agent_profile.teams.add(team)
    tags = {}
    for name, colour in TAGS.items():
        tags[name], _ = Tag.objects.get_or_create(name=name, defaults={"colour": colour})
    for title, language, store_slug, author, body in CANNED_RESPONSES:
        CannedResponse.objects.get_or_create(
            title=title, language=language, store=stores[store_slug] if store_slug else None,
            defaults={"body": body, "created_by": users[author]},
        )
    return stores, accounts, users, teams, tags


def _ensure_customers(plan: Plan, accounts: dict[str, ChannelAccount], anchor: datetime) -> dict[str, Customer]:
    """Find each planned customer by its first handle, create the missing ones with their handles."""
    def identity_key(identity: IdentityPlan) -> tuple[str, str, int | None]:
        account = accounts[identity.account_key].pk if identity.account_key else None
        return identity.kind, identity.value, account

    values = [i.value for c in plan.customers.values() for i in c.identities]
    existing = {
        (kind, value, account): customer_id
        for kind, value, account, customer_id in ChannelIdentity.objects.filter(value__in=values).values_list(
            "kind", "value", "account_id", "customer_id")
    }
    by_id = Customer.objects.in_bulk({cid for cid in existing.values()})
    customers: dict[str, Customer] = {}
    new_identities = []
    for key, spec in plan.customers.items():
        found = existing.get(identity_key(spec.identities[0]))
        created_at = anchor - timedelta(minutes=spec.oldest_ticket_minutes_ago + 60 * 24 * (int(key[1:]) % 40) + 30)
        if found is not None:
            customers[key] = by_id[found]
        else:
            customers[key] = Customer.objects.create(
                name=spec.name, email=spec.email, phone=spec.phone, language=spec.language,
                time_zone=COUNTRY_TIME_ZONES[spec.country], country=spec.country, created_at=created_at,
            )
        for identity in spec.identities:
            if identity_key(identity) not in existing:
                new_identities.append(ChannelIdentity(
                    customer=customers[key], kind=identity.kind, value=identity.value,
                    account=accounts[identity.account_key] if identity.account_key else None,
                    display_name=identity.display_name, created_at=created_at,
                ))
    ChannelIdentity.objects.bulk_create(new_identities)
    return customers


def _ensure_order(
    plan: OrderPlan, ticket_start: datetime, ctx: _Context, customer: Customer, spec: CustomerPlan
) -> Order:
    account = ctx.accounts[plan.account_key]
    order = Order.objects.filter(store=account.store, marketplace=plan.marketplace, external_id=plan.external_id).first()
    if order is not None:
        return order
    placed_at = ticket_start - timedelta(minutes=plan.placed_minutes_before_ticket)
    subtotal = sum((line.unit_price * line.quantity for line in plan.lines), Decimal("0"))
    total = subtotal + plan.shipping
    address = {
        "name": spec.name, "address1": spec.street, "city": spec.place.city, "zip": spec.postcode,
        "province": spec.place.region, "country_code": spec.country,
    }
    if spec.phone:
        address["phone"] = spec.phone
    order = Order.objects.create(
        store=account.store, channel_account=account, customer=customer, marketplace=plan.marketplace,
        external_id=plan.external_id, number=plan.number, status=plan.status, currency=plan.currency,
        subtotal=subtotal, shipping_total=plan.shipping, tax_total=_money(total - total / (1 + plan.vat_rate)),
        total=total, placed_at=placed_at, billing_address=address, shipping_address=address,
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, external_id=line.external_id, sku=line.sku, title=line.title, quantity=line.quantity,
                  unit_price=line.unit_price, total=line.unit_price * line.quantity)
        for line in plan.lines
    )
    now = ctx.anchor
    Shipment.objects.bulk_create(
        Shipment(
            order=order, external_id=s.external_id, carrier=s.carrier, tracking_number=s.tracking_number,
            tracking_url=s.tracking_url, status=s.status,
            shipped_at=min(placed_at + timedelta(hours=s.shipped_hours_after_order), now)
            if s.shipped_hours_after_order is not None else None,
            delivered_at=min(placed_at + timedelta(hours=s.delivered_hours_after_order), now)
            if s.delivered_hours_after_order is not None else None,
        )
        for s in plan.shipments
    )
    return order


def _timeline(plan: TicketPlan, anchor: datetime, time_zone: str) -> tuple[datetime, list[datetime]]:
    """Absolute times for the ticket's steps: agents work 08:00–20:00 in the store's time zone, and
    nothing happens after the anchor (the moment of the first run)."""
    zone = ZoneInfo(time_zone)
    start = anchor - timedelta(minutes=plan.minutes_ago)
    local = start.astimezone(zone)
    if local.hour < 7:  # customers rarely write at 3 am: move the start to the morning
        start = start + timedelta(hours=7 - local.hour)
    times = []
    current = start
    for index, step in enumerate(plan.steps):
        current = current + timedelta(minutes=step.gap)
        local = current.astimezone(zone)
        if step.by_agent and (local.hour < 8 or local.hour >= 20):
            # Picked up the next working morning, somewhere between 08:00 and 11:00 (the overnight
            # backlog is not all answered in the same minute).
            morning = local.replace(hour=8, minute=0, second=0) + timedelta(
                days=1 if local.hour >= 20 else 0, minutes=(plan.number * 37 + index * 53) % 180)
            current = morning.astimezone(start.tzinfo)
        times.append(current)
    latest = anchor - timedelta(minutes=3 + plan.number % 17)
    overflow = max([start, *times]) - latest
    if overflow > timedelta(0):
        start -= overflow
        times = [t - overflow for t in times]
    return start, times


def _build_ticket(plan: TicketPlan, ctx: _Context) -> Ticket:
    """Create one planned ticket with its order and conversation. Call inside a transaction."""
    store = ctx.stores[plan.store]
    account = ctx.accounts[plan.account_key]
    customer = ctx.customers[plan.customer_key]
    users = ctx.users
    start, times = _timeline(plan, ctx.anchor, store.time_zone)
    spec = ctx.customer_plans[plan.customer_key]
    order = _ensure_order(plan.order, start, ctx, customer, spec) if plan.order else None

    ticket = actions.create_ticket(
        store=store, channel=plan.channel, customer=customer, subject=plan.subject, channel_account=account,
        external_thread_id=plan.marker, language=plan.language, priority=plan.priority, created_at=start,
    )
    message_number = 0
    delivered: list[tuple[int, str, datetime]] = []
    for step, when in zip(plan.steps, times, strict=True):
        author = users[step.author] if step.author else None
        if step.kind == "message":
            message_number += 1
            inbound = step.direction == Message.Direction.INBOUND
            message = actions.add_message(
                ticket=ticket, direction=step.direction, body_text=step.text, body_html=step.html,
                author_user=None if inbound else author, subject=step.subject,
                external_id="" if step.delivery_state == Message.DeliveryState.FAILED
                else f"{plan.marker}-{message_number}",
                delivery_state=step.delivery_state or None, created_at=when,
            )
            if not inbound:
                delivered.append((message.pk, step.failure_reason, when))
        elif step.kind == "note":
            actions.add_message(ticket=ticket, direction=Message.Direction.NOTE, body_text=step.text,
                                author_user=author, created_at=when)
        elif step.kind == "assign":
            assignee_name, team_name = step.value
            actions.assign_ticket(ticket=ticket, assignee=users[assignee_name] if assignee_name else None,
                                  team=ctx.teams[team_name], actor=author, created_at=when)
        elif step.kind == "tags":
            actions.set_tags(ticket=ticket, tags=[ctx.tags[name] for name in step.value], actor=author,
                             created_at=when)
        elif step.kind == "priority":
            actions.set_priority(ticket=ticket, priority=step.value, actor=author, created_at=when)
        elif step.kind == "link" and order is not None:
            actions.link_order(ticket=ticket, order=order, actor=author, created_at=when)
        elif step.kind == "status":
            actions.change_status(ticket=ticket, status=step.value, actor=author, created_at=when)
    for message_id, failure_reason, when in delivered:
        # The provider's delivery receipt (or refusal) came back shortly after sending.
        Message.objects.filter(pk=message_id).update(
            delivery_updated_at=when + timedelta(seconds=20 + message_id % 200), failure_reason=failure_reason,
        )
    return ticket


@dataclass
class SeedResult:
    created_tickets: int
    existing_tickets: int
    seconds: float
    counts: dict[str, int]


def seed_demo(*, now: datetime | None = None, log: Callable[[str], None] | None = None) -> SeedResult:
    """Create (or complete) the demo data; see the module docstring for the guarantees."""
    started = time.monotonic()
    anchor = (now or timezone.now()).replace(second=0, microsecond=0)
    plan = build_plan()
    with transaction.atomic():
        stores, accounts, users, teams, tags = _ensure_reference_data()
        customers = _ensure_customers(plan, accounts, anchor)
        # The shop chat widget of each demo store (tried at /widget/demo/<store>/).
        from channels_ingest.widget.demo import ensure_demo_widgets

        ensure_demo_widgets(stores)
    ctx = _Context(anchor=anchor, stores=stores, accounts=accounts, users=users, teams=teams, tags=tags,
                   customers=customers, customer_plans=plan.customers)

    markers = [ticket.marker for ticket in plan.tickets]
    done = set(Ticket.objects.filter(external_thread_id__in=markers, store__in=stores.values())
               .values_list("external_thread_id", flat=True))
    created = 0
    for ticket_plan in plan.tickets:
        if ticket_plan.marker in done:
            continue
        with transaction.atomic():
            _build_ticket(ticket_plan, ctx)
        created += 1
        if log and created % 50 == 0:
            log(f"  {created} tickets created…")
    return SeedResult(created_tickets=created, existing_tickets=len(done), seconds=time.monotonic() - started,
                      counts=demo_counts())


def demo_counts() -> dict[str, int]:
    User = get_user_model()
    multi_channel = (
        Ticket.objects.values("customer").annotate(channels=Count("channel", distinct=True))
        .filter(channels__gte=2).count()
    )
    return {
        "stores": Store.objects.count(),
        "channel accounts": ChannelAccount.objects.count(),
        "users": User.objects.count(),
        "teams": Team.objects.count(),
        "tags": Tag.objects.count(),
        "canned responses": CannedResponse.objects.count(),
        "customers": Customer.objects.count(),
        "customers who wrote on 2+ channels": multi_channel,
        "channel identities": ChannelIdentity.objects.count(),
        "orders": Order.objects.count(),
        "order lines": OrderLine.objects.count(),
        "shipments": Shipment.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "ticket events": TicketEvent.objects.count(),
    }
