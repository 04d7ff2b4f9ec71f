"""Self-service "where is my order": nothing is shown unless the order number and the email or
postcode on the order both match, every spelling of the number works, guessing is rate-limited in
the real Redis, and tracking links are only ever http(s)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation

from channels_ingest.widget.selfservice import (
    OrderAnswer,
    RateLimited,
    candidate_orders,
    find_order,
    number_candidates,
    safe_tracking_url,
)
from tests.factories import (
    ChannelIdentityFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
)
from tickets.models import Channel, Order, Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return StoreFactory(name="Casa Lumbre", time_zone="Europe/Madrid", default_language="es")


@pytest.fixture
def order(store):
    customer = CustomerFactory(name="Marta Gil", email="Marta.Gil@correo.example")
    order = OrderFactory(
        store=store, customer=customer, number="#1001", external_id="5550001001", status=Order.Status.SHIPPED,
        placed_at=dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC),  # 3 March in Madrid
        shipping_address={"name": "Marta Gil", "address1": "Calle Mayor 1", "zip": "28013", "city": "Madrid"},
        total=Decimal("61.50"),
    )
    OrderLineFactory(order=order, title="Taza de cerámica", quantity=2)
    OrderLineFactory(order=order, title="Plato hondo", quantity=1)
    ShipmentFactory(order=order, carrier="Correos", tracking_number="PK123ES", status=Shipment.Status.IN_TRANSIT,
                    tracking_url="https://www.correos.es/track?n=PK123ES")
    return order


def visitor() -> str:
    return f"visitor-{uuid.uuid4()}"


def test_number_and_email_show_status_items_tracking_and_date(store, order):
    with translation.override("es"):
        answer = find_order(store, "#1001", "marta.gil@correo.example", visitor_key=visitor())

    assert isinstance(answer, OrderAnswer)
    assert answer.order == order
    assert answer.as_dict() == {
        "number": "#1001",
        "placed_on": "2026-03-03",
        "status": "shipped",
        "status_label": "Enviado",
        "items": [{"title": "Taza de cerámica", "quantity": 2}, {"title": "Plato hondo", "quantity": 1}],
        "shipments": [{
            "carrier": "Correos", "status": "in_transit", "status_label": "En tránsito",
            "tracking_number": "PK123ES", "tracking_url": "https://www.correos.es/track?n=PK123ES",
        }],
    }
    assert answer.proof_was_email is True


def test_postcode_matches_whatever_its_case_and_spaces(store):
    order = OrderFactory(store=store, number="#2002", shipping_address={"zip": "SW1A 1AA"})

    for typed in ("SW1A 1AA", "sw1a1aa", " Sw1a-1aa "):
        answer = find_order(store, "2002", typed, visitor_key=visitor())
        assert isinstance(answer, OrderAnswer) and answer.order == order, typed
        assert answer.proof_was_email is False


def test_every_spelling_of_the_number_is_accepted(store, order):
    for typed in ("#1001", "1001", " 1001 ", "# 1001", "5550001001"):
        answer = find_order(store, typed, "28013", visitor_key=visitor())
        assert isinstance(answer, OrderAnswer) and answer.order == order, typed


def test_a_marketplace_order_id_is_accepted_in_any_case(store):
    amazon = OrderFactory(store=store, marketplace=Channel.AMAZON, external_id="402-1234567-7654321",
                          number="402-1234567-7654321", shipping_address={"zip": "08001"})
    ebay = OrderFactory(store=store, marketplace=Channel.EBAY, external_id="12-34567-89012",
                        number="12-34567-89012", shipping_address={"zip": "08002"})
    shop = OrderFactory(store=store, number="SO-2026-A42", shipping_address={"zip": "08003"})

    assert find_order(store, "402-1234567-7654321", "08001", visitor_key=visitor()).order == amazon
    assert find_order(store, "12-34567-89012", "08002", visitor_key=visitor()).order == ebay
    assert find_order(store, "so-2026-a42", "08003", visitor_key=visitor()).order == shop


def test_the_email_may_be_any_address_the_customer_is_known_by(store, order):
    ChannelIdentityFactory(customer=order.customer, value="marta@trabajo.example")

    assert find_order(store, "1001", "MARTA@trabajo.example", visitor_key=visitor()).order == order


@pytest.mark.parametrize("proof", [
    "someone.else@correo.example",  # wrong email
    "28014",  # wrong postcode
    "Calle Mayor 1",  # the street is not a proof
    "",
    "   ",
    "marta.gil@correo",  # the right address cut short
])
def test_nothing_is_shown_without_a_matching_proof(store, order, proof):
    assert find_order(store, "#1001", proof, visitor_key=visitor()) is None


def test_the_right_number_and_email_in_another_store_show_nothing(store, order):
    other_store = StoreFactory(name="Other shop")

    assert find_order(other_store, "#1001", "marta.gil@correo.example", visitor_key=visitor()) is None
    assert find_order(other_store, "1001", "28013", visitor_key=visitor()) is None


def test_an_order_without_a_postcode_is_never_matched_by_an_empty_one(store):
    OrderFactory(store=store, number="#3003", shipping_address={}, customer=None)

    for proof in ("", "-", " ", "@"):
        assert find_order(store, "3003", proof, visitor_key=visitor()) is None


def test_a_too_short_number_is_not_looked_up(store):
    OrderFactory(store=store, number="#12", shipping_address={"zip": "28013"})

    assert number_candidates("#12") == set()
    assert find_order(store, "12", "28013", visitor_key=visitor()) is None


def test_unknown_number_and_wrong_proof_give_the_same_answer_and_cost_the_same(store, order, settings):
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"visitor": (2, 900)}
    unknown, mismatch = visitor(), visitor()

    results_unknown = [find_order(store, "#9999", "28013", visitor_key=unknown) for _ in range(3)]
    results_mismatch = [find_order(store, "#1001", "28099", visitor_key=mismatch) for _ in range(3)]

    assert results_unknown[:2] == results_mismatch[:2] == [None, None]
    assert isinstance(results_unknown[2], RateLimited) and isinstance(results_mismatch[2], RateLimited)


def test_a_success_reads_the_order_in_one_query_and_its_lines_and_shipments_in_two(
    store, order, django_assert_num_queries,
):
    with django_assert_num_queries(3):
        answer = find_order(store, "1001", "28013", visitor_key=visitor())
    assert isinstance(answer, OrderAnswer)
    with django_assert_num_queries(1):
        assert find_order(store, "1001", "99999", visitor_key=visitor()) is None


def test_the_look_up_uses_the_order_indexes(store, order):
    """With a store of many orders, the look-up reads the two indexes, never the whole table."""
    Order.objects.bulk_create(
        Order(store=store, marketplace=Channel.SHOPIFY, external_id=str(9000000 + n), number=f"#{20000 + n}")
        for n in range(5000)
    )
    queryset = candidate_orders(store, number_candidates("1001"))
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_order")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "order_number" in plan and "order_store_external" in plan, plan
    assert "Seq Scan on tickets_order" not in plan, plan


# --- Rate limits (real Redis) ------------------------------------------------------------------


def test_a_visitor_is_stopped_after_five_failures_even_with_the_right_proof(store, order):
    key = visitor()
    for _ in range(5):
        assert find_order(store, "#1001", "00000", visitor_key=key) is None

    limited = find_order(store, "#1001", "28013", visitor_key=key)

    assert isinstance(limited, RateLimited)
    assert 14 * 60 < limited.retry_after <= 15 * 60
    # Another visitor is not affected.
    assert isinstance(find_order(store, "#1001", "28013", visitor_key=visitor()), OrderAnswer)


def test_failures_on_one_order_number_are_capped_across_visitors(store, order, settings):
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"order": (3, 3600)}
    for postcode in ("28001", "28002", "28003"):
        assert find_order(store, "#1001", postcode, visitor_key=visitor()) is None

    # Its other spellings count as the same number; the right postcode is refused too.
    limited = find_order(store, "1001", "28013", visitor_key=visitor())
    assert isinstance(limited, RateLimited) and 3590 < limited.retry_after <= 3600
    # Other orders of the store are still answered.
    other = OrderFactory(store=store, number="#1002", shipping_address={"zip": "28013"})
    assert find_order(store, "#1002", "28013", visitor_key=visitor()).order == other


def test_failures_across_a_store_are_capped(store, order, settings):
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"store": (4, 900)}
    for number in ("#5001", "#5002", "#5003", "#5004"):
        assert find_order(store, number, "28013", visitor_key=visitor()) is None

    assert isinstance(find_order(store, "#1001", "28013", visitor_key=visitor()), RateLimited)
    assert find_order(StoreFactory(), "#1001", "28013", visitor_key=visitor()) is None  # another store


def test_successes_do_not_count_against_the_visitor(store, order, settings):
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"visitor": (2, 900)}
    key = visitor()
    for _ in range(6):
        assert isinstance(find_order(store, "#1001", "28013", visitor_key=key), OrderAnswer)
    assert find_order(store, "#1001", "1", visitor_key=key) is None


def test_the_limit_resets_when_its_window_ends(store, order, settings):
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"visitor": (2, 1)}
    key = visitor()
    assert find_order(store, "#1001", "1", visitor_key=key) is None
    assert find_order(store, "#1001", "2", visitor_key=key) is None
    limited = find_order(store, "#1001", "28013", visitor_key=key)
    assert limited == RateLimited(retry_after=1)

    time.sleep(1.3)

    assert isinstance(find_order(store, "#1001", "28013", visitor_key=key), OrderAnswer)


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_cannot_overshoot_the_limit(settings):
    """Twenty simultaneous failures of one visitor: exactly five are looked up."""
    settings.HELPDESK_WIDGET_LOOKUP_LIMITS = {"visitor": (5, 900)}
    store = StoreFactory()
    key = visitor()
    results: list[object] = []
    barrier = threading.Barrier(20)

    def guess(n: int) -> None:
        try:
            barrier.wait()
            results.append(find_order(store, f"#77{n:02d}", "28013", visitor_key=key))
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result is None for result in results) == 5
    assert sum(isinstance(result, RateLimited) for result in results) == 15


# --- Tracking links ----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "shown"), [
    ("https://www.correos.es/track?n=1", "https://www.correos.es/track?n=1"),
    ("http://tracking.example/1", "http://tracking.example/1"),
    ("HTTPS://Tracking.example/1", "HTTPS://Tracking.example/1"),
    ("javascript:alert(document.cookie)", ""),
    ("JavaScript:alert(1)", ""),
    ("data:text/html,<script>alert(1)</script>", ""),
    ("ftp://files.example/x", ""),
    ("//evil.example/x", ""),
    ("http:///nohost", ""),
    ("https://ok.example/\nSet-Cookie:x", ""),
    ("java\tscript:alert(1)", ""),
    ("", ""),
])
def test_tracking_links_are_only_http_or_https(url, shown):
    assert safe_tracking_url(url) == shown


def test_an_unsafe_tracking_link_is_dropped_from_the_answer_but_the_number_kept(store, order):
    order.shipments.update(tracking_url="javascript:alert(1)")

    answer = find_order(store, "#1001", "28013", visitor_key=visitor())

    assert answer.shipments[0].tracking_url == ""
    assert answer.shipments[0].tracking_number == "PK123ES"


def test_the_answer_holds_no_address_price_or_contact(store, order):
    answer = find_order(store, "#1001", "28013", visitor_key=visitor())
    shown = repr(answer.as_dict())

    for private in ("Calle Mayor", "28013", "61.50", "44.90", "Marta", "correo.example"):
        assert private not in shown


def test_a_postcode_too_short_to_prove_anything_never_matches(store):
    OrderFactory(store=store, number="#4004", shipping_address={"zip": "7"})

    assert find_order(store, "#4004", "7", visitor_key=visitor()) is None
