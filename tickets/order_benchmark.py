"""Order look-up benchmark: `make bench-orders ORDERS=1000000` (python -m tickets.order_benchmark).

Fills a database of its own (real PostgreSQL, started like `make run` does) with N orders of N/4
customers, then measures what the ticket page and inbound threading do with orders:

- the ticket page's order panel (tickets.orders.order_panel: linked orders with their lines,
  shipments and refunds, the customer's other orders and lifetime spend), for a ticket with one
  order of one line and for one with many orders of many lines;
- the look-up it replaced (tickets.views._orders and tickets.orders.customer_other_orders);
- an inbound message's order reference (tickets.ingest.find_order);
- the customer's orders named in a message (tickets.orders.orders_mentioned).

For each it prints the number of queries, the p50, p95 and p99 time over R runs, and whether
PostgreSQL's plan reads an index or scans an order table. It prints figures and asserts nothing.
`--panel-only` prints the order panel's figures alone (the ingest benchmark's report uses it).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from helpdesk.benchmarking import bench_database_url, reset_bench_database

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "helpdesk_bench_orders"




def _fill(orders: int) -> tuple:
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from tickets import actions
    from tickets.models import ChannelAccount, Customer, Order, OrderLine, Store

    store = Store.objects.create(name="Bench", slug="bench", currency="USD")
    account = ChannelAccount.objects.create(store=store, channel="shopify", provider="shopify", display_name="bench")
    customers = max(orders // 4, 1)
    batch = 20_000
    for start in range(0, customers, batch):
        Customer.objects.bulk_create(
            Customer(name=f"Customer {n}", email=f"c{n}@example.com") for n in range(start, min(start + batch, customers))
        )
    first_customer = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    now = timezone.now()
    for start in range(0, orders, batch):
        Order.objects.bulk_create(
            Order(
                store=store, channel_account=account, customer_id=first_customer + (n % customers),
                marketplace="shopify", external_id=str(820982911946154508 + n), number=f"#{1000 + n}",
                status="paid", currency="USD", total=Decimal("49.90"), subtotal=Decimal("44.90"),
                shipping_total=Decimal("5.00"), placed_at=now, payment_status="paid",
            )
            for n in range(start, min(start + batch, orders))
        )
        print(f"  {min(start + batch, orders)} orders", end="\r", flush=True)
    print()
    with connection.cursor() as cursor:
        # Every order has a line; every other one a shipment; one in ten a refund: the child
        # tables grow with the orders, as they do in a real shop.
        cursor.execute("""INSERT INTO tickets_orderline (order_id, external_id, sku, title, quantity, unit_price, total)
                          SELECT id, '', 'SKU-' || (id % 500), 'Item ' || (id % 500), 1, 44.90, 44.90
                          FROM tickets_order""")
        cursor.execute("""INSERT INTO tickets_shipment (order_id, external_id, carrier, tracking_number, tracking_url,
                                                        status, shipped_at, delivered_at)
                          SELECT id, '', 'DHL', 'JD' || id, '', 'in_transit', placed_at, NULL
                          FROM tickets_order WHERE id % 2 = 0""")
        cursor.execute("""INSERT INTO tickets_refund (order_id, external_id, amount, currency, reason, lines, created_at)
                          SELECT id, 'r' || id, 5.00, 'USD', '', '[]', placed_at FROM tickets_order WHERE id % 10 = 0""")
        cursor.execute("ANALYZE")
    target = Order.objects.order_by("-pk").first()
    OrderLine.objects.create(order=target, title="Mug", quantity=2, unit_price=Decimal("22.45"), total=Decimal("44.90"))
    ticket = actions.create_ticket(store=store, channel="email", customer=target.customer, subject="Where is it?")
    actions.link_order(ticket=ticket, order=target)
    busy_ticket = _busy_customer(store, account, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return account, ticket, target, busy_ticket


# A customer with many orders, many of them linked to one ticket, each with many lines,
# shipments and refunds: the order panel's worst case.
BUSY_ORDERS, BUSY_LINKED, BUSY_LINES = 120, 25, 10


def _busy_customer(store, account, now):
    from datetime import timedelta
    from decimal import Decimal

    from tickets import actions
    from tickets.models import Customer, Order, OrderLine, Refund, Shipment

    customer = Customer.objects.create(name="Busy buyer", email="busy@example.com")
    orders = Order.objects.bulk_create(
        Order(store=store, channel_account=account, customer=customer, marketplace="shopify",
              external_id=f"busy-{n}", number=f"#B{n}", status="shipped", currency="USD", total=Decimal("99.50"),
              subtotal=Decimal("94.50"), shipping_total=Decimal("5.00"), placed_at=now - timedelta(hours=n),
              payment_status="paid", shipping_address={"name": "Busy buyer", "city": "Madrid", "country_code": "ES"})
        for n in range(BUSY_ORDERS)
    )
    linked = orders[:BUSY_LINKED]
    OrderLine.objects.bulk_create(
        OrderLine(order=order, sku=f"SKU-{m}", title=f"Item {m}", quantity=m + 1, unit_price=Decimal("9.45"),
                  total=Decimal("9.45") * (m + 1))
        for order in linked for m in range(BUSY_LINES)
    )
    Shipment.objects.bulk_create(
        Shipment(order=order, carrier="DHL", tracking_number=f"JD{order.pk}{m}", status="in_transit",
                 tracking_url=f"https://www.dhl.com/track?id=JD{order.pk}{m}")
        for order in linked for m in range(2)
    )
    Refund.objects.bulk_create(Refund(order=order, external_id=f"r{order.pk}", amount=Decimal("5.00"), currency="USD")
                               for order in linked)
    ticket = actions.create_ticket(store=store, channel="email", customer=customer, subject="All my orders")
    for order in linked:
        actions.link_order(ticket=ticket, order=order)
    return ticket


# Order tables whose sequential scan would grow with the number of orders.
SCANNED = re.compile(r"Seq Scan on (tickets_order|tickets_orderline|tickets_shipment|tickets_refund|"
                     r"tickets_ticket_orders)( |$)", re.M)


def _large_tables() -> set[str]:
    """Order tables with more than 10,000 rows: a sequential scan of a smaller one is the planner's
    right choice, not a missing index."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname = ANY(%s) AND reltuples > 10000",
                       [["tickets_order", "tickets_orderline", "tickets_shipment", "tickets_refund",
                         "tickets_ticket_orders"]])
        return {row[0] for row in cursor.fetchall()}


