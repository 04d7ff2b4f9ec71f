"""IMAP polling: read new mail from any number of mailboxes, store each message raw, exactly once.

References:
- RFC 3501 (IMAP4rev1): UID and UIDVALIDITY §2.3.1.1, mailbox names in modified UTF-7 §5.1.3,
  UID FETCH / SEARCH / COPY §6.4.8: https://www.rfc-editor.org/rfc/rfc3501
- RFC 6851 (MOVE): https://www.rfc-editor.org/rfc/rfc6851
- RFC 4315 (UIDPLUS, for UID EXPUNGE): https://www.rfc-editor.org/rfc/rfc4315
- imaplib: https://docs.python.org/3/library/imaplib.html

A mailbox's ChannelAccount (provider "imap") carries
    settings: {"address", "imap_host", "imap_port", "imap_security": "ssl"|"starttls"|"none",
               "imap_folders": ["INBOX"], "imap_move_to": "", "imap_batch": 50, "imap_timeout": 30}
    secrets:  {"imap_username", "imap_password"}

How nothing is read twice and nothing is skipped:
- A MailboxCursor per (account, folder) holds the folder's UIDVALIDITY and the highest UID handled.
  UIDs only grow within one UIDVALIDITY, so "UID > last_uid" is exactly the new mail.
- The cursor advances in the same transaction that stores the message's raw bytes
  (`record_event`), one message at a time: a connection dropped mid-batch loses nothing, and the
  next poll starts right after the last stored message.
- When the server changes UIDVALIDITY (the folder was recreated or rebuilt) the folder is read
  again from the start; the event id is the Message-ID (or the hash of the raw bytes), so a
  message already stored is recognised and stored once.
- A message above HELPDESK_IMAP_MAX_MESSAGE_BYTES is not downloaded: a failed event with its
  headers says so in the admin, and the cursor moves on, so one huge message never blocks the
  mailbox.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_ingest.actions import record_event
from channels_ingest.adapters.imap.mailbox_names import quote_mailbox
from channels_ingest.models import InboundEvent, MailboxCursor
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)

PROVIDER = "imap"
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
# Every socket operation (connect, each read and write) gives up after this long: a stalled server
# must not hold a worker, and the mailbox lock, for ever.
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_BATCH = 50
MAX_BATCH = 1000
# New UIDs are searched in windows of this many UIDs: the SEARCH answer is one line, and imaplib
# refuses lines over 1 MB (imaplib._MAXLINE), which a first poll of a 200,000-message folder
# would exceed. 20,000 UIDs of up to 8 digits stay well below it.
SEARCH_WINDOW = 20_000
# A poll searches at most this many windows, so a folder whose UIDs jump by millions still
# answers quickly; the cursor records how far it got and the next poll goes on from there.
MAX_SEARCH_WINDOWS = 50
TOO_LARGE_ERROR = "message larger than the limit"
# A message the server refuses to hand over (a damaged file, a server bug) is tried on this many
# polls, since the fault may pass, and then skipped, its failed event left for the admins: one
# bad message holds up the rest of its folder for a few polls at most.
FETCH_ATTEMPTS = 3

_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_ANGLE_ID = re.compile(r"<[^<>\s]+>")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class ImapConfigError(Exception):
    """The account's settings or secrets cannot describe an IMAP mailbox."""


class ImapConnectError(Exception):
    """The server cannot be reached, or its TLS certificate is not trusted."""


class ImapLoginError(Exception):
    """The server refused the credentials."""


class _FolderError(Exception):
    """The server refused something about one folder (it does not exist, cannot be selected): the
    other folders are still polled."""


class _MessageFetchError(Exception):
    """The server answered NO to fetching one message."""


