"""Inbox benchmark: `make bench-inbox` (python -m tickets.benchmark_inbox).

Fills a database of its own (`helpdesk_bench_inbox`, on the embedded PostgreSQL or DATABASE_URL's
server) with a realistic helpdesk, 1 M tickets and 5 M messages by default:

- six stores (English, Spanish, Romanian), teams, agents, tags;
- customers with names, email addresses and phone numbers of their language;
- tickets over two years, newest the busiest: most solved or closed, the last fortnight's mostly
  open; channels weighted as a shop sees them (email first, then chat, WhatsApp, Amazon...);
- messages with a long tail per ticket (most tickets have a few, some have hundreds), written in
  the ticket's language from sentences a customer or an agent would write, some naming the order;
- orders linked to most tickets (Shopify "#1234567" numbers, Amazon "123-1234567-1234567").

Everything is written server-side with INSERT ... SELECT over generate_series (no ORM, no per-row
round trip, no client-side COPY stream to feed), with the secondary indexes dropped during the
load and built afterwards, the search documents built set-wise and their GIN index last. The
database is kept: `--reuse` runs the measurements again on it (after applying new migrations)
when it was filled with the same sizes.

It then requests, through Django's test client (the whole stack but the socket: middleware,
session, permissions, queries, templates), many times each with a warm cache, and prints p50/p95
server time beside the targets:

- the first page of three inbox views, and a page deep in a view (keyset pagination);
- a full-text search: rare and common words, two words, a name, an email, a phone, an order number,
  both through the inbox page (?q=) and `tickets.search.search_tickets` alone;
- the ticket page of a ticket with 200 messages.

It prints figures; it asserts nothing (tests assert behaviour, see tests/).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from html import unescape
from pathlib import Path

from helpdesk.benchmarking import (
    connection_params,
    insert_select,
    open_page_bench_database,
    reset_bench_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "helpdesk_bench_inbox"
TARGET_VIEW_MS = 50
TARGET_SEARCH_MS = 200
TARGET_TICKET_MS = 100
BIG_TICKET_MESSAGES = 200
LOADED_TABLES = ("tickets_ticket", "tickets_message", "tickets_customer", "tickets_order", "tickets_ticket_orders",
                 "tickets_ticketsearchdocument")

# --- What people write ---------------------------------------------------------------------------

FIRST_NAMES = {
    "en": ["Oliver", "Emma", "James", "Sophie", "Harry", "Charlotte", "Jack", "Amelia", "George", "Olivia",
           "William", "Isla", "Thomas", "Grace", "Daniel", "Chloe", "Samuel", "Lucy", "Joseph", "Ella"],
    "es": ["María", "José", "Lucía", "Javier", "Carmen", "Álvaro", "Sofía", "Andrés", "Paula", "Sergio",
           "Martina", "Raúl", "Elena", "Iván", "Nuria", "Adrián", "Begoña", "Íñigo", "Rocío", "Tomás"],
    "ro": ["Andrei", "Ioana", "Mihai", "Elena", "Ștefan", "Ana", "Alexandru", "Maria", "Bogdan", "Cristina",
           "Răzvan", "Andreea", "Tudor", "Bianca", "Vlad", "Irina", "Cătălin", "Oana", "Sorin", "Alina"],
}
LAST_NAMES = {
    "en": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
           "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke"],
    "es": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
           "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso",
           "Gutiérrez"],
    "ro": ["Popescu", "Ionescu", "Popa", "Constantin", "Stan", "Dumitru", "Stoica", "Gheorghe", "Matei", "Ciobanu",
           "Rusu", "Munteanu", "Marin", "Țurcanu", "Lungu", "Moldovan", "Căpraru", "Florea", "Sârbu", "Ene"],
}
SUBJECTS = {
    "en": ["Where is my order?", "Order not delivered", "Wrong size received", "Request a refund",
           "Item arrived damaged", "Change delivery address", "Cancel my order", "Question about a product",
           "Tracking number not working", "Missing item in parcel", "Invoice request", "Return label",
           "Payment charged twice", "Discount code not applied", "When will it be back in stock?"],
    "es": ["¿Dónde está mi pedido?", "Pedido no entregado", "Talla equivocada", "Solicitud de reembolso",
           "El artículo llegó dañado", "Cambiar dirección de envío", "Cancelar mi pedido", "Consulta sobre un producto",
           "El número de seguimiento no funciona", "Falta un artículo en el paquete", "Solicitud de factura",
           "Etiqueta de devolución", "Cobro duplicado", "El código de descuento no funciona", "¿Cuándo habrá stock?"],
    "ro": ["Unde este comanda mea?", "Comanda nu a fost livrată", "Am primit altă mărime", "Cerere de rambursare",
           "Produsul a ajuns deteriorat", "Schimbarea adresei de livrare", "Anulați comanda", "Întrebare despre un produs",
           "Numărul de urmărire nu funcționează", "Lipsește un produs din colet", "Cerere de factură", "Etichetă de retur",
           "Plată dublă", "Codul de reducere nu merge", "Când revine pe stoc?"],
}
CUSTOMER_SENTENCES = {
    "en": ["Hi, I ordered last week and still have not received anything.",
           "The tracking page has not changed for five days.", "Could you tell me when my parcel will arrive?",
           "The shoes I received are one size too small.", "I would like to return the jacket and get a refund.",
           "The box was crushed and the lamp inside is broken.", "Please send the invoice to my company address.",
           "I was charged twice for the same order.", "Can I still change the delivery address?",
           "The courier says the address could not be found.", "I need this before Friday, it is a gift.",
           "Thanks for the quick answer!", "The discount code SUMMER10 was not applied at checkout.",
           "One of the three items is missing from the parcel.", "Is the blue version coming back in stock?",
           "I have attached a photo of the damaged packaging.", "Nobody was at home when the courier came."],
    "es": ["Hola, hice el pedido la semana pasada y todavía no he recibido nada.",
           "La página de seguimiento no se ha actualizado en cinco días.", "¿Podrían decirme cuándo llegará mi envío?",
           "Las zapatillas que recibí son una talla más pequeña.", "Quisiera devolver la chaqueta y recibir el reembolso.",
           "La caja llegó aplastada y la lámpara está rota.", "Por favor, envíen la factura a la dirección de mi empresa.",
           "Me han cobrado dos veces el mismo pedido.", "¿Todavía puedo cambiar la dirección de envío?",
           "El mensajero dice que no encontró la dirección.", "Lo necesito antes del viernes, es un regalo.",
           "¡Gracias por la rápida respuesta!", "El código de descuento VERANO10 no se aplicó en la compra.",
           "Falta uno de los tres artículos en el paquete.", "¿Volverá a haber stock de la versión azul?",
           "Adjunto una foto del embalaje dañado.", "No había nadie en casa cuando pasó el repartidor."],
    "ro": ["Bună ziua, am comandat săptămâna trecută și încă nu am primit nimic.",
           "Pagina de urmărire nu s-a schimbat de cinci zile.", "Puteți să-mi spuneți când ajunge coletul?",
           "Pantofii primiți sunt cu o mărime mai mici.", "Aș dori să returnez geaca și să primesc banii înapoi.",
           "Cutia a fost strivită și lampa din interior este spartă.", "Vă rog să trimiteți factura pe adresa firmei.",
           "Mi s-a încasat de două ori aceeași comandă.", "Mai pot schimba adresa de livrare?",
           "Curierul spune că nu a găsit adresa.", "Am nevoie de produs până vineri, este un cadou.",
           "Mulțumesc pentru răspunsul rapid!", "Codul de reducere VARA10 nu s-a aplicat la plată.",
           "Lipsește unul dintre cele trei produse din colet.", "Varianta albastră va reveni pe stoc?",
           "Am atașat o fotografie cu ambalajul deteriorat.", "Nu era nimeni acasă când a venit curierul."],
}
AGENT_SENTENCES = {
    "en": ["Thank you for contacting us.", "I am sorry for the delay with your order.",
           "Your parcel is with the courier and should arrive within two working days.",
           "I have issued a full refund; it will show on your statement in 3 to 5 days.",
           "We have sent a replacement at no extra cost.", "Could you send us a photo of the damaged item?",
           "I have updated the delivery address.", "Here is your prepaid return label.",
           "Is there anything else I can help you with?", "Kind regards, the customer service team."],
    "es": ["Gracias por contactar con nosotros.", "Sentimos el retraso de su pedido.",
           "Su paquete está con el transportista y llegará en dos días laborables.",
           "Hemos emitido el reembolso completo; lo verá en su cuenta en 3 a 5 días.",
           "Le hemos enviado un artículo de sustitución sin coste.", "¿Podría enviarnos una foto del artículo dañado?",
           "He actualizado la dirección de envío.", "Aquí tiene la etiqueta de devolución prepagada.",
           "¿Puedo ayudarle en algo más?", "Un saludo, el equipo de atención al cliente."],
    "ro": ["Vă mulțumim că ne-ați contactat.", "Ne pare rău pentru întârzierea comenzii.",
           "Coletul este la curier și va ajunge în două zile lucrătoare.",
           "Am emis rambursarea completă; o veți vedea în cont în 3-5 zile.",
           "V-am trimis un produs de înlocuire fără cost suplimentar.", "Ne puteți trimite o fotografie cu produsul deteriorat?",
           "Am actualizat adresa de livrare.", "Aveți aici eticheta de retur preplătită.",
           "Vă mai putem ajuta cu ceva?", "Cu stimă, echipa de relații cu clienții."],
}
# (channel, share of tickets)
CHANNELS = [("email", 35), ("chat", 15), ("whatsapp", 12), ("amazon", 12), ("shopify", 6), ("ebay", 5),
            ("messenger", 6), ("instagram", 4), ("sms", 3), ("woocommerce", 2)]
# A word only a few messages contain ("the Zanzibar lamp"): the rare-word search.
RARE_WORD = "zanzibar"
RARE_EVERY = 20_000


def log(message: str) -> None:
    print(message, flush=True)


def _step(label: str, started: float) -> float:
    now = time.perf_counter()
    log(f"  {label}: {now - started:.1f} s")
    return now


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def _by_language(banks: dict[str, list[str]], language: str, index: str) -> str:
    """SQL: the `index`-th (1-based, wrapped) entry of the bank of `language` (an SQL expression)."""
    cases = " ".join(
        f"WHEN '{code}' THEN ({_array(values)})[1 + mod(({index})::bigint, {len(values)})]" for code, values in banks.items()
    )
    return f"(CASE {language} {cases} END)"




def _secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, definition) of the loaded tables' indexes that no constraint owns."""
    cursor.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)""",
        [list(LOADED_TABLES)],
    )
    return cursor.fetchall()


# --- Loading -------------------------------------------------------------------------------------


def load(tickets: int, messages: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tickets.models import AgentProfile, Store, Tag, Team

    User = get_user_model()
    stores = {
        "en": [Store.objects.create(name="Northwind UK", slug="northwind-uk", default_language="en", currency="GBP"),
               Store.objects.create(name="Northwind Outlet", slug="northwind-outlet", default_language="en")],
        "es": [Store.objects.create(name="Tienda Sol", slug="tienda-sol", default_language="es"),
               Store.objects.create(name="Sol Outlet", slug="sol-outlet", default_language="es")],
        "ro": [Store.objects.create(name="Magazin Carpați", slug="magazin-carpati", default_language="ro", currency="RON"),
               Store.objects.create(name="Carpați Outlet", slug="carpati-outlet", default_language="ro", currency="RON")],
    }
    teams = {code: Team.objects.create(name=f"Support {code.upper()}", store=None) for code in stores}
    admin = User.objects.create_user("bench-admin", password=None, is_staff=True, is_superuser=True)
    AgentProfile.objects.create(user=admin, role=AgentProfile.Role.ADMIN)
    agents: dict[str, list[int]] = {}
    for code, team in teams.items():
        agents[code] = []
        for n in range(12):
            user = User.objects.create_user(f"bench-{code}-{n}", password=None, first_name=f"Agent {code} {n}")
            profile = AgentProfile.objects.create(user=user, role=AgentProfile.Role.AGENT, language=code)
            profile.teams.add(team)
            profile.stores.add(*stores[code])
            agents[code].append(user.pk)
    for name in ("vip", "refund", "damaged", "late", "wholesale", "return", "invoice", "complaint"):
        Tag.objects.create(name=name)

    customers = max(tickets // 3, 1)
    params = {"tickets": tickets, "customers": customers, "messages": messages}
    language_of = "(CASE WHEN mod({g}, 20) < 9 THEN 'en' WHEN mod({g}, 20) < 16 THEN 'es' ELSE 'ro' END)"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET work_mem = '64MB'")
        # References right by construction: skip the foreign-key and search triggers (superuser
        # only; the embedded server's user is one); the search documents are built set-wise below.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SELECT setseed(0.42)")
        indexes = _secondary_indexes(cursor)
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

        lang = language_of.format(g="g")
        first = _by_language(FIRST_NAMES, lang, "g / 7")
        last = _by_language(LAST_NAMES, lang, "g / 3 + mod(g, 5)")
        insert_select(cursor, "tickets_customer", {
            "id": "g", "name": f"{first} || ' ' || {last}",
            "email": f"helpdesk_search_fold({first}) || '.' || helpdesk_search_fold(replace({last}, ' ', '')) || g || '@example.com'",
            "phone": f"(CASE {lang} WHEN 'es' THEN '+34' || (600000000 + g) WHEN 'ro' THEN '+40' || (700000000 + g) "
                     "ELSE '+44' || (7400000000 + g) END)",
            "language": lang, "created_at": "now() - interval '800 days'", "updated_at": "now()",
        }, "generate_series(1, %(customers)s) AS g", params)
        started = _step(f"{customers:,} customers", started)

        # One row per ticket with everything its messages need, then the tickets from it.
        channel_cases = []
        bound = 0
        total = sum(share for _, share in CHANNELS)
        for channel, share in CHANNELS:
            bound += share
            channel_cases.append(f"WHEN r.channel < {bound / total} THEN '{channel}'")
        cursor.execute(f"""
            CREATE UNLOGGED TABLE bench_t AS
            SELECT g AS id, c.id AS customer_id, c.language,
                   (CASE c.language WHEN 'en' THEN %(en)s WHEN 'es' THEN %(es)s ELSE %(ro)s END)[1 + g %% 2] AS store_id,
                   (CASE c.language WHEN 'en' THEN %(team_en)s WHEN 'es' THEN %(team_es)s ELSE %(team_ro)s END) AS team_id,
                   (CASE c.language WHEN 'en' THEN %(agents_en)s::int[] WHEN 'es' THEN %(agents_es)s::int[]
                         ELSE %(agents_ro)s::int[] END)[1 + (g * 31) %% 12] AS agent_id,
                   CASE {' '.join(channel_cases)} ELSE 'email' END AS channel,
                   t.created_at,
                   -- Recent tickets are mostly open; older ones solved or closed.
                   CASE WHEN t.created_at > now() - interval '14 days' THEN
                            CASE WHEN r.status < 0.15 THEN 'new' WHEN r.status < 0.50 THEN 'open'
                                 WHEN r.status < 0.70 THEN 'pending' WHEN r.status < 0.75 THEN 'on_hold' ELSE 'solved' END
                        ELSE CASE WHEN r.status < 0.70 THEN 'closed' WHEN r.status < 0.99 THEN 'solved' ELSE 'open' END
                   END AS status,
                   CASE WHEN r.tail < 0.003 THEN 30 + floor(random() * 220)::int
                        ELSE 1 + floor(-ln(1 - random()) * greatest(%(mean)s - 0.92, 0.05))::int END AS message_count,
                   r.order_linked < 0.6 AS has_order,
                   CASE WHEN r.priority < 0.05 THEN 1 WHEN r.priority < 0.85 THEN 2 WHEN r.priority < 0.98 THEN 3 ELSE 4 END AS priority
            FROM generate_series(1, %(tickets)s) AS g
            JOIN tickets_customer c ON c.id = 1 + (g * 7919::bigint) %% %(customers)s
            CROSS JOIN LATERAL (SELECT random() AS channel, random() AS status, random() AS tail,
                                       random() AS order_linked, random() AS priority, g AS n) AS r
            CROSS JOIN LATERAL (SELECT now() - (1 - g::float8 / %(tickets)s) * interval '730 days'
                                       - random() * interval '1 hour' AS created_at) AS t
        """, {**params, "mean": messages / tickets,
              "en": [s.pk for s in stores["en"]], "es": [s.pk for s in stores["es"]], "ro": [s.pk for s in stores["ro"]],
              "team_en": teams["en"].pk, "team_es": teams["es"].pk, "team_ro": teams["ro"].pk,
              "agents_en": agents["en"], "agents_es": agents["es"], "agents_ro": agents["ro"]})
        # The ticket the ticket-page measurement opens: 200 messages, open, recent.
        cursor.execute("UPDATE bench_t SET message_count = %s, status = 'open', has_order = true WHERE id = %s",
                       [BIG_TICKET_MESSAGES, tickets - 100])
        cursor.execute("""ALTER TABLE bench_t ADD COLUMN updated_at timestamptz;
            UPDATE bench_t SET updated_at = CASE WHEN status IN ('solved', 'closed')
                THEN created_at + (1 + message_count) * random() * interval '6 hours'
                ELSE least(now(), created_at + message_count * random() * interval '3 hours') END""")
        subject = _by_language(SUBJECTS, "b.language", "b.id * 13 + b.id / 17")
        insert_select(cursor, "tickets_ticket", {
            "id": "b.id", "store_id": "b.store_id", "channel": "b.channel", "customer_id": "b.customer_id",
            "subject": subject, "status": "b.status", "priority": "b.priority", "team_id": "b.team_id",
            # New tickets wait unassigned; a few older ones were never assigned either.
            "assignee_id": "CASE WHEN b.status = 'new' OR mod(b.id, 25) = 0 THEN NULL ELSE b.agent_id END",
            "language": "b.language", "created_at": "b.created_at", "updated_at": "b.updated_at",
            "last_customer_message_at": "b.updated_at - interval '5 minutes'",
            "first_response_at": "CASE WHEN b.status = 'new' THEN NULL ELSE b.created_at + interval '40 minutes' END",
            "solved_at": "CASE WHEN b.status IN ('solved', 'closed') THEN b.updated_at END",
            "closed_at": "CASE WHEN b.status = 'closed' THEN b.updated_at END",
            "external_thread_id": "''", "marketplace": "CASE WHEN b.channel = 'amazon' THEN 'amazon.es' ELSE '' END",
            "is_spam": "false",
        }, "bench_t AS b ORDER BY b.id")
        started = _step(f"{tickets:,} tickets", started)

        insert_select(cursor, "tickets_order", {
            "id": "b.id", "store_id": "b.store_id", "customer_id": "b.customer_id",
            "marketplace": "CASE WHEN b.channel = 'amazon' THEN 'amazon' ELSE 'shopify' END",
            "external_id": "(820982911946154508 + b.id)::text",
            "number": "CASE WHEN b.channel = 'amazon' THEN lpad((100 + b.id % 900)::text, 3, '0') || '-' || "
                      "lpad(((b.id::bigint * 7919) % 10000000)::text, 7, '0') || '-' || lpad((b.id % 10000000)::text, 7, '0') "
                      "ELSE '#' || (1000000 + b.id) END",
            "status": "'delivered'", "currency": "'EUR'", "subtotal": "44.90", "shipping_total": "5.00",
            "tax_total": "0", "total": "49.90", "placed_at": "b.created_at - interval '3 days'",
            "billing_address": "'{}'::jsonb", "shipping_address": "'{}'::jsonb", "updated_at": "now()",
        }, "bench_t AS b WHERE b.has_order")
        cursor.execute("INSERT INTO tickets_ticket_orders (ticket_id, order_id) SELECT id, id FROM bench_t WHERE has_order")
        started = _step("orders and links", started)

        customer_text = (
            f"{_by_language(CUSTOMER_SENTENCES, 'b.language', 'b.id * 3 + k.k * 7')} || ' ' || "
            f"{_by_language(CUSTOMER_SENTENCES, 'b.language', 'b.id + k.k * 11 + 5')}"
        )
        agent_text = (
            f"{_by_language(AGENT_SENTENCES, 'b.language', 'k.k')} || ' ' || "
            f"{_by_language(AGENT_SENTENCES, 'b.language', 'b.id + k.k * 3 + 2')} || ' ' || "
            f"{_by_language(AGENT_SENTENCES, 'b.language', '9')}"
        )
        text = (f"CASE WHEN k.k % 2 = 1 THEN {customer_text} ELSE {agent_text} END"
                " || CASE WHEN b.has_order AND k.k % 5 = 1 THEN ' ' || o.number ELSE '' END"
                f" || CASE WHEN (b.id * 31 + k.k) % {RARE_EVERY} = 0 THEN ' The {RARE_WORD.title()} lamp.' ELSE '' END")
        insert_select(cursor, "tickets_message", {
            "ticket_id": "b.id",
            "direction": "CASE WHEN k.k % 2 = 1 THEN 'inbound' WHEN k.k % 10 = 0 THEN 'note' ELSE 'outbound' END",
            "author_type": "CASE WHEN k.k % 2 = 1 THEN 'customer' ELSE 'agent' END",
            "author_customer_id": "CASE WHEN k.k % 2 = 1 THEN b.customer_id END",
            "author_user_id": "CASE WHEN k.k % 2 = 0 THEN b.agent_id END",
            "channel": "b.channel", "body_text": text, "body_html": "''", "visible_text": "''",
            "delivery_state": "CASE WHEN k.k % 2 = 1 THEN 'received' ELSE 'delivered' END",
            "created_at": "b.created_at + (b.updated_at - b.created_at) * (k.k - 1) / b.message_count",
            "metadata": "'{}'::jsonb", "subject": "''", "external_id": "''", "external_thread_id": "''",
        }, "bench_t AS b LEFT JOIN tickets_order AS o ON o.id = b.id AND b.has_order "
           "CROSS JOIN LATERAL generate_series(1, b.message_count) AS k(k) ORDER BY b.id, k.k")
        cursor.execute("SELECT count(*) FROM tickets_message")
        (written,) = cursor.fetchone()
        started = _step(f"{written:,} messages", started)

        for table in ("tickets_customer", "tickets_ticket", "tickets_order"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("SET session_replication_role = DEFAULT")
        for name, definition in indexes:
            if name != "ticketsearch_document":
                cursor.execute(definition)
        started = _step(f"{len(indexes)} indexes rebuilt", started)
        cursor.execute("ANALYZE")
    build_documents(tickets)
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(next(d for n, d in indexes if n == "ticketsearch_document"))
        started = _step("search index (GIN)", started)
        cursor.execute("DROP TABLE bench_t")
        cursor.execute("CREATE TABLE bench_inbox_meta (tickets bigint, messages bigint)")
        cursor.execute("INSERT INTO bench_inbox_meta VALUES (%s, %s)", [tickets, messages])
    vacuum()


def build_documents(tickets: int, workers: int = 2) -> None:
    """The search documents of every ticket, in slices, on `workers` connections at once (the
    same function the triggers call)."""
    import threading

    import psycopg2

    started = time.perf_counter()
    url = os.environ["DATABASE_URL"]
    slices = [(start, min(start + 20_000, tickets + 1)) for start in range(1, tickets + 1, 20_000)]
    errors: list[BaseException] = []

    def work() -> None:
        connection = psycopg2.connect(dbname=DATABASE, **connection_params(url))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
                while slices:
                    try:
                        low, high = slices.pop(0)
                    except IndexError:
                        return
                    cursor.execute("SELECT helpdesk_search_build(ARRAY(SELECT generate_series(%s, %s - 1)::bigint))",
                                   [low, high])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    _step("search documents", started)


def rebuild_search(tickets: int) -> None:
    """The kept database's search functions, triggers and documents made afresh from migration
    0012 (after a change to them), without loading everything again."""
    import importlib

    from django.db import connection

    migration = importlib.import_module("tickets.migrations.0012_search")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(migration.FUNCTIONS)
        cursor.execute(migration.DROP_TRIGGERS)
        cursor.execute(migration.TRIGGERS)
        cursor.execute("DROP INDEX IF EXISTS ticketsearch_document")
        cursor.execute("TRUNCATE tickets_ticketsearchdocument")
    build_documents(tickets)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("CREATE INDEX ticketsearch_document ON tickets_ticketsearchdocument USING gin (document)")
    _step("search functions, documents and index rebuilt", started)
    vacuum()


def vacuum() -> None:
    import psycopg2

    started = time.perf_counter()
    connection = psycopg2.connect(dbname=DATABASE, **connection_params(os.environ["DATABASE_URL"]))
    connection.autocommit = True
    with connection.cursor() as cursor:
        # Visibility map set: index-only scans and no hint-bit writes during the measurements.
        cursor.execute("VACUUM (ANALYZE) tickets_ticket, tickets_message, tickets_ticketsearchdocument, "
                       "tickets_customer, tickets_order, tickets_ticket_orders")
    connection.close()
    _step("vacuum analyze", started)


def loaded_sizes() -> tuple[int, int] | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_inbox_meta') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT tickets, messages FROM bench_inbox_meta")
        return cursor.fetchone()


# --- Measuring -----------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Report:
    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.missed: list[str] = []
        log(f"\n{'measurement':<58} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}  (n={repeat}, warm)")

    def time(self, label: str, call, target: float) -> None:
        try:
            for _ in range(2):
                call()
            timings = []
            for _ in range(self.repeat):
                started = time.perf_counter()
                call()
                timings.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # one broken route must not hide the others' figures
            log(f"{label:<58} failed: {exc!r}"[:200])
            self.missed.append(label)
            return
        p95 = _percentile(timings, 0.95)
        verdict = "" if p95 <= target else "  MISSED"
        if verdict:
            self.missed.append(label)
        log(f"{label:<58} {statistics.median(timings):8.1f} {p95:8.1f} {'≤ ' + str(target):>8}{verdict}")


def _get(client, url: str):
    def call():
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code} for {url}")
        return response
    return call


# The page's link to the next page: rel="next" (the inbox's keyset link).
NEXT_LINK = re.compile(r'<a\b[^>]*\brel="next"[^>]*\bhref="([^"]+)"|<a\b[^>]*\bhref="([^"]+)"[^>]*\brel="next"')


def _deep_url(user, inbox: str, params: str, depth: int) -> tuple[str | None, int]:
    """The URL of the view's page that starts `depth` rows in: the keyset cursor of the row at
    that depth, made with the inbox's own Cursor (None when the inbox does not offer it)."""
    try:
        from tickets.inbox.params import ViewParams
        from tickets.inbox.queries import Cursor, sort_of, view_tickets
    except ImportError:
        return None, 0
    view = ViewParams.from_query(params)
    sort = sort_of(view)
    tickets = sort.annotate(view_tickets(user, view)).order_by(*sort.order())
    while depth >= 50:  # a smaller database: as deep as the view goes
        row = tickets[depth - 1: depth].first()
        if row is not None:
            return f"{inbox}?{params}&after={Cursor.of(row, sort).encode()}", depth
        depth //= 10
    return None, 0


