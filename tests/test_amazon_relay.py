"""Amazon buyer-seller messaging by email: relay mail becomes an "amazon" message with its
marketplace, order and ASIN; lookalike senders stay plain email; replies are checked against
what Amazon refuses. Pure functions: no database."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from channels_ingest.base import CustomerHandle, NormalizedMessage
from channels_ingest.email.amazon import (
    MARKETPLACE_TLDS,
    apply_amazon_relay,
    buyer_name,
    check_amazon_reply,
    find_asin,
    find_order_id,
    marketplace_for_address,
)
from channels_ingest.email.parse import parse_email

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "emails" / "amazon"


def fixture(name: str) -> NormalizedMessage:
    return parse_email((FIXTURES / name).read_bytes())


def relay_mail(address: str, name: str = "Ana Pop - Amazon Marketplace", subject: str = "Question", body: str = "Hi") -> bytes:
    return (
        f'From: "{name}" <{address}>\r\nTo: shop@example.com\r\nMessage-ID: <relay-1@example.com>\r\n'
        f"Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


# --- Relay mail -------------------------------------------------------------------------------


def test_spanish_buyer_on_amazon_es():
    message = fixture("es-where-is-my-order.eml")
    assert message.channel == "amazon"
    assert message.marketplace == "amazon.es"
    assert message.customer == CustomerHandle(
        kind="amazon_relay", value="0x1abcd2efgh3ij4k@marketplace.amazon.es", display_name="Juan Pérez"
    )
    assert message.order_reference == "171-1234567-1234567"
    assert message.metadata["asin"] == "B0C1234567"
    assert message.metadata["amazon_relay"] is True
    assert message.subject == "Consulta del cliente Juan Pérez (pedido: 171-1234567-1234567)"
    # The buyer's words, without Amazon's frame and footer; the full text is kept.
    assert message.visible_text == (
        "Hola, buenas tardes:\n\n"
        "Hice el pedido 171-1234567-1234567 hace diez días y todavía no me ha llegado.\n"
        "El seguimiento dice que está en reparto desde el lunes. ¿Podéis decirme qué pasa?\n"
        "Es la funda de móvil (ASIN B0C1234567), color azul.\n\n"
        "Gracias,\nJuan"
    )
    assert message.body_text.startswith("------------- Inicio del mensaje -------------")
    assert "Para responder, contesta a este correo" in message.body_text
    assert message.external_id == "0100018f77a1b2c3-aabbccdd-1111-2222-3333-444455556666-000000@eu-west-1.amazonses.com"
    assert message.is_auto_reply is False


def test_german_buyer_with_encoded_name_and_labelled_asin():
    message = fixture("de-return-request.eml")
    assert (message.channel, message.marketplace) == ("amazon", "amazon.de")
    assert message.customer.kind == "amazon_relay"
    assert message.customer.value == "k9zyx8wvu7@marketplace.amazon.de"
    assert message.customer.display_name == "Max Müller"
    assert message.customer.email == ""  # the relay address is not the buyer's own address
    assert message.order_reference == "302-7654321-7654321"
    assert message.metadata["asin"] == "B08N5WRWNW"
    assert message.subject == "Rücksendung – Bestellung 302-7654321-7654321"
    assert message.visible_text.startswith("Guten Tag,\n\nich möchte die Kopfhörer")
    assert message.visible_text.endswith("Viele Grüße\nMax Müller")
    assert "Kopfh&ouml;rer" in message.body_html


def test_lookalike_sender_stays_plain_email():
    message = fixture("lookalike-domain.eml")
    assert message.channel == "email"
    assert message.customer.kind == "email"
    assert message.customer.value == "buyer-7788@marketplace.amazon.es.evil.example"
    assert message.marketplace == ""
    assert message.order_reference == ""
    assert "asin" not in message.metadata


@pytest.mark.parametrize("tld", MARKETPLACE_TLDS)
def test_every_marketplace_domain_is_recognised(tld: str):
    address = f"xyz123@marketplace.amazon.{tld}"
    assert marketplace_for_address(address) == f"amazon.{tld}"
    message = parse_email(relay_mail(address))
    assert (message.channel, message.marketplace, message.customer.kind) == ("amazon", f"amazon.{tld}", "amazon_relay")
    assert message.customer.value == address
    assert message.customer.display_name == "Ana Pop"


def test_the_marketplace_table_covers_the_21_marketplaces():
    assert len(MARKETPLACE_TLDS) == 21
    assert marketplace_for_address("A@MARKETPLACE.AMAZON.CO.UK") == "amazon.co.uk"
    assert marketplace_for_address("a@marketplace.amazon.com.mx") == "amazon.com.mx"
    assert marketplace_for_address("a@marketplace.amazon.com.be") == "amazon.com.be"


@pytest.mark.parametrize(
    "address",
    [
        "buyer@marketplace.amazon.es.evil.com",
        "buyer@marketplace-amazon.es",
        "buyer@marketplace.amazon.es-evil.com",
        "buyer@evilmarketplace.amazon.es",
        "buyer@fake.marketplace.amazon.es",
        "buyer@marketplace.amazon.xyz",
        "buyer@marketplace.amazon.co",
        "buyer@marketplace.amaz0n.es",
        "buyer@amazon.es",
        "marketplace.amazon.es@evil.com",
        "@marketplace.amazon.es",
        "marketplace.amazon.es",
        "",
    ],
)
def test_lookalike_domains_are_not_relays(address: str):
    assert marketplace_for_address(address) == ""


def test_lookalike_mail_is_not_turned_into_amazon():
    message = parse_email(relay_mail("buyer@marketplace-amazon.es", subject="Pedido 171-1234567-1234567"))
    assert (message.channel, message.customer.kind, message.order_reference) == ("email", "email", "")


def test_apply_amazon_relay_leaves_other_mail_untouched():
    message = NormalizedMessage(
        channel="email", external_id="x@example.com",
        customer=CustomerHandle(kind="email", value="ana@example.com", email="ana@example.com"),
        body_text="Order 171-1234567-1234567",
    )
    assert apply_amazon_relay(message) is message


def test_apply_amazon_relay_keeps_an_order_reference_already_known():
    message = NormalizedMessage(
        channel="email", external_id="x@example.com",
        customer=CustomerHandle(kind="email", value="b@marketplace.amazon.it", email="b@marketplace.amazon.it"),
        body_text="Ordine 403-1111111-2222222",
        order_reference="403-9999999-9999999",
    )
    relayed = apply_amazon_relay(message)
    assert relayed.order_reference == "403-9999999-9999999"
    assert dataclasses.replace(relayed, channel="email") != relayed


def test_order_id_comes_from_the_subject_first():
    message = parse_email(relay_mail(
        "b@marketplace.amazon.fr", subject="Commande 405-1111111-2222222", body="Voir aussi 405-3333333-4444444",
    ))
    assert message.order_reference == "405-1111111-2222222"


def test_order_id_and_asin_patterns():
    assert find_order_id("no order here", "ref: 171-1234567-1234567.") == "171-1234567-1234567"
    assert find_order_id("1171-1234567-1234567 171-1234567-12345678") == ""
    assert find_asin("Producto B0C1234567") == "B0C1234567"
    assert find_asin("asin: 3499626853 (a book)") == "3499626853"
    assert find_asin("B0C123 too short, b0c1234567 lower case") == ""
    assert find_asin("first B0AAAAAAAA", "ASIN: B0BBBBBBBB") == "B0BBBBBBBB"


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("Juan Pérez - Amazon Marketplace", "Juan Pérez"),
        ("John Smith - Amazon", "John Smith"),
        ("Jean Dupont – Amazon Marketplace", "Jean Dupont"),
        ("Max Muster via Amazon.de", "Max Muster"),
        ("Maria Rossi - Marketplace di Amazon", "Maria Rossi"),
        ("Ion Popescu | Amazon.co.uk Marketplace", "Ion Popescu"),
        ("Amazon Marketplace", ""),
        ("Amazonas Ltd", "Amazonas Ltd"),
    ],
)
def test_buyer_name_drops_the_marketplace_suffix(display: str, expected: str):
    assert buyer_name(display) == expected


# --- Replies ----------------------------------------------------------------------------------


def test_a_clean_reply_passes():
    text = (
        "Hola Juan:\n\nTu pedido 171-1234567-1234567 salió ayer con el número de seguimiento "
        "1Z999AA10123456784 y llegará el 16.05.2024. Puedes seguirlo en "
        "https://www.amazon.es/gp/your-account/order-history o en amzn.eu/d/abc123.\n"
        "El producto (ASIN B0C1234567) tiene 2 años de garantía.\n\nUn saludo"
    )
    assert check_amazon_reply(text, [("factura.pdf", "application/pdf"), ("foto.JPG", "image/jpeg")]) == []


def test_links_outside_amazon_are_flagged():
    warnings = check_amazon_reply(
        "Mira https://tienda.example/devoluciones o www.mitienda.com y tienda.es/ofertas", []
    )
    assert warnings == [
        "Amazon does not allow links outside Amazon in messages to buyers: "
        "https://tienda.example/devoluciones, www.mitienda.com, tienda.es/ofertas"
    ]


def test_lookalike_amazon_links_are_flagged():
    warnings = check_amazon_reply("Entra en http://amazon.es.evil.example/login", [])
    assert warnings == [
        "Amazon does not allow links outside Amazon in messages to buyers: http://amazon.es.evil.example/login"
    ]


def test_email_addresses_are_flagged():
    warnings = check_amazon_reply("Escríbenos a soporte@tienda.es", [])
    assert warnings == ["Amazon does not allow email addresses in messages to buyers: soporte@tienda.es"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Llámanos al +34 612 345 678", "+34 612 345 678"),
        ("Sună-ne la 0040 721 234 567", "0040 721 234 567"),
        ("Call (555) 123-4567 any time", "(555) 123-4567"),
        ("Mi teléfono: 612345678", "612345678"),
        ("WhatsApp 612 34 56 78", "612 34 56 78"),
    ],
)
def test_phone_numbers_are_flagged(text: str, number: str):
    assert check_amazon_reply(text, []) == [f"Amazon does not allow phone numbers in messages to buyers: {number}"]


@pytest.mark.parametrize(
    "text",
    [
        "Pedido 171-1234567-1234567",
        "Seguimiento 123456789012",
        "Enviado el 2024-05-14, llega el 16.05.2024",
        "Precio 1.299,00 EUR",
    ],
)
def test_order_ids_tracking_numbers_dates_and_prices_are_not_phone_numbers(text: str):
    assert check_amazon_reply(text, []) == []


def test_forbidden_attachment_types_are_flagged():
    warnings = check_amazon_reply(
        "Adjunto el programa.",
        [("setup.exe", "application/x-msdownload"), ("fotos.zip", "application/zip"), ("manual.pdf", "application/pdf")],
    )
    assert warnings == [
        "Amazon only accepts PDF, JPG, PNG, GIF, TXT, DOC and DOCX attachments; it will refuse: setup.exe, fotos.zip"
    ]


def test_a_file_without_extension_is_flagged():
    assert check_amazon_reply("", [("README", "text/plain")]) == [
        "Amazon only accepts PDF, JPG, PNG, GIF, TXT, DOC and DOCX attachments; it will refuse: README"
    ]


def test_attachments_over_10_mb_in_total_are_flagged():
    attachments = [("a.pdf", "application/pdf"), ("b.pdf", "application/pdf")]
    assert check_amazon_reply("", attachments, total_bytes=10 * 1024 * 1024) == []
    assert check_amazon_reply("", attachments, total_bytes=12 * 1024 * 1024) == [
        "Attachments to Amazon buyers may not exceed 10 MB in total; these are 12.0 MB."
    ]


def test_every_problem_is_reported_at_once():
    warnings = check_amazon_reply(
        "Visit https://shop.example, mail info@shop.example or call +44 20 7946 0958.",
        [("virus.exe", "application/octet-stream")],
        total_bytes=11 * 1024 * 1024,
    )
    assert len(warnings) == 5
