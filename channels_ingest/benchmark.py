"""Ingest benchmark: `make bench-ingest` (python -m channels_ingest.benchmark).

Starts the product as it runs in production shape on this machine (uvicorn web processes and a
Celery worker, real PostgreSQL and Redis) against a fresh database of its own, then posts N
signed events (the generic webhook) over loopback HTTP from S concurrent senders, and prints:

- accepted/s: events answered 2xx per second of sending;
- p50 / p99 acceptance latency: from sending a request to reading its answer;
- threaded/s: events turned into ticket messages per second, from the first send to the last
  message stored.

With `--orders N` the report ends with the order look-up of the ticket page at N orders
(tickets.order_benchmark --panel-only, on a database of its own): p50/p95 and the number of
queries of `tickets.orders.order_panel` for a ticket with one order and one with many.

It prints figures; it asserts nothing (tests assert behaviour, see tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from helpdesk.benchmarking import bench_database_url, connection_params, reset_bench_database

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "helpdesk_bench"
SECRET = "bench-signing-secret"




def _prepare(env: dict[str, str]) -> str:
    """Migrate the bench database and create the account; returns its webhook path."""
    script = (
        "import django; django.setup();"
        "from tickets.models import Store, ChannelAccount;"
        "store = Store.objects.create(name='Bench', slug='bench');"
        "account = ChannelAccount(store=store, channel='marketplace', provider='generic', display_name='bench');"
        f"account.set_secrets({{'signing_secret': {SECRET!r}}}); account.save();"
        "print(account.public_id)"
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    done = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True)
    return f"/hooks/generic/{done.stdout.strip().splitlines()[-1]}/"


def _bodies(count: int) -> list[tuple[bytes, str]]:
    from channels_ingest.adapters.generic.adapter import sign

    bodies = []
    for n in range(count):
        body = json.dumps({
            "id": f"bench-{n}",
            "type": "message.created",
            "message": {
                "id": f"bench-msg-{n}",
                "thread_id": f"bench-conv-{n % (count // 4 or 1)}",
                "customer": {"id": f"buyer-{n % 997}", "name": f"Buyer {n % 997}"},
                "subject": "Where is my order?",
                "text": f"Hello, this is message {n}. My order has not arrived yet.",
            },
        }).encode()
        bodies.append((body, sign(SECRET, body)))
    return bodies


def _send_all(port: int, path: str, bodies: list[tuple[bytes, str]], senders: int) -> tuple[list[float], int, float]:
    """Post every body from `senders` concurrent keep-alive connections; returns the latencies,
    the number refused or failed, and the seconds it took. One event loop drives all senders, so
    the load generator takes little of the machine's CPU from the server it measures."""
    return asyncio.run(_send_all_async(port, path, bodies, senders))