def _follow_next(client, url: str, pages: int) -> tuple[str, int]:
    """The URL of the page `pages` pages into `url`, following each page's "next" link."""
    followed = 0
    for _ in range(pages):
        html = client.get(url).content.decode()
        match = NEXT_LINK.search(html)
        if not match:
            break
        url = unescape(match.group(1) or match.group(2))
        followed += 1
    return url, followed


def measure(repeat: int, deep_rows: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from tickets.models import Customer, Order, Ticket
    from tickets.search import search_tickets

    User = get_user_model()
    admin = User.objects.get(username="bench-admin")
    agent = User.objects.get(username="bench-es-0")
    clients = {}
    for name, user in (("admin", admin), ("agent", agent)):
        clients[name] = Client()
        clients[name].force_login(user)
    inbox = reverse("tickets:inbox")
    report = Report(repeat)

    log("-- inbox views (first page)")
    for who, label, params in (
        ("admin", "inbox: all open, by last activity (admin)", "?view=open"),
        ("agent", "inbox: mine, by last customer message (agent)", "?view=mine&sort=last_customer"),
        ("admin", "inbox: unassigned, by SLA deadline (admin)", "?view=unassigned&sort=sla"),
        ("agent", "inbox: solved, one store's agent", "?view=solved"),
    ):
        report.time(label, _get(clients[who], inbox + params), TARGET_VIEW_MS)
    for who, label, params in (
        ("admin", "all tickets, newest first", "view=all&sort=created"),
        ("admin", "solved, by priority", "view=solved&sort=priority"),
    ):
        url, depth = _deep_url(admin if who == "admin" else agent, inbox, params, deep_rows)
        if url is None:
            url, followed = _follow_next(clients[who], inbox + "?" + params, min(deep_rows // 50, 20))
            depth = followed * 50
        report.time(f"inbox: {label}, {depth:,} rows deep (keyset)", _get(clients[who], url), TARGET_VIEW_MS)

    log("-- full-text search")
    customer = Customer.objects.filter(tickets__status="open", language="es").order_by("-id").first()
    order = Order.objects.filter(tickets__isnull=False, marketplace="amazon").order_by("-id").first()
    shop_order = Order.objects.filter(tickets__isnull=False, marketplace="shopify").order_by("-id").first()
    queries = [
        ("rare word", RARE_WORD),
        ("common word (en)", "order"),
        ("common word (es, accent)", "envío"),
        ("common word (ro, accent)", "comandă"),
        ("two words", "refund jacket"),
        ("customer name", customer.name if customer else "María García"),
        ("name prefix", "Ionesc"),
        ("email", customer.email if customer else "x@example.com"),
        ("phone, as typed", (customer.phone[:3] + " " + customer.phone[3:6] + " " + customer.phone[6:]) if customer else "600"),
        ("amazon order number", order.number if order else "123"),
        ("shop order number", shop_order.number if shop_order else "#1001"),
    ]
    for label, query in queries:
        report.time(f"search page ?q= {label}: {query[:24]}",
                    _get(clients["admin"], inbox + "?" + _qs(q=query)), TARGET_SEARCH_MS)
    report.time("search page ?q= common word, agent of one store",
                _get(clients["agent"], inbox + "?" + _qs(q="pedido")), TARGET_SEARCH_MS)
    for label, query in queries[:3]:
        report.time(f"search_tickets() alone, {label}", lambda q=query: search_tickets(admin, q), TARGET_SEARCH_MS)
    page = search_tickets(admin, "order")
    if page.next_cursor:
        report.time("search_tickets() second page, common word",
                    lambda: search_tickets(admin, "order", cursor=page.next_cursor), TARGET_SEARCH_MS)

    log("-- ticket page")
    cursor = connection.cursor()
    cursor.execute("SELECT ticket_id FROM tickets_message GROUP BY ticket_id HAVING count(*) = %s LIMIT 1",
                   [BIG_TICKET_MESSAGES])
    row = cursor.fetchone()
    big = Ticket.objects.get(pk=row[0]) if row else Ticket.objects.order_by("-id").first()
    count = big.messages.count()
    report.time(f"ticket page, {count} messages (admin)", _get(clients["admin"], reverse("tickets:detail", args=[big.pk])),
                TARGET_TICKET_MS)
    typical = Ticket.objects.filter(status="open").order_by("-id").first()
    report.time(f"ticket page, {typical.messages.count()} messages (admin)",
                _get(clients["admin"], reverse("tickets:detail", args=[typical.pk])), TARGET_TICKET_MS)
    return report.missed


def _qs(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def explain(query: str) -> None:
    """The plans of the search's candidate query for `query`: in the newest window, and over all."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models.expressions import RawSQL

    from tickets.models import Ticket
    from tickets.search.query import CANDIDATES, FIRST_WINDOW
    from tickets.search.terms import parse

    admin = get_user_model().objects.get(username="bench-admin")
    query_sql, query_params = parse(query).sql()
    newest = Ticket.objects.order_by("-id").values_list("id", flat=True).first()
    for floor in (newest - FIRST_WINDOW, 0):
        matches = RawSQL(f"SELECT helpdesk_search_matches({query_sql}, %s)", [*query_params, floor])
        candidates = (Ticket.objects.visible_to(admin).filter(pk__in=matches).order_by("-id")
                      .values_list("id", flat=True)[:CANDIDATES])
        sql, params = candidates.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            log(f"-- tickets above id {floor}:")
            log("\n".join(row[0] for row in cursor.fetchall()))
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) SELECT ticket_id FROM tickets_ticketsearchdocument "
                           f"WHERE document @@ {query_sql} AND ticket_id > %s", [*query_params, floor])
            log("-- the match alone, as planned without the function's settings:")
            log("\n".join(row[0] for row in cursor.fetchall()))


def run(tickets: int, messages: int, repeat: int, reuse: bool, deep_rows: int, explain_queries: list[str],
        rebuild: bool = False) -> None:
    from helpdesk.devstack import Stack

    stack = Stack()
    try:
        stack.start_services()
        log(f"Inbox benchmark: {tickets:,} tickets, {messages:,} messages, database {DATABASE}")
        fresh = open_page_bench_database(DATABASE, reuse=reuse)
        from django.core.management import call_command

        if not fresh and loaded_sizes() != (tickets, messages):
            log(f"  the kept database holds {loaded_sizes()}; filling it afresh")
            from django.db import connections

            connections.close_all()
            reset_bench_database(os.environ["DATABASE_URL"], DATABASE)
            call_command("migrate", verbosity=0, interactive=False)
            fresh = True
        if fresh:
            started = time.perf_counter()
            load(tickets, messages)
            log(f"  loaded in {time.perf_counter() - started:.0f} s (kept for --reuse)")
        else:
            log("  reusing the kept database")
            if rebuild:
                rebuild_search(tickets)
        for query in explain_queries:
            log(f"\nEXPLAIN ANALYZE, search candidates for {query!r}:")
            explain(query)
        missed = measure(repeat, deep_rows)
        log(f"\n{len(missed)} measurement(s) over target" + (": " + "; ".join(missed) if missed else ""))
    finally:
        from django.db import connections

        connections.close_all()
        stack.stop_services()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=30, help="requests per measurement")
    parser.add_argument("--deep-rows", type=int, default=50_000, help="how many rows deep the keyset page starts")
    parser.add_argument("--reuse", action="store_true",
                        help="measure on the kept database when it holds the same sizes (else fill it afresh)")
    parser.add_argument("--rebuild-search", action="store_true",
                        help="with --reuse: rebuild the search functions, documents and index of the kept database")
    parser.add_argument("--explain", action="append", default=[], metavar="QUERY",
                        help="print the plan of the search candidate query for QUERY (repeatable)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.tickets, args.messages, args.repeat, args.reuse, args.deep_rows, args.explain, args.rebuild_search)


if __name__ == "__main__":
    main()
