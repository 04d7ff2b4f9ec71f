"""Encryption at rest for channel credentials (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from HELPDESK_SECRETS_KEY (falling back to SECRET_KEY); any string works, it is
stretched to a Fernet key with SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretsUnreadable(Exception):
    """The stored secrets were written with another key, or were tampered with."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(("helpdesk-secrets:" + settings.HELPDESK_SECRETS_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_json(value: dict) -> str:
    return _fernet().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()


def decrypt_json(token: str) -> dict:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable("stored secrets cannot be decrypted with the configured key") from None