async def _send_all_async(port: int, path: str, bodies, senders: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    failures = 0
    cursor = iter(range(len(bodies)))

    async def sender() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for index in cursor:  # one event loop: the shared iterator needs no lock
            body, signature = bodies[index]
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Helpdesk-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
                ok = 200 <= await _read_response(reader) < 300
            except (OSError, ValueError, asyncio.IncompleteReadError):
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                ok = False
            latencies.append(time.perf_counter() - started)
            failures += 0 if ok else 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return latencies, failures, time.perf_counter() - started


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; returns its status code."""
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return status


def _count_processed(env: dict[str, str]) -> int:
    import psycopg2

    with psycopg2.connect(dbname=DATABASE, **connection_params(env["DATABASE_URL"])) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_message")
        return cursor.fetchone()[0]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, processes: list[subprocess.Popen], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [process.args[2] for process in processes if process.poll() is not None]
        if dead:
            raise SystemExit(f"benchmark stopped: {', '.join(dead)} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark stopped: timed out waiting for {what}")
        time.sleep(interval)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _order_lookup_report(orders: int, runs: int) -> None:
    """The ticket page's order look-up at `orders` orders, from tickets.order_benchmark (its own
    database; the embedded servers started here are shared)."""
    print()
    print(f"order look-up benchmark: filling {orders:,} orders (tickets.order_benchmark)...", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "tickets.order_benchmark", "--orders", str(orders), "--runs", str(runs),
         "--panel-only", "--keep-services"],
        cwd=BASE_DIR, capture_output=True, text=True,
    )
    if done.returncode != 0:
        print(f"  the order look-up benchmark failed:\n{done.stderr[-4000:]}")
        return
    lines = done.stdout.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("order look-up")), len(lines))
    for line in [line for line in lines if line.startswith("filled in")] + lines[start:]:
        print(line if line.startswith("  ") else f"  {line}")


def run(events: int, senders: int, web_workers: int, worker_concurrency: int, separate: bool = False,
        orders: int = 0, order_runs: int = 200) -> None:
    from helpdesk.devstack import Stack, log

    stack = Stack()
    processes: list[subprocess.Popen] = []
    try:
        stack.start_services()
        env = {
            **os.environ,
            "DATABASE_URL": bench_database_url(os.environ["DATABASE_URL"], DATABASE),
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        reset_bench_database(env["DATABASE_URL"], DATABASE)
        path = _prepare(env)
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        port = _free_port()
        logs = Path(os.environ.get("HELPDESK_DATA_DIR", BASE_DIR / ".local")) / "bench"
        logs.mkdir(parents=True, exist_ok=True)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(web_workers), "--lifespan", "off", "--no-access-log", "--log-level", "warning"],
            cwd=BASE_DIR, env=env, start_new_session=True, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT,
        ))
        worker_command = [
            sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--loglevel", "WARNING", "--queues",
            "ingest,default", "--concurrency", str(worker_concurrency), "--without-gossip", "--without-mingle",
        ]
        worker_log = (logs / "worker.log").open("w")
        processes.append(subprocess.Popen(worker_command, cwd=BASE_DIR, env=env, start_new_session=True,
                                          stdout=worker_log, stderr=subprocess.STDOUT))
        bodies = _bodies(events)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(3)  # let the worker connect
        # A short warm-up, not counted, so imports and connections are in place.
        _send_all(port, path, _warmup_bodies(), 4)
        _wait(lambda: _count_processed(env) >= 50, processes, 120, f"the warm-up to be processed (logs in {logs})")
        warm = _count_processed(env)

        if separate:
            # A burst: the events queue up while no worker runs, then the workers drain them.
            worker = processes.pop()
            os.killpg(worker.pid, 15)
            worker.wait(30)
        log(f"posting {events} signed events from {senders} senders...")
        started = time.perf_counter()
        latencies, failures, sending_seconds = _send_all(port, path, bodies, senders)
        if separate:
            processes.append(subprocess.Popen(worker_command, cwd=BASE_DIR, env=env, start_new_session=True,
                                              stdout=worker_log, stderr=subprocess.STDOUT))
            _wait(lambda: _count_processed(env) > warm, processes, 120, f"the workers to start (logs in {logs})")
            started = time.perf_counter()
        already = _count_processed(env) - warm if separate else 0  # threaded before the clock started
        _wait(lambda: _count_processed(env) - warm >= events - failures, processes, 900,
              f"every accepted event to be threaded (logs in {logs})", interval=0.05)
        threaded_seconds = time.perf_counter() - started
        threaded = _count_processed(env) - warm - already

        print()
        print(f"ingest benchmark: {events} events, {senders} senders, {web_workers} web processes, "
              f"{worker_concurrency} worker processes, {os.cpu_count()} cores, "
              + ("accepting first, then threading" if separate else "accepting and threading at once"))
        print(f"  accepted:   {events - failures} ({failures} refused or failed)")
        print(f"  accepted/s: {(events - failures) / sending_seconds:,.0f}")
        print(f"  latency:    p50 {statistics.median(latencies) * 1000:.1f} ms   "
              f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms   max {max(latencies) * 1000:.1f} ms")
        print(f"  threaded:   {threaded} messages in {threaded_seconds:.1f} s = {threaded / threaded_seconds:,.0f}/s"
              + (" (from the first message processed)" if separate else " (from the first send)"))
        if orders:
            _order_lookup_report(orders, order_runs)
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                pass
        for process in processes:
            process.wait(30)
        stack.stop_services()


def _warmup_bodies() -> list[tuple[bytes, str]]:
    from channels_ingest.adapters.generic.adapter import sign

    bodies = []
    for n in range(50):
        body = json.dumps({"id": f"warm-{n}", "type": "message.created", "message": {
            "id": f"warm-{n}", "customer": {"id": "warm"}, "text": "warm-up"}}).encode()
        bodies.append((body, sign(SECRET, body)))
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--separate", action="store_true",
                        help="accept the whole burst with no worker running, then measure the workers draining it")
    parser.add_argument("--orders", type=int, default=0,
                        help="end the report with the ticket page's order look-up at this many orders (0: skip)")
    parser.add_argument("--order-runs", type=int, default=200, help="timed runs of each order look-up")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.events, args.senders, args.web_workers, args.worker_concurrency, args.separate, args.orders,
        args.order_runs)


if __name__ == "__main__":
    main()