def _percentile(times: list[float], fraction: float) -> float:
    return times[min(len(times) - 1, int(len(times) * fraction))]


def _measure(label: str, call, runs: int) -> dict:
    """Run `call` once to capture its queries and their plans, then `runs` times to time it;
    prints one line and returns the figures."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            scanned = sorted({match.group(1) for match in SCANNED.finditer(plan)} & _large_tables())
            plans.append(f"seq scan on {'+'.join(scanned)}!" if scanned else "indexed")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    figures = {"queries": len(captured.captured_queries), "p50": statistics.median(times),
               "p95": _percentile(times, 0.95), "p99": _percentile(times, 0.99), "plans": plans}
    print(f"  {label:<56} queries={figures['queries']:<2} p50={figures['p50']:7.2f} ms "
          f"p95={figures['p95']:7.2f} ms p99={figures['p99']:7.2f} ms  plans: {', '.join(plans)}")
    return figures


def measure_panel(ticket, busy_ticket, runs: int) -> None:
    """The ticket page's order look-up (tickets.orders.order_panel) at this database's scale."""
    from tickets.orders import order_panel

    _measure("order panel: 1 linked order, 1 line", lambda: order_panel(ticket), runs)
    _measure(f"order panel: {BUSY_LINKED} linked orders x {BUSY_LINES} lines, {BUSY_ORDERS} orders",
             lambda: order_panel(busy_ticket), runs)


def run(orders: int, runs: int, keep: bool, panel_only: bool = False) -> None:
    from helpdesk.devstack import Stack

    stack = Stack()
    try:
        stack.start_services()
        url = bench_database_url(os.environ["DATABASE_URL"], DATABASE)
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SECRET_KEY": "bench-only", "LOG_LEVEL": "WARNING"}
        reset_bench_database(url, DATABASE)
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
        os.environ["DATABASE_URL"] = url
        import django

        django.setup()
        from tickets.ingest import find_order
        from tickets.orders import customer_other_orders, linked_order_views, orders_mentioned

        print(f"filling {orders} orders ...")
        started = time.perf_counter()
        account, ticket, target, busy_ticket = _fill(orders)
        print(f"filled in {time.perf_counter() - started:.0f} s")
        print(f"order look-up of the ticket page at {orders:,} orders ({runs} runs each):")
        measure_panel(ticket, busy_ticket, runs)
        if panel_only:
            return
        customer = target.customer
        _measure("order panel, 1st query: linked orders, lines, ships, refunds", lambda: linked_order_views(ticket),
                 runs)
        _measure("customer's other orders alone (customer_other_orders)",
                 lambda: customer_other_orders(customer, exclude=[target.pk]), runs)
        _measure("inbound: order reference by number", lambda: find_order(account=account, reference=target.number), runs)
        _measure("inbound: order reference by shop id",
                 lambda: find_order(account=account, reference=target.external_id), runs)
        _measure("inbound: customer's orders named in text",
                 lambda: orders_mentioned(customer=customer, store=account.store, text=f"where is {target.number}?"),
                 runs)
    finally:
        if not keep:
            stack.stop_services()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep-services", action="store_true")
    parser.add_argument("--panel-only", action="store_true", help="measure only the ticket page's order panel")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.orders, args.runs, args.keep_services, args.panel_only)


if __name__ == "__main__":
    main()
