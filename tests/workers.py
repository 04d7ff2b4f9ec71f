"""A real Celery worker for the tests that need one, on queues no other test run can see.

    from tests.workers import celery_worker_process  # noqa: F401  (makes the fixture available)

    @pytest.mark.django_db(transaction=True)       # the worker only sees committed rows
    def test_reply_is_sent(celery_worker_process):
        celery_worker_process(queues=("outbound",), include=("channels_ingest.outbound_tasks",))
        ...  # tasks this test process routes to "outbound" now reach that worker

The worker is `python -m celery -A helpdesk worker`, as in production, run against this test's
database (the name pytest-django gave it, per xdist process too) and the suite's Redis. Several
test runs share that Redis, and some of them run workers of their own on the real queue names; so
each queue asked for gets a name of its own (`test-<token>-outbound`), the worker consumes those,
and this process routes tasks there until the test ends. `isolated_queues` does only the routing,
for tests that inspect what was enqueued without running it (see `queued_task_calls`).

The worker imports this module too (`--include`): there it routes the tasks it sends itself to the
same isolated queues, and registers the extra channel adapters given as
`adapters={"slug": "dotted.path.Adapter"}` (test adapters defined in a test module), since the
worker does not share this process's monkeypatched registry.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery

BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
# Set only in the worker processes started here, which import this module (--include) and read
# them: the queue names, so that tasks the worker itself sends stay on the isolated queues, and
# the extra adapters.
QUEUES_ENVIRONMENT_VARIABLE = "HELPDESK_TEST_WORKER_QUEUES"
ADAPTERS_ENVIRONMENT_VARIABLE = "HELPDESK_TEST_WORKER_ADAPTERS"


def _configure_test_worker() -> None:
    queues = os.environ.get(QUEUES_ENVIRONMENT_VARIABLE)
    if queues:
        from helpdesk.celery import app

        _route_to(app, json.loads(queues))
    adapters = os.environ.get(ADAPTERS_ENVIRONMENT_VARIABLE)
    if adapters:
        from channels_ingest import registry

        registry.ADAPTERS.update(json.loads(adapters))
        registry.get_adapter.cache_clear()


def _route_to(app: Celery, names: Mapping[str, str]) -> None:
    """Point the product's routes (settings.CELERY_TASK_ROUTES) and default queue at `names`."""
    from django.conf import settings

    routes = {
        pattern: {**route, "queue": names[route["queue"]]} if route.get("queue") in names else route
        for pattern, route in settings.CELERY_TASK_ROUTES.items()
    }
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    # conf.update() tells Celery's router to read the routes again.
    app.conf.update(task_routes=routes, task_default_queue=names.get(default, default))


_configure_test_worker()


def database_url_for_test() -> str:
    """The URL of the database this test runs against (pytest-django's renamed test database)."""
    from django.db import connection

    params = connection.settings_dict
    name = urllib.parse.quote(params["NAME"], safe="")
    configured = os.environ.get("DATABASE_URL")
    if configured:
        # The same server, user and options; only the database differs.
        return urllib.parse.urlunsplit(urllib.parse.urlsplit(configured)._replace(path=f"/{name}"))
    user = urllib.parse.quote(params.get("USER") or "", safe="")
    password = urllib.parse.quote(str(params.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = urllib.parse.quote(params.get("HOST") or "localhost", safe="")  # a socket directory too
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"postgresql://{credentials}{host}{port}/{name}"


@contextmanager
def isolated_queues(queues: Sequence[str]) -> Iterator[dict[str, str]]:
    """Route this process's tasks for `queues` (names from CELERY_TASK_QUEUES_NAMES) to queues of
    their own until the block ends; yields {queue: isolated name}. The broker keys of the isolated
    queues are deleted at the end."""
    from helpdesk.celery import app

    token = uuid.uuid4().hex[:12]
    names = {queue: f"test-{token}-{queue}" for queue in queues}
    original_routes = app.conf.task_routes
    original_default = app.conf.task_default_queue
    _route_to(app, names)
    try:
        yield names
    finally:
        app.conf.update(task_routes=original_routes, task_default_queue=original_default)
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            for name in names.values():
                try:
                    channel.queue_delete(name)
                except Exception:  # nothing was ever declared under that name
                    pass


def queued_task_calls(queue: str) -> list[tuple[str, list]]:
    """(task name, args) of every task message waiting in `queue` on the Redis broker, oldest first."""
    from helpdesk.celery import app

    calls: list[tuple[str, list]] = []
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        # Kombu's Redis transport LPUSHes, so the oldest message is last.
        for raw in reversed(client.lrange(queue, 0, -1)):
            envelope = json.loads(raw)
            body = envelope["body"]
            if envelope["properties"].get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, _kwargs, _embed = json.loads(body)
            calls.append((envelope["headers"]["task"], args))
    return calls


@dataclass
class CeleryWorker:
    process: subprocess.Popen
    queues: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: the current task finishes
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_until_ready(worker: CeleryWorker) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {worker.process.returncode}:\n{worker.log()[-5000:]}")
        if " ready." in worker.log():
            return
        time.sleep(0.1)
    worker.stop()
    pytest.fail(f"the Celery worker was not ready within {READY_TIMEOUT_SECONDS} s:\n{worker.log()[-5000:]}")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path_factory) -> Iterator[Callable[..., CeleryWorker]]:
    """A function that starts a real Celery worker: `celery_worker_process(queues=("outbound",),
    include=("channels_ingest.outbound_tasks",), adapters={...}, env={...})`.

    - `queues`: which of the product's queues it serves (isolated, see the module docstring);
    - `include`: task modules to import besides those Celery's autodiscovery finds;
    - `adapters`: extra channel adapters {slug: dotted path} to register in the worker;
    - `env`: extra environment variables for the worker.
    It returns once the worker is ready; every worker is stopped, and the routes restored, when
    the test ends. Needs a transactional test: the worker sees only committed rows.
    """
    with ExitStack() as stack:

        def start(
            queues: Sequence[str] = ("default",),
            include: Sequence[str] = (),
            adapters: Mapping[str, str] | None = None,
            env: Mapping[str, str] | None = None,
        ) -> CeleryWorker:
            names = stack.enter_context(isolated_queues(queues))
            log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
            environment = {
                **os.environ,
                "DATABASE_URL": database_url_for_test(),
                "PYTHONUNBUFFERED": "1",
                QUEUES_ENVIRONMENT_VARIABLE: json.dumps(names),
                ADAPTERS_ENVIRONMENT_VARIABLE: json.dumps(dict(adapters or {})),
                **(env or {}),
            }
            modules = [*include, "tests.workers"]
            command = [
                sys.executable, "-m", "celery", "-A", "helpdesk", "worker",
                "--queues", ",".join(names.values()),
                "--pool", "solo", "--concurrency", "1", "--loglevel", "INFO",
                "--hostname", f"{next(iter(names.values()))}@%h",
                # Other workers share this broker: no syncing or gossiping with them.
                "--without-mingle", "--without-gossip",
            ]
            command += ["--include", ",".join(modules)]
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    command, cwd=BASE_DIR, env=environment, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT,
                )
            worker = CeleryWorker(process=process, queues=names, log_path=log_path)
            # Registered after the routes: the worker stops before its queues are deleted.
            stack.callback(worker.stop)
            _wait_until_ready(worker)
            return worker

        yield start
