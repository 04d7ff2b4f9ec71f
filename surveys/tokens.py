"""The signed token in a survey's answer link.

The token is `django.core.signing` output (HMAC-SHA256 with the site's SECRET_KEY and a salt of its
own) over the survey's id and the moment the link expires. Nothing is stored for it: a token whose
signature does not match was forged or damaged, and one past its expiry is refused, whatever the
survey's state.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core import signing
from django.utils import timezone

SALT = "surveys.answer-link"


class InvalidToken(Exception):
    """Forged, damaged or cut short: the link cannot be trusted at all."""


class ExpiredToken(Exception):
    """Genuine but past its expiry; `survey_id` says whose (to answer in the customer's language)."""

    def __init__(self, survey_id: int) -> None:
        super().__init__(survey_id)
        self.survey_id = survey_id


def make_token(survey_id: int, expires_at: datetime) -> str:
    return signing.dumps({"s": survey_id, "e": int(expires_at.timestamp())}, salt=SALT)


def read_token(token: str, *, now: datetime | None = None) -> int:
    """The survey id in a genuine, unexpired token; raises InvalidToken or ExpiredToken."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise InvalidToken(token) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int) or not isinstance(payload.get("e"), int):
        raise InvalidToken(token)
    expires_at = datetime.fromtimestamp(payload["e"], tz=UTC)
    if (now or timezone.now()) >= expires_at:
        raise ExpiredToken(payload["s"])
    return payload["s"]
