"""Order look-up benchmark: `make bench-orders ORDERS=1000000` (python -m tickets.order_benchmark).

Fills a database of its own (real PostgreSQL, started like `make run` does) with N orders of N/4
customers, then measures what the ticket page and inbound threading do with orders:

- the ticket's linked orders with their lines, shipments and refunds (tickets.views._orders);
- the customer's other orders (tickets.orders.customer_other_orders);
- an inbound message's order reference (tickets.ingest.find_order);
- the customer's orders named in a message (tickets.orders.orders_mentioned).

For each it prints the number of queries, the median and p99 time over R runs, and whether
PostgreSQL's plan reads an index or scans the table. It prints figures and asserts nothing.
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
        cursor.execute("ANALYZE")
    target = Order.objects.order_by("-pk").first()
    OrderLine.objects.create(order=target, title="Mug", quantity=2, unit_price=Decimal("22.45"), total=Decimal("44.90"))
    ticket = actions.create_ticket(store=store, channel="email", customer=target.customer, subject="Where is it?")
    actions.link_order(ticket=ticket, order=target)
    return account, ticket, target


def _measure(label: str, call, runs: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = " ".join(row[0] for row in cursor.fetchall())
            plans.append("seq scan on orders!" if re.search(r"Seq Scan on tickets_order( |$)", plan, re.M) else "indexed")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{label:<44} queries={len(captured.captured_queries):<2} median={statistics.median(times):7.2f} ms "
          f"p99={p99:7.2f} ms  plans: {', '.join(plans)}")


def run(orders: int, runs: int, keep: bool) -> None:
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
        from tickets.orders import customer_other_orders, orders_mentioned
        from tickets.views import _orders

        print(f"filling {orders} orders ...")
        started = time.perf_counter()
        account, ticket, target = _fill(orders)
        print(f"filled in {time.perf_counter() - started:.0f} s")
        customer = target.customer
        _measure("ticket page: linked orders (+lines, ships, refunds)", lambda: _orders(ticket), runs)
        _measure("ticket page: customer's other orders",
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
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.orders, args.runs, args.keep_services)


if __name__ == "__main__":
    main()
