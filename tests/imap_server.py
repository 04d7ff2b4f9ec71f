"""A real IMAP server for the tests: Debian's Dovecot, started by the tests themselves.

Each server runs in the foreground (`dovecot -F -c <its own config>`) from a temporary directory
that holds its configuration, users, mail, sockets, state and log, so it never touches
/etc/dovecot or /var/run and several can run side by side (one per xdist worker). It listens on
127.0.0.1 only, on a free port, without TLS.

Use it from a test module with `pytest_plugins = ["tests.imap_server"]`:

- `dovecot`: one server for the session (per worker); give each test its own user with
  `dovecot.add_user()` so tests never see each other's mail.
- `dovecot_factory(extra_config=...)`: a server of the test's own, e.g. one that hides a
  capability; stopped at the end of the test.

Dovecot is installed by `make test` (the Makefile's `test-tools` target). Where it is missing the
tests are skipped, except under CI, where they fail.

With `dovecot_factory(tls=True)` the server also speaks TLS (STARTTLS on its port, implicit TLS
on `tls_port`) with a certificate for 127.0.0.1 issued by a throw-away CA (`ca_file`): point
SSL_CERT_FILE at it and the product's own certificate checks pass, unchanged.

The configuration is Dovecot 2.3's (Debian bookworm). Dovecot 2.4 rewrote the configuration
format; with it these tests are skipped (failed under CI) until a 2.4 configuration is added.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
START_TIMEOUT_SECONDS = 15


def dovecot_binary() -> str | None:
    return shutil.which("dovecot", path=SEARCH_PATH)


def dovecot_version(binary: str) -> tuple[int, int]:
    output = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10
    ).stdout
    found = re.match(r"(\d+)\.(\d+)", output.strip())
    return (int(found.group(1)), int(found.group(2))) if found else (2, 3)


def require_dovecot() -> str:
    """The dovecot binary, or skip (fail under CI) with the reason."""
    binary = dovecot_binary()
    if binary is None:
        reason = (
            "Dovecot is not installed (apt-get install dovecot-imapd, or run `make test` as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + ": CI requires the IMAP tests")
        pytest.skip(reason)
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DovecotServer:
    binary: str
    root: Path
    extra_config: str = ""
    tls: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen | None = None
    passwords: dict[str, str] = field(default_factory=dict)

    # --- Life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or start again, on the same port and with the same mail) and wait until the
        server greets."""
        if self.process is not None and self.process.poll() is None:
            return
        attempts = 1 if self.port else 3
        for _attempt in range(attempts):
            if not self.port or attempts > 1:
                self.port = _free_port()
                self.tls_port = _free_port() if self.tls else 0
            self._write_config()
            (self.root / "run" / "master.pid").unlink(missing_ok=True)
            log = open(self.root / "stderr.log", "ab")  # noqa: SIM115 - handed to the child
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            log.close()
            if self._wait_for_greeting():
                return
            self.stop()
        raise RuntimeError(f"Dovecot did not start; its log:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server and its IMAP sessions (clients see their connection drop)."""
        if self.process is None:
            return
        # The whole process group: the master alone leaves running IMAP sessions behind.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        # A master killed mid-way may leave its pid file; a restart would think it still runs.
        (self.root / "run" / "master.pid").unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _wait_for_greeting(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    # --- Configuration -------------------------------------------------------------------------

    def _mail_owner(self) -> tuple[int, int, str]:
        """Who the IMAP sessions run as. Dovecot refuses to serve mail as root, so when the tests
        run as root (CI, containers) the mail belongs to `nobody`; otherwise to the current user,
        and every Dovecot process runs as that user."""
        if os.geteuid() == 0:
            entry = pwd.getpwnam("nobody")
        else:
            entry = pwd.getpwuid(os.geteuid())
        return entry.pw_uid, entry.pw_gid, entry.pw_name

    def _write_config(self) -> None:
        uid, gid, user = self._mail_owner()
        root = self.root
        (root / "mail").mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(root / "mail", uid, gid)
        lines = [
            "protocols = imap",
            f"listen = {self.host}",
            f"base_dir = {root}/run",
            f"state_dir = {root}/state",
            f"instance_name = test-{root.name}",
            f"log_path = {root}/dovecot.log",
            f"info_log_path = {root}/dovecot.log",
            "auth_mechanisms = plain login",
            # Plaintext logins over a connection without TLS: allowed on this loopback-only server.
            "disable_plaintext_auth = no",
            # Tests ask twice in a row with a wrong password; no need to wait between.
            "auth_failure_delay = 0",
            f"mail_location = maildir:{root}/mail/%u",
            f"first_valid_uid = {uid}",
            "passdb {",
            "  driver = passwd-file",
            # One file per user: Dovecot opens a new user's file on first use, whereas an edited
            # shared file may be served from its cache within the same second.
            f"  args = scheme=PLAIN username_format=%u {root}/users/%u",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={uid} gid={gid} home={root}/mail/%u",
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            f"    address = {self.host}",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            f"    address = {self.host}",
            f"    port = {self.tls_port}",
            "  }",
            "}",
        ]
        if self.tls:
            cert_file, key_file = self._certificate()
            lines += [
                "ssl = yes",
                f"ssl_cert = <{cert_file}",
                f"ssl_key = <{key_file}",
                "ssl_min_protocol = TLSv1.2",
            ]
        else:
            lines.append("ssl = no")
        if os.geteuid() != 0:
            # Unprivileged: every process runs as us and nothing can chroot.
            lines += [
                f"default_login_user = {user}",
                f"default_internal_user = {user}",
                f"default_internal_group = {grp.getgrgid(gid).gr_name}",
                "service imap-login {",
                "  chroot =",
                "}",
                "service anvil {",
                "  chroot =",
                "}",
            ]
        lines.append(self.extra_config)
        (root / "dovecot.conf").write_text("\n".join(lines) + "\n")
        self._write_passwd()

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    def _certificate(self) -> tuple[Path, Path]:
        """A server certificate for 127.0.0.1 and localhost, issued by a CA made for this server."""
        directory = self.root / "tls"
        cert_file, key_file = directory / "server.pem", directory / "server.key"
        if not cert_file.exists():
            directory.mkdir(exist_ok=True)
            ca_pem, cert_pem, key_pem = make_certificates(self.host)
            self.ca_file.write_bytes(ca_pem)
            cert_file.write_bytes(cert_pem)
            key_file.write_bytes(key_pem)
            key_file.chmod(0o600)
        return cert_file, key_file

    def _write_passwd(self) -> None:
        users = self.root / "users"
        users.mkdir(exist_ok=True)
        users.chmod(0o755)
        for name, password in self.passwords.items():
            path = users / name
            if not path.exists():
                path.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
                path.chmod(0o644)

    # --- Users and mail ------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> tuple[str, str]:
        """A new mailbox; returns (user name, password)."""
        name = name or f"user-{secrets.token_hex(4)}"
        password = password or secrets.token_urlsafe(12)
        self.passwords[name] = password
        self._write_passwd()
        return name, password

    @contextmanager
    def client(self, user: str) -> Iterator[imaplib.IMAP4]:
        connection = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            password = self.passwords[user]
            if password.isascii():
                connection.login(user, password)
            else:  # LOGIN is ASCII only
                credentials = f"\0{user}\0{password}".encode()
                connection.authenticate("PLAIN", lambda _challenge: credentials)
            yield connection
        finally:
            try:
                connection.logout()
            except (OSError, imaplib.IMAP4.error):
                pass

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver one message into a folder (created when missing); returns its UID."""
        with self.client(user) as connection:
            mailbox = _quote(folder)
            connection.create(mailbox)  # "already exists" is fine
            typ, data = connection.append(mailbox, None, None, raw)
            assert typ == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            return int(found.group(1)) if found else 0

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with self.client(user) as connection:
            typ, data = connection.select(_quote(folder), readonly=True)
            if typ != "OK":
                return []
            typ, data = connection.uid("SEARCH", "ALL")
            return [int(uid) for uid in data[0].split()]

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as connection:
            typ, data = connection.status(_quote(folder), "(UIDVALIDITY)")
            return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))

    def recreate_folder(self, user: str, folder: str) -> None:
        """Delete and create the folder again: the server gives it a new UIDVALIDITY."""
        with self.client(user) as connection:
            typ, data = connection.delete(_quote(folder))
            assert typ == "OK", data
            typ, data = connection.create(_quote(folder))
            assert typ == "OK", data

    def seen_flags(self, user: str, folder: str = "INBOX") -> dict[int, bool]:
        with self.client(user) as connection:
            connection.select(_quote(folder), readonly=True)
            typ, data = connection.uid("FETCH", "1:*", "(UID FLAGS)")
            flags = {}
            for line in data:
                if isinstance(line, bytes):
                    uid = int(re.search(rb"UID (\d+)", line).group(1))
                    flags[uid] = b"\\Seen" in line
            return flags

    def message_file(self, user: str, folder: str, uid: int) -> Path:
        """The maildir file of one message (to damage it on purpose)."""
        maildir = self.root / "mail" / user
        if folder != "INBOX":
            maildir = maildir / f".{folder}"
        # dovecot-uidlist: a header line, then "<uid> [extensions] :<file name>" per message.
        for line in (maildir / "dovecot-uidlist").read_text().splitlines()[1:]:
            number, _, rest = line.partition(" ")
            if int(number) == uid:
                base = rest[rest.index(":") + 1 :]
                for sub in ("cur", "new"):
                    for path in (maildir / sub).glob(base + "*"):
                        return path
        raise FileNotFoundError(f"no maildir file for UID {uid} of {user}/{folder}")


def make_certificates(ip_address: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key), PEM: a CA as real as the public ones,
    so the client's verification runs exactly as it does in production."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Helpdesk test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(ip_address))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM),
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _quote(folder: str) -> str:
    from channels_ingest.adapters.imap.mailbox_names import quote_mailbox

    return quote_mailbox(folder)


def _new_server(binary: str, extra_config: str = "", tls: bool = False) -> DovecotServer:
    # Short path under /tmp: Dovecot's Unix sockets live in it and socket paths are limited to 108
    # bytes. World-traversable (0711) so the unprivileged mail processes reach their maildirs.
    root = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp" if os.path.isdir("/tmp") else None))
    root.chmod(0o711)
    server = DovecotServer(binary=binary, root=root, extra_config=extra_config, tls=tls)
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


@pytest.fixture(scope="session")
def _dovecot_session() -> Iterator[DovecotServer]:
    server = _new_server(require_dovecot())
    yield server
    server.destroy()


@pytest.fixture
def dovecot(_dovecot_session: DovecotServer) -> Iterator[DovecotServer]:
    """The session's Dovecot, running (a test that stopped it gets it started again after)."""
    _dovecot_session.start()
    yield _dovecot_session
    _dovecot_session.start()


@pytest.fixture
def dovecot_factory() -> Iterator[Callable[..., DovecotServer]]:
    binary = require_dovecot()
    servers: list[DovecotServer] = []

    def make(extra_config: str = "", tls: bool = False) -> DovecotServer:
        server = _new_server(binary, extra_config, tls)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.destroy()
