"""IMAP polling against a real Dovecot on loopback (see tests/imap_server.py): every message is
stored exactly once, whatever the server or the network does between two polls."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.cache import cache

from channels_ingest.actions import process_event, reprocess_events
from channels_ingest.adapters.imap import poller, tasks
from channels_ingest.adapters.imap.mailbox_names import encode_mailbox_name
from channels_ingest.adapters.imap.poller import (
    FETCH_ATTEMPTS,
    TOO_LARGE_ERROR,
    message_event_id,
    poll_mailbox,
)
from channels_ingest.models import InboundEvent, MailboxCursor
from tests.factories import ChannelAccountFactory
from tickets.models import Channel, ChannelAccount, Message

if TYPE_CHECKING:
    from tests.imap_server import DovecotServer

# The Dovecot fixtures; imported as a plugin (not a module) so pytest rewrites its asserts.
pytest_plugins = ["tests.imap_server"]

pytestmark = pytest.mark.django_db

# The shared corpus sits beside the repository (../shared/corpus), in CI as on a developer machine.
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"
OWN = Path(__file__).resolve().parent / "fixtures" / "emails" / "imap"

# Real mail from the corpus, each with its own Message-ID, and one of ours without any.
QUOTED_REPLY = CORPUS / "chatwoot-mail-with-quote.eml"
QUOTED_PRINTABLE = CORPUS / "django-helpdesk-quoted-printable.eml"
OUTLOOK_1252 = CORPUS / "hunnysoft-m0010-outlook-windows-1252.eml"
KOI8 = CORPUS / "thunderbird-sample04-koi8-r.eml"
IPHONE = CORPUS / "flanker-iphone.eml"  # 15 kB: the "huge" one when the limit is 10 kB
QUESTION = OWN / "order-question.eml"
FOLLOW_UP = OWN / "order-question-follow-up.eml"
NO_MESSAGE_ID = OWN / "no-message-id.eml"


def make_account(
    server: DovecotServer,
    user: str | None = None,
    *,
    password: str | None = None,
    **options: object,
) -> ChannelAccount:
    """An IMAP mailbox on `server` (a new user unless given), as an admin would configure it."""
    if user is None:
        user, _ = server.add_user()
    settings = {
        "address": "support@shop.example",
        "imap_host": server.host,
        "imap_port": server.port,
        "imap_security": "none",
        "imap_folders": ["INBOX"],
        "imap_move_to": "",
        "imap_batch": 50,
        **options,
    }
    account = ChannelAccountFactory(provider="imap", channel=Channel.EMAIL, settings=settings)
    account.set_secrets(
        {"imap_username": user, "imap_password": password or server.passwords[user]}
    )
    account.save()
    return account


def user_of(account: ChannelAccount) -> str:
    return account.get_secrets()["imap_username"]


def deliver(
    server: DovecotServer, account: ChannelAccount, *paths: Path, folder: str = "INBOX"
) -> list[int]:
    return [server.append(user_of(account), path.read_bytes(), folder) for path in paths]


def stored_events(account: ChannelAccount) -> list[InboundEvent]:
    return list(InboundEvent.objects.filter(account=account, provider="imap").order_by("pk"))


def expected_event_id(path: Path) -> str:
    """What the poller must use as the event id of this file once it came through IMAP."""
    for line in path.read_bytes().splitlines():
        if line.lower().startswith(b"message-id:"):
            return "msgid:" + line.split(b":", 1)[1].strip().decode()
        if not line.strip():
            break
    return "sha256:" + hashlib.sha256(as_delivered(path)).hexdigest()


def as_delivered(path: Path) -> bytes:
    """The message as the server hands it back: imaplib's APPEND sends CRLF line ends."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", path.read_bytes())


# --- Reading each message once ---------------------------------------------------------------