# --- Settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    password: str
    folders: tuple[str, ...]
    move_to: str
    batch: int
    timeout: float

    @classmethod
    def from_account(cls, account: ChannelAccount) -> ImapSettings:
        options = account.settings or {}
        secrets = account.get_secrets()
        host = str(options.get("imap_host") or "").strip()
        if not host:
            raise ImapConfigError("no imap_host in the account's settings")
        security = str(options.get("imap_security") or "ssl").lower()
        if security not in DEFAULT_PORTS:
            raise ImapConfigError(f"imap_security must be ssl, starttls or none, not {security!r}")
        username = str(secrets.get("imap_username") or options.get("address") or "")
        password = str(secrets.get("imap_password") or "")
        if not username or not password:
            raise ImapConfigError("the account has no imap_username or imap_password")
        configured = options.get("imap_folders") or ["INBOX"]
        if isinstance(configured, str):
            configured = [configured]
        try:
            port = int(options.get("imap_port") or DEFAULT_PORTS[security])
            batch = int(options.get("imap_batch") or DEFAULT_BATCH)
            timeout = float(options.get("imap_timeout") or DEFAULT_TIMEOUT_SECONDS)
        except (TypeError, ValueError) as exc:
            raise ImapConfigError(
                f"imap_port, imap_batch and imap_timeout must be numbers: {exc}"
            ) from None
        folders = tuple(str(folder) for folder in configured if str(folder).strip())
        move_to = str(options.get("imap_move_to") or "").strip()
        if move_to and move_to in folders:
            # Imported mail would be read again from there, and moved onto itself.
            raise ImapConfigError(f"imap_move_to ({move_to!r}) must not be one of imap_folders")
        return cls(
            host=host,
            port=port,
            security=security,
            username=username,
            password=password,
            folders=folders,
            move_to=move_to,
            batch=max(1, min(batch, MAX_BATCH)),
            timeout=timeout,
        )


# --- Results -----------------------------------------------------------------------------------


@dataclass
class FolderResult:
    folder: str
    uidvalidity: int | None = None
    stored: int = 0
    duplicates: int = 0
    too_large: int = 0
    failed: int = 0
    moved: int = 0
    more: bool = False  # the batch was full: more mail is waiting
    restarted: bool = False  # UIDVALIDITY changed: the folder was read again from the start
    error: str = ""


@dataclass
class PollResult:
    account_id: int
    folders: list[FolderResult] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not any(folder.error for folder in self.folders)

    @property
    def stored(self) -> int:
        return sum(folder.stored for folder in self.folders)

    @property
    def more(self) -> bool:
        return any(folder.more for folder in self.folders)

    def as_dict(self) -> dict:
        return {
            "account_id": self.account_id,
            "error": self.error,
            "folders": [asdict(f) for f in self.folders],
        }


# --- Polling -----------------------------------------------------------------------------------

# Called after each message is stored and its cursor committed: (folder, uid).
StoredHook = Callable[[str, int], None]


def poll_mailbox(account: ChannelAccount, *, on_stored: StoredHook | None = None) -> PollResult:
    """Read the new mail of every configured folder of one IMAP mailbox, at most one batch per
    folder, and store each message with `record_event` (which queues its processing after the
    commit). Never raises for a server, network or configuration fault: the error is kept on the
    account (`last_error`) and on the folder's cursor, and the next poll starts over from the
    cursors.

    Precondition: no other poll of the same account runs at the same time (the task holds a lock).
    Call outside a transaction: each message is committed on its own.
    """
    result = PollResult(account_id=account.pk)
    try:
        config = ImapSettings.from_account(account)
    except ImapConfigError as exc:
        result.error = f"configuration: {exc}"
        _finish(account, result)
        return result

    connection: imaplib.IMAP4 | None = None
    try:
        try:
            connection = connect(config)
        except (OSError, imaplib.IMAP4.error, EOFError) as exc:
            raise ImapConnectError(
                f"cannot connect to {config.host}:{config.port}: {_describe(exc, prefix='')}"
            ) from None
        try:
            _login(connection, config)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise ImapLoginError(f"login failed: {_describe(exc)}") from None
        capabilities = _capabilities(connection)
        for folder in config.folders:
            folder_result = FolderResult(folder=folder)
            result.folders.append(folder_result)
            try:
                _poll_folder(connection, account, config, capabilities, folder_result, on_stored)
            except _FolderError as exc:
                folder_result.error = str(exc)
                _mark_cursor(account, folder, error=folder_result.error)
    except (ImapConnectError, ImapLoginError) as exc:
        result.error = str(exc)
    except (OSError, imaplib.IMAP4.error, EOFError) as exc:
        # The connection is gone or the server refused us: stop here. Whatever was stored is
        # committed with its cursor, so the next poll (a new connection) resumes exactly there.
        result.error = _describe(exc)
        if result.folders and not result.folders[-1].error:
            result.folders[-1].error = result.error
            _mark_cursor(account, result.folders[-1].folder, error=result.error)
    finally:
        if connection is not None:
            _close_quietly(connection)
    _finish(account, result)
    return result


