"""The run command, started as a user would: migrate, seed, serve, work, beat, stop on Ctrl-C.

It runs against the suite's PostgreSQL server (a database of its own, `helpdesk_e2e`) and Redis
(a logical database of its own), so it proves the DATABASE_URL / REDIS_URL path of the command.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import redis

from helpdesk.tasks import HEARTBEAT_CACHE_KEY

pytestmark = pytest.mark.e2e

BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def _with_redis_db(url: str, db: int) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "unix":
        # urlunsplit would drop the empty host and write unix:/path, which redis-py refuses.
        return f"unix://{parts.path}?db={db}"
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(predicate, timeout: float, what: str, output: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}; output so far:\n" + "".join(output[-60:]))


@pytest.fixture
def run_command(tmp_path):
    port = _free_port()
    redis_url = _with_redis_db(os.environ["REDIS_URL"], 9)
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": _with_database(os.environ["DATABASE_URL"], "helpdesk_e2e"),
        "REDIS_URL": redis_url,
        "HELPDESK_DATA_DIR": str(tmp_path),
        "HELPDESK_HEARTBEAT_SECONDS": "1",
        "DJANGO_DEBUG": "1",
    }
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_MEDIA_ROOT", "EMAIL_BACKEND"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "helpdesk.devstack", "run", "--port", str(port), "--concurrency", "1"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []

    import threading

    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    yield process, port, redis_url, output
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def test_run_serves_the_demo_with_worker_and_beat_and_stops_on_ctrl_c(run_command):
    process, port, redis_url, output = run_command
    base = f"http://127.0.0.1:{port}"

    _wait_for(lambda: any("Press Ctrl-C" in line for line in output), 240, "the start-up banner", output)
    banner = "".join(output)
    assert f"Helpdesk is running at http://127.0.0.1:{port}/" in banner
    assert "admin" in banner and "password: demo" in banner

    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
        assert response.status == 200
        assert response.read() == b'{"database": "ok", "redis": "ok"}'

    # Beat schedules the heartbeat every second; only a running worker can store it.
    client = redis.Redis.from_url(redis_url)
    _wait_for(
        lambda: any(HEARTBEAT_CACHE_KEY in key.decode() for key in client.keys("*")),
        60, "the beat heartbeat to be processed by the worker", output,
    )

    # A demo login sees a seeded inbox.
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode({"username": "lucia", "password": "demo", "csrfmiddlewaretoken": token}).encode()
    request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"})
    inbox = opener.open(request, timeout=30)
    assert inbox.geturl().startswith(f"{base}/tickets/")
    assert inbox.status == 200

    children = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", banner)]
    assert len(children) == 3  # web, worker, beat

    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    for pid in children:
        _wait_for(lambda pid=pid: not _process_alive(pid), 20, f"child {pid} to exit", output)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/healthz", timeout=3)