def test_nothing_is_read_twice_across_two_polls(dovecot):
    account = make_account(dovecot)
    uids = deliver(dovecot, account, QUOTED_REPLY, QUOTED_PRINTABLE, NO_MESSAGE_ID)

    first = poll_mailbox(account)
    second = poll_mailbox(account)

    assert first.ok and first.stored == 3
    assert second.ok and second.stored == 0 and second.folders[0].duplicates == 0
    events = stored_events(account)
    assert [event.event_id for event in events] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(QUOTED_PRINTABLE),
        expected_event_id(NO_MESSAGE_ID),
    ]
    assert events[0].headers == {
        "imap-folder": "INBOX",
        "imap-uid": str(uids[0]),
        "imap-uidvalidity": str(dovecot.uidvalidity(user_of(account))),
    }
    assert [event.body_bytes for event in events] == [
        as_delivered(QUOTED_REPLY),
        as_delivered(QUOTED_PRINTABLE),
        as_delivered(NO_MESSAGE_ID),
    ]
    assert {event.state for event in events} == {InboundEvent.State.PENDING}
    cursor = MailboxCursor.objects.get(account=account, folder="INBOX")
    assert (cursor.uidvalidity, cursor.last_uid, cursor.last_error) == (
        dovecot.uidvalidity(user_of(account)),
        uids[-1],
        "",
    )
    assert cursor.last_polled_at is not None
    account.refresh_from_db()
    assert account.last_error == "" and account.last_sync_at is not None
    # Polling reads with BODY.PEEK on a read-only session: the mailbox is left as it was.
    assert dovecot.seen_flags(user_of(account)) == dict.fromkeys(uids, False)
    assert dovecot.uids(user_of(account)) == uids


def test_mail_arriving_after_a_poll_is_read_by_the_next(dovecot):
    account = make_account(dovecot)
    deliver(dovecot, account, QUOTED_REPLY)
    poll_mailbox(account)

    later = deliver(dovecot, account, OUTLOOK_1252, KOI8)
    result = poll_mailbox(account)

    assert result.stored == 2
    assert [event.event_id for event in stored_events(account)] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(OUTLOOK_1252),
        expected_event_id(KOI8),
    ]
    assert [event.headers["imap-uid"] for event in stored_events(account)[1:]] == [
        str(uid) for uid in later
    ]
    assert MailboxCursor.objects.get(account=account).last_uid == later[-1]


def test_each_poll_reads_at_most_one_batch(dovecot):
    account = make_account(dovecot, imap_batch=2)
    deliver(dovecot, account, QUOTED_REPLY, QUOTED_PRINTABLE, OUTLOOK_1252, KOI8, NO_MESSAGE_ID)

    results = [poll_mailbox(account) for _ in range(4)]

    assert [(r.stored, r.more) for r in results] == [(2, True), (2, True), (1, False), (0, False)]
    assert len(stored_events(account)) == 5


def test_a_changed_uidvalidity_reads_the_folder_again_without_duplicates(dovecot):
    account = make_account(dovecot, imap_folders=["Orders"])
    user = user_of(account)
    deliver(dovecot, account, QUOTED_REPLY, NO_MESSAGE_ID, folder="Orders")
    poll_mailbox(account)
    old_validity = MailboxCursor.objects.get(account=account).uidvalidity

    # The folder is rebuilt on the server (a migration, a restore): the same mail comes back under
    # new UIDs and a new UIDVALIDITY, with one new message among it.
    dovecot.recreate_folder(user, "Orders")
    deliver(dovecot, account, QUOTED_REPLY, NO_MESSAGE_ID, KOI8, folder="Orders")
    result = poll_mailbox(account)

    folder = result.folders[0]
    assert folder.restarted is True
    assert (folder.stored, folder.duplicates) == (1, 2)
    assert [event.event_id for event in stored_events(account)] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(NO_MESSAGE_ID),
        expected_event_id(KOI8),
    ]
    cursor = MailboxCursor.objects.get(account=account, folder="Orders")
    assert cursor.uidvalidity == dovecot.uidvalidity(user, "Orders") != old_validity
    assert cursor.last_uid == max(dovecot.uids(user, "Orders"))


def test_a_large_folder_is_searched_in_windows_and_resumed(dovecot, monkeypatch):
    # Tiny windows stand in for a folder of hundreds of thousands of UIDs.
    monkeypatch.setattr(poller, "SEARCH_WINDOW", 2)
    monkeypatch.setattr(poller, "MAX_SEARCH_WINDOWS", 1)
    account = make_account(dovecot)
    uids = deliver(
        dovecot, account, QUOTED_REPLY, QUOTED_PRINTABLE, OUTLOOK_1252, KOI8, NO_MESSAGE_ID
    )

    results = [poll_mailbox(account) for _ in range(4)]

    assert [(r.stored, r.more) for r in results] == [(2, True), (2, True), (1, False), (0, False)]
    assert [e.headers["imap-uid"] for e in stored_events(account)] == [str(uid) for uid in uids]