def connect(config: ImapSettings) -> imaplib.IMAP4:
    """Open the connection, TLS as configured. The timeout applies to the connect and to every
    later read and write on the socket."""
    if config.security == "ssl":
        return imaplib.IMAP4_SSL(
            config.host,
            config.port,
            ssl_context=ssl.create_default_context(),
            timeout=config.timeout,
        )
    connection = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
    if config.security == "starttls":
        try:
            connection.starttls(ssl_context=ssl.create_default_context())
        except BaseException:
            _close_quietly(connection)
            raise
    return connection


def _login(connection: imaplib.IMAP4, config: ImapSettings) -> None:
    if config.password.isascii() and config.username.isascii():
        connection.login(config.username, config.password)
        return
    # LOGIN sends ASCII only; SASL PLAIN carries UTF-8 (RFC 4616).
    credentials = f"\0{config.username}\0{config.password}".encode()
    connection.authenticate("PLAIN", lambda _challenge: credentials)


def _capabilities(connection: imaplib.IMAP4) -> frozenset[str]:
    """Capabilities after login: servers (Dovecot among them) announce MOVE, UIDPLUS and the rest
    only to an authenticated client, so the list imaplib read at connect time is incomplete."""
    typ, data = connection.capability()
    words: set[str] = set(connection.capabilities)
    if typ == "OK":
        for line in data:
            if isinstance(line, bytes):
                words.update(line.decode("ascii", "replace").upper().split())
    return frozenset(words)


def _poll_folder(
    connection: imaplib.IMAP4,
    account: ChannelAccount,
    config: ImapSettings,
    capabilities: frozenset[str],
    result: FolderResult,
    on_stored: StoredHook | None,
) -> None:
    folder = result.folder
    try:
        # EXAMINE (read-only) unless mail is moved out: people may read this mailbox too, and
        # polling must leave it exactly as it was (BODY.PEEK below does not set \Seen either).
        typ, data = connection.select(quote_mailbox(folder), readonly=not config.move_to)
    except imaplib.IMAP4.readonly as exc:
        raise _FolderError(
            f"folder {folder!r} is read-only, cannot move mail out of it: {exc}"
        ) from None
    if typ != "OK":
        raise _FolderError(f"cannot open folder {folder!r}: {_text(data)}")
    uidvalidity = _response_number(connection, "UIDVALIDITY")
    uidnext = _response_number(connection, "UIDNEXT")
    if uidvalidity is None:
        raise _FolderError(f"the server sent no UIDVALIDITY for folder {folder!r}")
    result.uidvalidity = uidvalidity

    cursor, _ = MailboxCursor.objects.get_or_create(account=account, folder=folder)
    if cursor.uidvalidity != uidvalidity:
        if cursor.uidvalidity is not None:
            logger.warning(
                "IMAP account %s folder %r: UIDVALIDITY changed from %s to %s; reading the folder again",
                account.pk,
                folder,
                cursor.uidvalidity,
                uidvalidity,
            )
            result.restarted = True
        cursor.uidvalidity = uidvalidity
        cursor.last_uid = 0
        cursor.save(update_fields=["uidvalidity", "last_uid"])

    uids, done_to, more = _pending_uids(connection, cursor.last_uid, uidnext, config.batch)
    result.more = more
    sizes = _fetch_sizes(connection, uids)
    for uid in uids:
        headers = {
            "imap-folder": folder,
            "imap-uid": str(uid),
            "imap-uidvalidity": str(uidvalidity),
        }
        try:
            _import_message(connection, account, cursor, uid, sizes.get(uid), headers, result)
        except _MessageFetchError as exc:
            # The server answered NO for this message: the connection is still good.
            if not _give_up_on(account, cursor, uid, headers, str(exc), result):
                # Stop this folder here; the next poll tries this message again first.
                raise _FolderError(str(exc)) from None
        except (OSError, imaplib.IMAP4.abort, EOFError) as exc:
            # The connection died while this message was on its way. A network fault, or this
            # message: Dovecot, for one, hangs up on a message it cannot read, and a huge message
            # on a slow link times out every time. Counted against the message, so that one that
            # keeps killing the connection is eventually skipped instead of blocking the folder.
            _give_up_on(account, cursor, uid, headers, _describe(exc), result)
            raise
        if on_stored is not None:
            on_stored(folder, uid)

    if done_to > cursor.last_uid:
        # Every message up to done_to was handled, and UIDs below UIDNEXT are never handed out
        # again: the next poll need not search that stretch (it may be all gaps) once more.
        _advance(cursor, done_to)
    if config.move_to:
        result.moved = _move_handled(connection, cursor.last_uid, config.move_to, capabilities)
    _mark_cursor(account, folder, error="")


