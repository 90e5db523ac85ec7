"""Sliding-window rate limits kept in Redis, checked in one round trip, failing open.

Why not the `limits` library: it answers one limit per Redis call (≈ 130 µs each measured
here), and a SCIM request checks three (company, credential, failed sign-ins from the caller's
address); this does all three in one EVALSHA. The algorithm is the usual sliding-window
counter: the previous fixed window's count, weighted by how much of it still overlaps the
sliding window, plus the current window's count.

When Redis cannot be reached the limiter lets every request through, logs one warning and
stops asking Redis for a few seconds (so an outage costs no latency): provisioning must never
stop because the limiter's store is away.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a Redis error, allow everything without asking Redis for this long.
PAUSE_AFTER_ERROR_SECONDS = 5.0
KEY_PREFIX = "hc:rl:"

# KEYS: one per limit. ARGV: window (ms), now (ms), then cost and limit for each key.
# A limit refuses when one more request would not fit (cost 0 = only look). Counts are only
# added when every limit admits the request, so refused requests use up nothing.
# Returns {0} when admitted, else {1-based index of the refusing limit that frees up last,
# retry-after in ms}.
_SCRIPT = """
local window = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local current = math.floor(now / window)
local elapsed = now - current * window
local refused, longest = 0, 0
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  local previous = tonumber(redis.call('GET', key .. ':' .. (current - 1)) or '0')
  local count = tonumber(redis.call('GET', key .. ':' .. current) or '0')
  local weighted = previous * (window - elapsed) / window + count
  local needed = math.max(cost, 1)
  if weighted + needed > limit then
    local wait
    if count + needed <= limit then
      -- Only the previous window's share is in the way: wait until enough of it slides out.
      wait = math.ceil((weighted + needed - limit) * window / previous)
    else
      -- The current window alone is over: it becomes the previous one at the next window
      -- start, and then its share has to slide out in turn.
      wait = (window - elapsed) + math.ceil((count + needed - limit) * window / count)
    end
    -- Report the limit that frees up last, so one Retry-After is enough for all of them.
    if wait > longest then
      refused, longest = i, wait
    end
  end
end
if refused > 0 then
  return {refused, longest}
end
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[1 + 2 * i])
  if cost > 0 then
    local name = key .. ':' .. current
    redis.call('INCRBY', name, cost)
    redis.call('PEXPIRE', name, 2 * window + 1000)
  end
end
return {0}
"""


@dataclass(frozen=True)
class Limit:
    """At most `per_minute` requests under `key`; `cost` 0 only checks (adds nothing)."""

    key: str
    per_minute: int
    cost: int = 1


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    refused_by: Limit | None = None
    retry_after: int = 0


ALLOWED = Verdict(allowed=True)


class RateLimiter:
    def __init__(self, url: str, *, timeout: float = 0.25) -> None:
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._script = self._client.register_script(_SCRIPT)
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def check(self, limits: Sequence[Limit]) -> Verdict:
        """Admit or refuse one request against every limit at once. Limits of 0 or less are
        unlimited and skipped."""
        active = [limit for limit in limits if limit.per_minute > 0]
        if not active or time.monotonic() < self._paused_until:
            return ALLOWED
        window_ms = WINDOW_SECONDS * 1000
        args: list[int] = [window_ms, int(time.time() * 1000)]
        for limit in active:
            args += [limit.cost, limit.per_minute]
        try:
            result = self._script(keys=[KEY_PREFIX + limit.key for limit in active], args=args)
        except redis.RedisError as error:
            self._pause(error)
            return ALLOWED
        index = int(result[0])
        if index == 0:
            return ALLOWED
        return Verdict(
            allowed=False,
            refused_by=active[index - 1],
            retry_after=max(1, math.ceil(int(result[1]) / 1000)),
        )

    def _pause(self, error: Exception) -> None:
        with self._lock:
            if time.monotonic() < self._paused_until:
                return
            self._paused_until = time.monotonic() + PAUSE_AFTER_ERROR_SECONDS
        # The error text names the host and port only; never a key (keys hold no secrets
        # either, but they do name companies).
        logger.warning(
            "Rate limiting is off: Redis is unreachable (%s). Requests are let through; "
            "retrying in %.0f s.",
            type(error).__name__,
            PAUSE_AFTER_ERROR_SECONDS,
        )


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter() -> RateLimiter | None:
    """The process-wide limiter for settings.RATE_LIMIT_REDIS_URL; None when rate limiting
    is switched off."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    url = settings.RATE_LIMIT_REDIS_URL
    with _limiters_lock:
        if url not in _limiters:
            _limiters[url] = RateLimiter(url)
        return _limiters[url]