# --- Encryption ------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_mail_is_read_over_a_verified_tls_connection(dovecot_factory, monkeypatch, security):
    server = dovecot_factory(tls=True)
    # The server's CA becomes the trusted one; the product's certificate checks run unchanged.
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    port = server.tls_port if security == "ssl" else server.port
    account = make_account(server, imap_security=security, imap_port=port)
    deliver(server, account, QUOTED_REPLY)

    result = poll_mailbox(account)

    assert result.ok and result.stored == 1
    # Dovecot's own record of the session: logged in over TLS.
    assert re.search(rf"Login: user=<{user_of(account)}>, .*\bTLS\b", server.log_tail())


def test_a_server_certificate_that_is_not_trusted_is_refused(dovecot_factory, monkeypatch):
    server = dovecot_factory(tls=True)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    account = make_account(server, imap_security="ssl", imap_port=server.tls_port)
    deliver(server, account, QUOTED_REPLY)

    result = poll_mailbox(account)

    assert result.error.startswith(
        f"cannot connect to 127.0.0.1:{server.tls_port}: the server's TLS certificate is not trusted"
    )
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    account.refresh_from_db()
    assert account.last_error == result.error
    assert not InboundEvent.objects.filter(account=account).exists()


# --- Moving imported mail --------------------------------------------------------------------


def test_imported_mail_is_moved_to_the_configured_folder(dovecot):
    target = "Procesados ñ"  # spaces and non-ASCII travel in modified UTF-7
    account = make_account(dovecot, imap_move_to=target)
    user = user_of(account)
    deliver(dovecot, account, QUOTED_REPLY, QUOTED_PRINTABLE)

    first = poll_mailbox(account)
    second = poll_mailbox(account)

    assert (first.stored, first.folders[0].moved) == (2, 2)
    assert (second.stored, second.folders[0].moved) == (0, 0)
    assert dovecot.uids(user, "INBOX") == []
    assert len(dovecot.uids(user, target)) == 2
    assert len(stored_events(account)) == 2


def test_without_move_support_mail_is_copied_then_expunged(dovecot_factory):
    # A server that does not announce MOVE (RFC 6851): COPY, flag \Deleted, UID EXPUNGE.
    server = dovecot_factory(extra_config="imap_capability = IMAP4rev1 LITERAL+ UIDPLUS")
    account = make_account(server, imap_move_to="Imported")
    user = user_of(account)
    deliver(server, account, QUOTED_REPLY, KOI8)

    result = poll_mailbox(account)
    deliver(server, account, OUTLOOK_1252)
    again = poll_mailbox(account)

    assert (result.stored, result.folders[0].moved, again.stored, again.folders[0].moved) == (
        2,
        2,
        1,
        1,
    )
    assert server.uids(user, "INBOX") == []
    assert len(server.uids(user, "Imported")) == 3


# --- Faults ----------------------------------------------------------------------------------


def test_a_message_over_the_size_limit_is_kept_as_failed_and_the_others_imported(dovecot, settings):
    settings.HELPDESK_IMAP_MAX_MESSAGE_BYTES = 10_000
    account = make_account(dovecot)
    uids = deliver(dovecot, account, QUOTED_REPLY, IPHONE, KOI8)

    result = poll_mailbox(account)

    assert (result.stored, result.folders[0].too_large) == (2, 1)
    big = InboundEvent.objects.get(account=account, state=InboundEvent.State.FAILED)
    assert big.error.startswith(f"{TOO_LARGE_ERROR}: ")
    assert "the limit is 10000 bytes" in big.error
    assert big.headers["imap-uid"] == str(uids[1]) and big.headers["imap-too-large"] == "1"
    assert int(big.headers["imap-size"]) > 10_000
    # Only the headers were downloaded: admins see who wrote and what about.
    assert b"Message-Id: <7543970D-5DCE-4C89-907C-CF003D767B7A@gmail.com>" in big.body_bytes
    assert big.body_bytes.endswith(b"X-Mailer: iPhone Mail (8J2)\r\n\r\n")
    assert [
        e.event_id for e in stored_events(account) if e.state == InboundEvent.State.PENDING
    ] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(KOI8),
    ]
    assert MailboxCursor.objects.get(account=account).last_uid == uids[-1]
    # An admin's "re-process" cannot turn the headers into a ticket: it fails again, saying why.
    reprocess_events([big.pk])
    assert process_event(big.pk) == InboundEvent.State.FAILED
    big.refresh_from_db()
    assert TOO_LARGE_ERROR in big.error
    assert not Message.objects.filter(inbound_event=big).exists()