def _import_message(
    connection: imaplib.IMAP4,
    account: ChannelAccount,
    cursor: MailboxCursor,
    uid: int,
    size: int | None,
    headers: dict[str, str],
    result: FolderResult,
) -> None:
    """Store one message (or the record of why it was not stored) and move the cursor past it, in
    one transaction."""
    limit = settings.HELPDESK_IMAP_MAX_MESSAGE_BYTES
    if size is not None and size > limit:
        header_bytes = _fetch_part(connection, uid, "BODY.PEEK[HEADER]", "BODY[HEADER]") or b""
        _store_too_large(account, cursor, uid, size, limit, header_bytes, headers)
        result.too_large += 1
        return
    # No size usually means the message was expunged since the SEARCH; the fetch tells for sure
    # (a server that merely left the size out must not make us skip the message).
    raw = _fetch_part(connection, uid, "BODY.PEEK[]", "BODY[]")
    if raw is None:
        _advance(cursor, uid)  # gone: nothing left to read
        return
    if len(raw) > limit:
        head = _HEADER_END.split(raw, maxsplit=1)[0] + b"\r\n\r\n"
        _store_too_large(account, cursor, uid, len(raw), limit, head, headers)
        result.too_large += 1
        return
    with transaction.atomic():
        _event, created = record_event(
            provider=PROVIDER,
            account=account,
            event_id=message_event_id(raw),
            body=raw,
            headers=headers,
        )
        _advance(cursor, uid)
        # An earlier poll could not fetch this message; it now has, so that record is moot.
        InboundEvent.objects.filter(
            provider=PROVIDER,
            account=account,
            event_id=_fetch_failure_id(headers),
            state=InboundEvent.State.FAILED,
        ).delete()
    if created:
        result.stored += 1
    else:
        result.duplicates += 1


def _fetch_failure_id(headers: dict[str, str]) -> str:
    event_id = (
        f"fetch-failed:{headers['imap-uidvalidity']}:{headers['imap-uid']}:{headers['imap-folder']}"
    )
    return event_id[:255]


def _give_up_on(
    account: ChannelAccount,
    cursor: MailboxCursor,
    uid: int,
    headers: dict[str, str],
    error: str,
    result: FolderResult,
) -> bool:
    """Count one failed attempt at fetching a message; after FETCH_ATTEMPTS, move the cursor past
    it (its failed event stays for the admins). Returns whether the message was given up."""
    attempts = _record_fetch_failure(account, uid, headers, error)
    if attempts < FETCH_ATTEMPTS:
        return False
    _advance(cursor, uid)
    result.failed += 1
    logger.error(
        "IMAP account %s folder %r: skipping UID %s after %s failed attempts: %s",
        account.pk,
        headers["imap-folder"],
        uid,
        attempts,
        error,
    )
    return True


def _record_fetch_failure(
    account: ChannelAccount, uid: int, headers: dict[str, str], error: str
) -> int:
    """Keep (or update) a failed event for a message the server would not hand over, so admins
    see it at once; returns how many polls have tried it."""
    with transaction.atomic():
        event, created = InboundEvent.objects.select_for_update().get_or_create(
            provider=PROVIDER,
            account=account,
            event_id=_fetch_failure_id(headers),
            defaults={
                "body": b"",
                "headers": headers,
                "state": InboundEvent.State.FAILED,
                "attempts": 1,
            },
        )
        if not created:
            event.attempts += 1
        if event.attempts < FETCH_ATTEMPTS:
            outcome = "it will be tried again at the next poll"
        else:
            outcome = "skipped: the message is still on the server"
        event.error = (
            f"could not fetch the message from the IMAP server ({event.attempts} of "
            f"{FETCH_ATTEMPTS} attempts; {outcome}): {error}"
        )
        event.processed_at = timezone.now()
        event.save(update_fields=["attempts", "error", "processed_at"])
    return event.attempts


