"""Verifying eBay Notification API pushes:
https://developer.ebay.com/api-docs/commerce/notification/overview.html

`X-EBAY-SIGNATURE` is base64 of a JSON object {"alg": "ecdsa", "kid": ..., "signature": ...,
"digest": "SHA1"}. The public key is fetched by `kid` from getPublicKey
(GET /commerce/notification/v1/public_key/{kid}, with an application token) and cached per kid;
eBay's SDKs verify the ECDSA signature (DER, base64) with the digest the key names (SHA1 for the
marketplace account deletion topic) over the message as compact JSON (`JSON.stringify`). The
raw bytes are tried first, then that compact form of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import OrderedDict
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels_ingest import shop_http
from channels_ingest.adapters.ebay import oauth
from channels_ingest.base import SignatureInvalid

SIGNATURE_HEADER = "X-EBAY-SIGNATURE"
KEY_CACHE_SECONDS = 3600
# A failed key look-up is not retried on every delivery of a burst.
KEY_ERROR_CACHE_SECONDS = 30
MAX_CACHED_KEYS = 256
DIGESTS = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}

_keys: OrderedDict[tuple[str, str], tuple[float, dict | None]] = OrderedDict()
_keys_lock = threading.Lock()


def decode_header(value: str | None) -> dict:
    if not value:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} missing")
    try:
        data = json.loads(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is not base64 JSON") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) and data.get(name)
                                             for name in ("kid", "signature")):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} lacks kid or signature")
    if str(data.get("alg", "ecdsa")).lower() != "ecdsa":
        raise SignatureInvalid(f"unsupported signature algorithm {data.get('alg')!r}")
    return data


def public_key(account, kid: str, *, sleep=None) -> dict:
    """getPublicKey's answer for `kid` ({"key": PEM, "algorithm", "digest"}), cached per kid.
    Raises SignatureInvalid when eBay does not know the key, ProviderError when eBay cannot be
    reached (the delivery is then refused and eBay retries it)."""
    cache_key = (oauth.api_base_url(account), kid)
    now = time.monotonic()
    with _keys_lock:
        cached = _keys.get(cache_key)
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                raise SignatureInvalid(f"eBay does not know the key {kid}")
            return cached[1]
    url = f"{oauth.api_base_url(account)}/commerce/notification/v1/public_key/{quote(kid, safe='')}"
    try:
        answer = shop_http.request(
            "GET", url, headers={"Authorization": f"Bearer {oauth.application_token(account, sleep=sleep)}"},
            **({"sleep": sleep} if sleep else {}),
        )
        data = answer.data if isinstance(answer.data, dict) and answer.data.get("key") else None
    except shop_http.ProviderError as exc:
        if exc.status != 404:
            raise
        data = None
    with _keys_lock:
        _keys[cache_key] = (now + (KEY_CACHE_SECONDS if data else KEY_ERROR_CACHE_SECONDS), data)
        while len(_keys) > MAX_CACHED_KEYS:
            _keys.popitem(last=False)
    if data is None:
        raise SignatureInvalid(f"eBay does not know the key {kid}")
    return data


def forget_keys() -> None:
    with _keys_lock:
        _keys.clear()


def _load_pem(text: str) -> ec.EllipticCurvePublicKey:
    """eBay sends the PEM on one line ("-----BEGIN PUBLIC KEY-----MFkw...-----END PUBLIC KEY-----")."""
    body = text.replace("-----BEGIN PUBLIC KEY-----", "").replace("-----END PUBLIC KEY-----", "")
    body = "".join(body.split())
    pem = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n".encode()
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise SignatureInvalid("eBay's public key cannot be read") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureInvalid("eBay's public key is not an elliptic-curve key")
    return key


def compact_json(body: bytes) -> bytes | None:
    """The body as JavaScript's JSON.stringify writes it (what eBay signs), or None if not JSON."""
    try:
        return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        return None


def verify(account, body: bytes, header: str | None, *, sleep=None) -> None:
    """Raise SignatureInvalid unless `header` is eBay's valid signature of `body`."""
    signed = decode_header(header)
    key_info = public_key(account, signed["kid"], sleep=sleep)
    digest_name = str(key_info.get("digest") or signed.get("digest") or "SHA1").upper()
    digest = DIGESTS.get(digest_name)
    if digest is None:
        raise SignatureInvalid(f"unsupported digest {digest_name}")
    key = _load_pem(str(key_info["key"]))
    try:
        signature = base64.b64decode(signed["signature"], validate=True)
    except binascii.Error:
        raise SignatureInvalid("the signature is not base64") from None
    candidates = [body]
    compact = compact_json(body)
    if compact is not None and compact != body:
        candidates.append(compact)
    for candidate in candidates:
        try:
            key.verify(signature, candidate, ec.ECDSA(digest()))
            return
        except InvalidSignature:
            continue
    raise SignatureInvalid("X-EBAY-SIGNATURE does not match the body")