def test_a_connection_dropped_mid_poll_resumes_and_imports_the_rest_exactly_once(dovecot):
    account = make_account(dovecot)
    paths = [QUOTED_REPLY, QUOTED_PRINTABLE, OUTLOOK_1252, KOI8, NO_MESSAGE_ID]
    uids = deliver(dovecot, account, *paths)
    stored_before_drop: list[int] = []

    def drop_after_second(folder: str, uid: int) -> None:
        stored_before_drop.append(uid)
        if len(stored_before_drop) == 2:
            dovecot.stop()  # the server goes away between two fetches

    dropped = poll_mailbox(account, on_stored=drop_after_second)

    assert dropped.error.startswith("connection lost")
    assert dropped.stored == 2
    account.refresh_from_db()
    assert account.last_error.startswith("connection lost")
    cursor = MailboxCursor.objects.get(account=account)
    assert cursor.last_uid == uids[1] and cursor.last_error.startswith("connection lost")

    failed_while_down = poll_mailbox(account)  # the server is still down: nothing changes
    assert failed_while_down.error.startswith(f"cannot connect to 127.0.0.1:{dovecot.port}: ")
    assert MailboxCursor.objects.get(account=account).last_uid == uids[1]

    dovecot.start()
    resumed = poll_mailbox(account)

    assert resumed.ok and resumed.stored == 3
    assert [event.event_id for event in stored_events(account)] == [
        expected_event_id(p) for p in paths
    ]
    assert [event.headers["imap-uid"] for event in stored_events(account)] == [
        str(uid) for uid in uids
    ]
    assert {event.state for event in stored_events(account)} == {InboundEvent.State.PENDING}
    cursor.refresh_from_db()
    assert (cursor.last_uid, cursor.last_error) == (uids[-1], "")
    account.refresh_from_db()
    assert account.last_error == ""


def test_a_message_the_server_cannot_read_is_skipped_after_a_few_polls(dovecot):
    account = make_account(dovecot)
    user = user_of(account)
    uids = deliver(dovecot, account, QUOTED_REPLY, QUOTED_PRINTABLE, KOI8)
    # Damage the second message's file: Dovecot hangs up on the client when asked for it.
    dovecot.message_file(user, "INBOX", uids[1]).chmod(0)

    results = [poll_mailbox(account) for _ in range(FETCH_ATTEMPTS + 1)]

    assert [r.stored for r in results] == [1] + [0] * (FETCH_ATTEMPTS - 1) + [1]
    assert results[-1].ok
    failed = InboundEvent.objects.get(account=account, state=InboundEvent.State.FAILED)
    assert failed.headers["imap-uid"] == str(uids[1])
    assert failed.attempts == FETCH_ATTEMPTS
    assert "skipped: the message is still on the server" in failed.error
    assert [
        e.event_id for e in stored_events(account) if e.state == InboundEvent.State.PENDING
    ] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(KOI8),
    ]
    assert MailboxCursor.objects.get(account=account).last_uid == uids[-1]


def test_a_wrong_password_stores_nothing_and_tells_the_admin(dovecot):
    user, _ = dovecot.add_user()
    account = make_account(dovecot, user, password="not-the-password")
    dovecot.append(user, QUOTED_REPLY.read_bytes())

    result = poll_mailbox(account)

    assert result.error.startswith("login failed:")
    account.refresh_from_db()
    assert account.last_error.startswith("login failed:")
    assert "AUTHENTICATIONFAILED" in account.last_error
    assert "not-the-password" not in account.last_error
    assert account.last_sync_at is None
    assert not InboundEvent.objects.filter(account=account).exists()
    assert not MailboxCursor.objects.filter(account=account).exists()


def test_a_password_with_accents_logs_in(dovecot):
    # LOGIN carries ASCII only; such a password goes through SASL PLAIN in UTF-8.
    user, _ = dovecot.add_user(password="contraseña-año")
    account = make_account(dovecot, user)
    dovecot.append(user, QUOTED_REPLY.read_bytes())

    result = poll_mailbox(account)

    assert result.ok and result.stored == 1


def test_a_missing_folder_does_not_stop_the_others(dovecot):
    account = make_account(dovecot, imap_folders=["INBOX", "No such folder"])
    deliver(dovecot, account, QUOTED_REPLY)

    result = poll_mailbox(account)

    assert result.stored == 1
    assert result.folders[1].error.startswith("cannot open folder 'No such folder'")
    account.refresh_from_db()
    assert account.last_error.startswith("No such folder: cannot open folder")
    assert MailboxCursor.objects.get(account=account, folder="No such folder").last_error
    assert MailboxCursor.objects.get(account=account, folder="INBOX").last_error == ""


# --- Several mailboxes -----------------------------------------------------------------------


