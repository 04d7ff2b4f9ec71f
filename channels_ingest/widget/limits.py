"""Redis counters of the chat widget: rate limits and which conversations have a visitor online.

Rate limits are fixed windows (INCR + EXPIRE in one script): cheap, shared by every web process,
and what a visitor sees is "wait N seconds". Presence is one sorted set per conversation: each
open socket is a member whose score is the time it stops counting unless the widget pings
again, so a socket lost without a goodbye (a killed browser, a crashed process) ages out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

# name -> (allowed per window, window in seconds); HELPDESK_WIDGET_RATE_LIMITS overrides any.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "message": (20, 60),  # messages per conversation
    "conversation": (20, 60 * 60),  # new conversations per client address
    "upload": (10, 60 * 60),  # files per conversation
    "connect": (60, 60),  # socket connections per client address
}
# A socket counts as online this long after its last sign of life; the widget pings every 25 s.
PRESENCE_TTL_SECONDS = 70

_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  return ttl
end
return 0
"""


@dataclass(frozen=True)
class RateLimited:
    retry_after: int


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def _prefix() -> str:
    # The channel layer's prefix: test runs sharing one Redis server keep apart, as do installations.
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{layer.get('prefix') or 'helpdesk'}:widget"


def rate_limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_RATE_LIMITS, **getattr(settings, "HELPDESK_WIDGET_RATE_LIMITS", {})}


def hit(kind: str, subject: str) -> RateLimited | None:
    """Count one `kind` action by `subject`; RateLimited (with seconds to wait) once over the limit."""
    allowed, window = rate_limits()[kind]
    seconds = int(client().eval(_INCREMENT, 1, f"{_prefix()}:rate:{kind}:{subject}", max(int(window), 1), int(allowed)))
    return RateLimited(retry_after=seconds) if seconds > 0 else None


# --- Presence ----------------------------------------------------------------------------------


def _presence_key(conversation_id: int) -> str:
    return f"{_prefix()}:online:{conversation_id}"


def socket_seen(conversation_id: int, channel_name: str) -> None:
    """This socket of the conversation is alive (on connect and at every ping)."""
    key = _presence_key(conversation_id)
    pipe = client().pipeline()
    pipe.zadd(key, {channel_name: time.time() + PRESENCE_TTL_SECONDS})
    pipe.expire(key, PRESENCE_TTL_SECONDS * 2)
    pipe.execute()


def socket_gone(conversation_id: int, channel_name: str) -> None:
    client().zrem(_presence_key(conversation_id), channel_name)


def visitor_online(conversation_id: int) -> bool:
    """Whether the visitor has the conversation open in at least one tab right now."""
    key = _presence_key(conversation_id)
    pipe = client().pipeline()
    pipe.zremrangebyscore(key, "-inf", time.time())
    pipe.zcard(key)
    return pipe.execute()[1] > 0
