"""eBay Trading API client (XML over HTTPS POST): https://developer.ebay.com/devzone/xml/docs/reference/ebay/

Every call posts `<CallNameRequest xmlns="urn:ebay:apis:eBLBaseComponents">` to /ws/api.dll with
the X-EBAY-API-CALL-NAME, X-EBAY-API-SITEID, X-EBAY-API-COMPATIBILITY-LEVEL headers and the OAuth
user token in X-EBAY-API-IAF-TOKEN. Errors come back as HTTP 200 with <Ack>Failure</Ack> and
<Errors> (ErrorCode, ShortMessage, LongMessage, SeverityCode, ErrorClassification).

- 518 "call usage limit reached": no more calls until eBay's next window (daily limits reset at
  midnight Pacific time); raised as CallLimitReached so the poller backs off.
- 21917053 / 932 / 931 and friends: the token expired or was revoked: refreshed once, then the
  account's credentials are marked expired.
- SystemError classification: eBay's side; worth retrying. RequestError: ours; permanent.

Answers are parsed with defusedxml: outside XML never reaches the standard library's parser.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET  # building requests and serialising parsed trees only
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from django.conf import settings
from django.core.cache import cache

from channels_ingest import shop_http
from channels_ingest.adapters.ebay import oauth
from channels_ingest.base import ChannelError

NS = "urn:ebay:apis:eBLBaseComponents"
COMPATIBILITY_LEVEL = "1355"
TRADING_PATH = "/ws/api.dll"
CALL_LIMIT_CODE = "518"
TOKEN_ERROR_CODES = {"931", "932", "16110", "17470", "21916984", "21917053"}
PACIFIC = ZoneInfo("America/Los_Angeles")
# Calls one account may make per minute from this installation (all workers together): well under
# eBay's daily allowance spread over the day, while a busy inbox still drains quickly.
DEFAULT_CALLS_PER_MINUTE = 30


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


@dataclass
class EbayError:
    code: str
    short_message: str = ""
    long_message: str = ""
    severity: str = "Error"
    classification: str = ""

    def __str__(self) -> str:
        return f"{self.code} {self.long_message or self.short_message}".strip()


class TradingError(ChannelError):
    """eBay answered Failure. `errors` are its <Errors>; a SystemError may pass, others do not."""

    def __init__(self, message: str, *, permanent: bool, errors: list[EbayError] | None = None) -> None:
        super().__init__(message, permanent=permanent)
        self.errors = errors or []


class CallLimitReached(TradingError):
    """Error 518: the account used up its calls; `resume_at` is the start of eBay's next window."""

    def __init__(self, message: str, *, resume_at: datetime, errors: list[EbayError] | None = None) -> None:
        super().__init__(message, permanent=False, errors=errors)
        self.resume_at = resume_at


class RateLimited(ChannelError):
    """Our own per-account limiter said wait; `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"eBay call budget of this account used up for now; retry in {retry_after:.0f}s", permanent=False)
        self.retry_after = retry_after


def next_window_start(now: datetime) -> datetime:
    """eBay's daily call limits restart at midnight Pacific time."""
    local = now.astimezone(PACIFIC)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(ZoneInfo("UTC"))


def parse_xml(raw: bytes) -> ET.Element:
    try:
        return SafeET.fromstring(raw)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise TradingError(f"eBay's answer is not acceptable XML: {exc}", permanent=False) from None


def text(element: ET.Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path, {"e": NS})
    return (found.text or "").strip() if found is not None and found.text is not None else default


def errors_of(root: ET.Element) -> list[EbayError]:
    return [
        EbayError(
            code=text(error, "e:ErrorCode"), short_message=text(error, "e:ShortMessage"),
            long_message=text(error, "e:LongMessage"), severity=text(error, "e:SeverityCode", "Error"),
            classification=text(error, "e:ErrorClassification"),
        )
        for error in root.findall("e:Errors", {"e": NS})
    ]


def build_request(call: str, fields: list[tuple[str, object]]) -> bytes:
    """`fields` are (name, value) pairs; a value may be a list of pairs (a nested element) or a
    list of strings (the element repeated)."""
    root = ET.Element(f"{call}Request", {"xmlns": NS})
    _add_fields(root, fields)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _add_fields(parent: ET.Element, fields: list[tuple[str, object]]) -> None:
    for name, value in fields:
        if value is None:
            continue
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            _add_fields(ET.SubElement(parent, name), value)
        elif isinstance(value, list):
            for item in value:
                ET.SubElement(parent, name).text = str(item)
        else:
            ET.SubElement(parent, name).text = str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class RateLimiter:
    """A fixed-window counter per account in the shared cache (Redis): every worker counts."""

    account_pk: int
    calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE
    clock: object = field(default=time.time)

    def take(self) -> None:
        now = self.clock()
        window = int(now // 60)
        key = f"ebay:calls:{settings.DATABASES['default']['NAME']}:{self.account_pk}:{window}"
        cache.add(key, 0, timeout=120)
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=120)
            used = 1
        if used > self.calls_per_minute:
            raise RateLimited(60 - (now % 60))


