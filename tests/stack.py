"""Real processes for tests where timing and failure matter: a private Redis that a test may stop,
and the product's own web server, Celery worker and beat, all on the suite's test database.

    with LocalStack(tmp_path) as stack:
        stack.start_web(); stack.start_worker(); stack.start_beat()
        stack.redis.stop(); ...; stack.redis.start()

Tests using it need `@pytest.mark.django_db(transaction=True)` so the processes see their rows.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from django.db import connection

from helpdesk.devstack import EmbeddedRedis

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL of the suite, pointed at the test database pytest-django created."""
    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class LocalStack:
    def __init__(self, directory: Path, **settings: str) -> None:
        self.directory = directory
        self.redis = EmbeddedRedis(directory / "redis")
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.port = free_port()
        self.settings = settings

    def __enter__(self) -> LocalStack:
        self.redis.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.redis.stop(anyone_started=True)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": self.redis.url(0),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self.directory / "celerybeat-schedule"),
            "PYTHONUNBUFFERED": "1",
            **self.settings,
        }

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log_path = self.directory / f"{name}.log"
        self.logs[name] = log_path
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=self.env, stdin=subprocess.DEVNULL,
            stdout=log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    def start_web(self, workers: int = 1) -> None:
        self._spawn("web", [
            sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.port), "--lifespan", "off", "--no-access-log", "--workers", str(workers),
        ])
        wait_until(self._web_answers, timeout=60, what="the web server")

    def _web_answers(self) -> bool:
        if self.processes["web"].poll() is not None:
            raise AssertionError("the web server exited:\n" + self.log("web"))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start_worker(self, queues: str = "default,ingest,outbound,sla,metrics", concurrency: int = 1,
                     name: str = "worker") -> subprocess.Popen:
        process = self._spawn(name, [
            sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--loglevel", "INFO",
            "--queues", queues, "--concurrency", str(concurrency), "--hostname", f"{name}-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ])
        wait_until(lambda: "ready." in self.log(name), timeout=60, what=f"{name} to be ready")
        return process

    def start_beat(self) -> None:
        self._spawn("beat", [
            sys.executable, "-m", "celery", "-A", "helpdesk", "beat", "--loglevel", "INFO",
            "--schedule", str(self.directory / "celerybeat-schedule"),
        ])

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def post(self, path: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