def _pending_uids(
    connection: imaplib.IMAP4, after: int, uidnext: int | None, batch: int
) -> tuple[list[int], int, bool]:
    """UIDs above `after`, oldest first, at most `batch` of them. Returns (uids, done_to, more):
    once every returned UID is handled, the cursor may move to `done_to` (every message up to it
    has been seen); `more` says whether more mail may be waiting."""
    start = after + 1
    found: list[int] = []
    windows = 0
    while uidnext is not None and start < uidnext and windows < MAX_SEARCH_WINDOWS:
        end = min(start + SEARCH_WINDOW - 1, uidnext - 1)
        found.extend(_search(connection, f"{start}:{end}", start - 1, end))
        start = end + 1
        windows += 1
        if len(found) > batch:
            return found[:batch], 0, True
    if uidnext is not None and start < uidnext:
        # The window budget went on a sparse stretch of UIDs: the next poll goes on from here.
        return found, start - 1, True
    # Below UIDNEXT everything is searched; one open-ended search also catches mail numbered
    # beyond the UIDNEXT the server announced (it arrived meanwhile, or the server has no UIDNEXT).
    found.extend(_search(connection, f"{start}:*", start - 1))
    if len(found) > batch:
        return found[:batch], 0, True
    return found, start - 1, False


def _search(
    connection: imaplib.IMAP4, uid_range: str, above: int, up_to: int | None = None
) -> list[int]:
    typ, data = connection.uid("SEARCH", "UID", uid_range)
    if typ != "OK":
        raise _FolderError(f"UID SEARCH failed: {_text(data)}")
    uids = [int(word) for line in data if line for word in line.split()]
    # "N:*" always matches the highest UID, even below N (RFC 3501 §6.4.8): keep only new ones.
    return sorted(uid for uid in uids if uid > above and (up_to is None or uid <= up_to))


def _fetch_sizes(connection: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    if not uids:
        return {}
    typ, data = connection.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE)")
    if typ != "OK":
        raise _FolderError(f"UID FETCH RFC822.SIZE failed: {_text(data)}")
    sizes = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if not isinstance(line, bytes):
            continue
        uid, size = _FETCH_UID.search(line), _FETCH_SIZE.search(line)
        if uid and size:  # unsolicited FETCH responses (flag changes) carry no size
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def _fetch_part(connection: imaplib.IMAP4, uid: int, item: str, answer: str) -> bytes | None:
    """One message's `item` (BODY.PEEK[] for the whole message), or None when the message is gone.
    One message at a time, so a fault on one never costs the others."""
    typ, data = connection.uid("FETCH", str(uid), f"(UID {item})")
    if typ != "OK":
        raise _MessageFetchError(f"UID FETCH {uid} failed: {_text(data)}")
    marker = answer.encode()
    for entry in data:
        if isinstance(entry, tuple) and len(entry) == 2 and marker in entry[0]:
            found = _FETCH_UID.search(entry[0])
            if found is None or int(found.group(1)) == uid:
                return entry[1]
    return None


def _store_too_large(
    account: ChannelAccount,
    cursor: MailboxCursor,
    uid: int,
    size: int,
    limit: int,
    header_bytes: bytes,
    headers: dict[str, str],
) -> None:
    """Keep a failed event (with the message's headers, so an admin sees who wrote) instead of the
    message: visible, never silently lost, and never downloaded."""
    message_id = _message_id(header_bytes)
    digest = hashlib.sha256(message_id.encode() if message_id else header_bytes).hexdigest()
    # Not the message's own event id: if the limit is raised and the folder re-read, the message
    # is then stored for real instead of matching this record.
    event_id = f"too-large:sha256:{digest}"
    with transaction.atomic():
        InboundEvent.objects.get_or_create(
            provider=PROVIDER,
            account=account,
            event_id=event_id,
            defaults={
                "body": header_bytes,
                "headers": {**headers, "imap-size": str(size), "imap-too-large": "1"},
                "state": InboundEvent.State.FAILED,
                "error": f"{TOO_LARGE_ERROR}: {size} bytes, the limit is {limit} bytes "
                f"(HELPDESK_IMAP_MAX_MESSAGE_BYTES). Only its headers were kept; "
                f"the message is still on the server.",
                "processed_at": timezone.now(),
            },
        )
        _advance(cursor, uid)


def _advance(cursor: MailboxCursor, uid: int) -> None:
    cursor.last_uid = max(cursor.last_uid, uid)
    MailboxCursor.objects.filter(pk=cursor.pk).update(last_uid=cursor.last_uid)


def _move_handled(
    connection: imaplib.IMAP4, last_uid: int, target: str, capabilities: frozenset[str]
) -> int:
    """Move every message this folder still holds at or below the cursor to `target`. Moving
    after the fact, rather than right after each message, also finishes a move that a dropped
    connection interrupted last time."""
    if last_uid <= 0:
        return 0
    uids = _search(connection, f"1:{last_uid}", 0, last_uid)
    if not uids:
        return 0
    uid_set = _uid_set(uids)
    mailbox = quote_mailbox(target)
    typ, data = _move(connection, uid_set, mailbox, capabilities)
    if typ != "OK" and "TRYCREATE" in _text(data).upper():
        connection.create(mailbox)
        typ, data = _move(connection, uid_set, mailbox, capabilities)
    if typ != "OK":
        raise _FolderError(f"cannot move imported mail to {target!r}: {_text(data)}")
    return len(uids)