class TradingClient:
    def __init__(self, account, *, sleep=None, limiter: RateLimiter | None = None) -> None:
        self.account = account
        options = account.settings or {}
        self.url = options.get("trading_url") or f"{oauth.api_base_url(account)}{TRADING_PATH}"
        self.site_id = str(options.get("site_id", "0"))
        self.sleep_kwargs = {"sleep": sleep} if sleep else {}
        self.limiter = limiter or RateLimiter(
            account.pk, int(options.get("calls_per_minute") or DEFAULT_CALLS_PER_MINUTE)
        )

    def call(self, call: str, fields: list[tuple[str, object]]) -> ET.Element:
        """Send one call; returns the answer's root element (Success or Warning)."""
        body = build_request(call, fields)
        refreshed = False
        while True:
            self.limiter.take()
            token = oauth.user_token(self.account, **self.sleep_kwargs)
            answer = shop_http.request(
                "POST", self.url, data=body, raw=True,
                headers={
                    "Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml",
                    "X-EBAY-API-CALL-NAME": call, "X-EBAY-API-SITEID": self.site_id,
                    "X-EBAY-API-COMPATIBILITY-LEVEL": COMPATIBILITY_LEVEL, "X-EBAY-API-IAF-TOKEN": token,
                },
                **self.sleep_kwargs,
            )
            root = parse_xml(answer.data)
            ack = text(root, "e:Ack")
            if ack in ("Success", "Warning"):
                return root
            errors = errors_of(root)
            codes = {error.code for error in errors}
            described = "; ".join(str(error) for error in errors) or f"Ack {ack or '(none)'}"
            if CALL_LIMIT_CODE in codes:
                raise CallLimitReached(f"eBay call limit reached: {described}",
                                       resume_at=next_window_start(_utcnow()), errors=errors)
            if codes & TOKEN_ERROR_CODES:
                if not refreshed:
                    refreshed = True
                    oauth.refresh_user_token(self.account, **self.sleep_kwargs)
                    continue
                oauth.mark_credentials_expired(self.account, described)
                raise shop_http.CredentialsRejected(described, permanent=True, detail=described)
            transient = any(error.classification == "SystemError" for error in errors)
            raise TradingError(described, permanent=not transient, errors=errors)

    # --- Member messages -----------------------------------------------------------------------

    def message_headers(self, start: datetime, end: datetime, *, folder_id: int = 0) -> list[ET.Element]:
        """GetMyMessages ReturnHeaders: the headers of messages received in [start, end)."""
        root = self.call("GetMyMessages", [
            ("DetailLevel", "ReturnHeaders"), ("FolderID", folder_id),
            ("StartTime", _iso(start)), ("EndTime", _iso(end)),
        ])
        return root.findall("e:Messages/e:Message", {"e": NS})

    def messages(self, message_ids: list[str]) -> list[ET.Element]:
        """GetMyMessages ReturnMessages: full messages, at most 10 ids per call (eBay's limit)."""
        found: list[ET.Element] = []
        for start in range(0, len(message_ids), 10):
            chunk = message_ids[start:start + 10]
            root = self.call("GetMyMessages", [
                ("DetailLevel", "ReturnMessages"), ("MessageIDs", [("MessageID", chunk)]),
            ])
            found.extend(root.findall("e:Messages/e:Message", {"e": NS}))
        return found

    def reply_to_question(self, *, item_id: str, parent_message_id: str, recipient_id: str, body: str) -> ET.Element:
        """AddMemberMessageRTQ: answer a buyer's question about an item."""
        return self.call("AddMemberMessageRTQ", [
            ("ItemID", item_id or None),
            ("MemberMessage", [
                ("Body", body), ("DisplayToPublic", False), ("EmailCopyToSender", True),
                ("ParentMessageID", parent_message_id), ("RecipientID", [recipient_id]),
            ]),
        ])


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utcnow() -> datetime:
    from django.utils import timezone

    return timezone.now()


def parse_xml_or_parse_error(raw: bytes) -> ET.Element:
    """For stored events: XML that cannot be read is a permanent parse error, not a retry."""
    from channels_ingest.base import ParseError

    try:
        return SafeET.fromstring(raw)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise ParseError(f"the stored eBay message is not acceptable XML: {exc}") from None