def test_two_mailboxes_are_polled_independently(dovecot):
    shop = make_account(dovecot)
    outlet = make_account(dovecot, imap_batch=1)
    deliver(dovecot, shop, QUOTED_REPLY, KOI8)
    # The same message in both mailboxes (a customer wrote to both) is stored once for each.
    deliver(dovecot, outlet, QUOTED_REPLY, OUTLOOK_1252)

    poll_mailbox(shop)
    poll_mailbox(outlet)

    assert [e.event_id for e in stored_events(shop)] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(KOI8),
    ]
    assert [e.event_id for e in stored_events(outlet)] == [expected_event_id(QUOTED_REPLY)]
    assert MailboxCursor.objects.get(account=shop).last_uid == 2
    assert MailboxCursor.objects.get(account=outlet).last_uid == 1

    poll_mailbox(outlet)
    assert [e.event_id for e in stored_events(outlet)] == [
        expected_event_id(QUOTED_REPLY),
        expected_event_id(OUTLOOK_1252),
    ]
    assert len(stored_events(shop)) == 2


# --- The whole road --------------------------------------------------------------------------


def test_polled_mail_becomes_a_ticket(dovecot, django_capture_on_commit_callbacks):
    account = make_account(dovecot)
    deliver(dovecot, account, QUESTION, FOLLOW_UP)

    with django_capture_on_commit_callbacks() as callbacks:
        result = poll_mailbox(account)
    # record_event asked for each stored message to be processed once committed.
    assert result.stored == 2 and len(callbacks) == 2

    for event in stored_events(account):
        assert process_event(event.pk) == InboundEvent.State.PROCESSED

    messages = list(Message.objects.filter(inbound_event__account=account).order_by("pk"))
    assert len(messages) == 2
    assert messages[0].ticket_id == messages[1].ticket_id
    ticket = messages[0].ticket
    assert ticket.customer.email == "maria.lopez@example.net"
    assert ticket.subject == "Where is my order #1042?"
    assert "tracking page" in messages[0].body_text
    assert messages[1].external_id == "CAJ8x2Lq0-order-question-1042-followup@mail.example.net"
    assert "office address" in messages[1].body_text


def test_the_webhook_refuses_anything_posted_for_an_imap_mailbox(dovecot, client):
    account = make_account(dovecot)

    response = client.post(
        f"/hooks/imap/{account.public_id}/",
        data=QUOTED_REPLY.read_bytes(),
        content_type="message/rfc822",
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.filter(account=account).exists()


# --- Tasks -----------------------------------------------------------------------------------


def test_only_active_configured_imap_accounts_are_polled(dovecot):
    active = make_account(dovecot)
    paused = make_account(dovecot)
    paused.status = ChannelAccount.Status.PAUSED
    paused.save()
    ChannelAccountFactory(
        provider="imap", settings={"address": "demo@shop.example"}
    )  # no server yet
    ChannelAccountFactory(provider="mailgun", settings={"imap_host": "127.0.0.1"})

    assert tasks.mailboxes_to_poll() == [active.pk]


def test_a_mailbox_is_never_polled_twice_at_the_same_time(dovecot):
    account = make_account(dovecot)
    deliver(dovecot, account, QUOTED_REPLY)

    with tasks.mailbox_lock(account.pk) as acquired:
        assert acquired
        skipped = tasks.poll_mailbox_task(account.pk)
    polled = tasks.poll_mailbox_task(account.pk)

    assert skipped == {
        "account_id": account.pk,
        "skipped": "another poll of this mailbox is running",
    }
    assert polled["error"] == "" and polled["folders"][0]["stored"] == 1
    assert cache.get(tasks._lock_key(account.pk)) is None


# --- Names and ids ---------------------------------------------------------------------------


def test_folder_names_are_sent_in_modified_utf7():
    # RFC 3501 §5.1.3's own example, and the ampersand.
    assert encode_mailbox_name("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert encode_mailbox_name("Orders & Returns") == "Orders &- Returns"


def test_the_event_id_is_the_message_id_or_the_hash_of_the_bytes():
    assert message_event_id(b"Subject: x\r\nMessage-ID:\r\n <a.b@c>\r\n\r\nbody") == "msgid:<a.b@c>"
    raw = b"Subject: x\r\n\r\nMessage-ID: <in.the@body>\r\n"
    assert message_event_id(raw) == "sha256:" + hashlib.sha256(raw).hexdigest()
    long_id = "<" + "x" * 300 + "@example.com>"
    assert message_event_id(f"Message-ID: {long_id}\r\n\r\n".encode()) == (
        "msgid-sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    )