def _move(
    connection: imaplib.IMAP4, uid_set: str, mailbox: str, capabilities: frozenset[str]
) -> tuple[str, list]:
    if "MOVE" in capabilities:
        return connection.uid("MOVE", uid_set, mailbox)
    typ, data = connection.uid("COPY", uid_set, mailbox)
    if typ != "OK":
        return typ, data
    typ, data = connection.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
    if typ != "OK":
        return typ, data
    if "UIDPLUS" in capabilities:
        # UID EXPUNGE removes only these messages, not others a person flagged \Deleted.
        return connection.uid("EXPUNGE", uid_set)
    return connection.expunge()


def _finish(account: ChannelAccount, result: PollResult) -> None:
    """Record the outcome on the account. Only these two fields are written, so a poll never
    undoes an admin's change to the account's settings made meanwhile."""
    errors = [result.error] if result.error else []
    errors += [
        f"{folder.folder}: {folder.error}"
        for folder in result.folders
        if folder.error and folder.error != result.error
    ]
    account.last_error = "\n".join(errors)[:4000]
    fields = {"last_error": account.last_error}
    if not errors:
        account.last_sync_at = timezone.now()
        fields["last_sync_at"] = account.last_sync_at
    ChannelAccount.objects.filter(pk=account.pk).update(**fields)
    if errors:
        logger.warning("IMAP poll of account %s: %s", account.pk, account.last_error)


def _mark_cursor(account: ChannelAccount, folder: str, *, error: str) -> None:
    MailboxCursor.objects.update_or_create(
        account=account,
        folder=folder,
        defaults={"last_polled_at": timezone.now(), "last_error": error[:4000]},
    )


def _close_quietly(connection: imaplib.IMAP4) -> None:
    try:
        connection.logout()
    except (OSError, imaplib.IMAP4.error, EOFError):
        try:
            connection.shutdown()
        except OSError:
            pass


# --- Event ids and small helpers ---------------------------------------------------------------


def message_event_id(raw: bytes) -> str:
    """The event id of a polled message: its Message-ID, so the same mail read again (after a
    UIDVALIDITY change, or from a second folder) is stored once; without one, the hash of its
    bytes, so at least the very same raw message is never stored twice."""
    message_id = _message_id(raw)
    if message_id:
        event_id = f"msgid:{message_id}"
        if len(event_id) <= 255:
            return event_id
        # The column holds 255 characters; a cut-off id could match a different message.
        return (
            "msgid-sha256:"
            + hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()
        )
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _message_id(raw: bytes) -> str:
    if not raw:
        return ""
    # Only the header block is parsed: the body may be megabytes.
    head = _HEADER_END.split(raw, maxsplit=1)[0]
    headers = BytesHeaderParser(policy=compat32).parsebytes(head)
    value = headers.get("Message-ID")
    if value is None:
        return ""
    text = " ".join(str(value).split())
    found = _ANGLE_ID.search(text)
    return found.group(0) if found else text


def _uid_set(uids: Iterable[int]) -> str:
    """UIDs 1,2,3,7,9,10 as "1:3,7,9:10": short commands even for large batches."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = previous = ordered[0]
    for uid in ordered[1:] + [None]:  # type: ignore[list-item]
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        ranges.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(ranges)


def _response_number(connection: imaplib.IMAP4, name: str) -> int | None:
    _typ, data = connection.response(name)
    for value in reversed(data or []):
        if isinstance(value, bytes) and value.strip().isdigit():
            return int(value)
    return None


def _text(data: object) -> str:
    if isinstance(data, list | tuple):
        return " ".join(_text(item) for item in data if item is not None)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


def _describe(exc: BaseException, prefix: str = "connection lost: ") -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, TimeoutError):
        return f"{prefix}no answer within the timeout ({exc or 'timed out'})"
    if isinstance(exc, imaplib.IMAP4.abort | OSError | EOFError):
        return f"{prefix}{exc or type(exc).__name__}"
    text = str(exc)
    # imaplib puts the server's answer in the message as a bytes repr: b'[AUTHENTICATIONFAILED] ...'
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text
