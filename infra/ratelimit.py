"""Sliding-window rate limits kept in Redis, spent from local leases, failing open.

Why not the `limits` library: it answers one limit per Redis call (≈ 130 µs each measured
here), and a SCIM request checks up to three (company, credential, failed sign-ins from the
caller's address); this does them all in one EVALSHA. The algorithm is the usual
sliding-window counter: the previous fixed window's count, weighted by how much of it still
overlaps the sliding window, plus the current window's count.

Leases: a round trip per request was a tenth of an authenticated request's CPU, plus the
wait (issue #21). So a limit marked `leased` is not asked about on every request: when Redis
admits a request it also reserves a few more units of that limit for this process (counted
in Redis at once, like spent ones), and the process spends them locally, without a round
trip, until they run out. What keeps that exact enough:
- Reserved units count as used, so together every process never admits more than the limit
  the script computes. The error is the other way: units a process holds but has not spent
  count as used elsewhere, so a caller can be refused while another process still holds a
  lease; by at most `LEASE_UNITS` per process and key, and never more than a
  `LEASE_SHARE`th of what the limit had left when the lease was taken, so a limit close to
  full is checked request by request, and limits of `LEASE_SHARE` or less always are.
- A lease belongs to the fixed window it was counted in and to the limit it was granted
  under: a new window, or a changed limit (support lowering a company's), voids it on the
  process's next request, which gives its unspent units back to the window they were counted
  in, in the same round trip that asks again.
- Limits that must be exact are never leased: failed sign-ins, and the look at them that a
  Basic request makes (cost 0); a request with such a limit always makes its round trip.

When Redis cannot be reached the limiter lets every request through, logs one warning and
stops asking Redis for a few seconds (so an outage costs no latency): provisioning must never
stop because the limiter's store is away.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a Redis error, allow everything without asking Redis for this long.
PAUSE_AFTER_ERROR_SECONDS = 5.0
KEY_PREFIX = "hc:rl:"
# A process reserves at most this many units of a leased limit beyond the request in hand...
LEASE_UNITS = 20
# ...and at most this fraction (1/LEASE_SHARE) of what the limit has left.
LEASE_SHARE = 20

# KEYS: one per limit. ARGV: window (ms), now (ms), lease share, then five values per key:
# cost, limit, lease units wanted beyond the cost, unspent units given back and the window
# number they were counted in. Units given back are subtracted first (never below zero, and
# only from a window that still counts). A limit refuses when one more request would not fit
# (cost 0 = only look). Counts are only added when every limit admits the request, so
# refused requests use up nothing. Returns {0, lease granted per key} when admitted, else
# {1-based index of the refusing limit that frees up last, retry-after in ms}.
_SCRIPT = """
local window = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local share = tonumber(ARGV[3])
local current = math.floor(now / window)
local elapsed = now - current * window
local refused, longest = 0, 0
local granted = {}
for i, key in ipairs(KEYS) do
  local base = 3 + 5 * (i - 1)
  local back, back_window = tonumber(ARGV[base + 4]), tonumber(ARGV[base + 5])
  if back > 0 and back_window >= current - 1 then
    local name = key .. ':' .. back_window
    local held = tonumber(redis.call('GET', name) or '0')
    if math.min(back, held) > 0 then
      redis.call('DECRBY', name, math.min(back, held))
    end
  end
end
for i, key in ipairs(KEYS) do
  local base = 3 + 5 * (i - 1)
  local cost = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local wanted = tonumber(ARGV[base + 3])
  local previous = tonumber(redis.call('GET', key .. ':' .. (current - 1)) or '0')
  local count = tonumber(redis.call('GET', key .. ':' .. current) or '0')
  local weighted = previous * (window - elapsed) / window + count
  local needed = math.max(cost, 1)
  if weighted + needed > limit then
    local wait
    if needed > limit then
      -- More than the whole limit can never fit: say when the limit is entirely free.
      wait = (window - elapsed) + window
    elseif count + needed <= limit then
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
  else
    granted[i] = math.max(0, math.min(wanted, math.floor((limit - weighted - needed) / share)))
  end
end
if refused > 0 then
  return {refused, longest}
end
local result = {0}
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[3 + 5 * (i - 1) + 1])
  local add = cost + granted[i]
  if add > 0 then
    local name = key .. ':' .. current
    redis.call('INCRBY', name, add)
    redis.call('PEXPIRE', name, 2 * window + 1000)
  end
  result[i + 1] = granted[i]
end
return result
"""


class Limit(NamedTuple):
    """At most `per_minute` requests under `key`; `cost` 0 only checks (adds nothing).
    `leased`: this process may admit requests from units reserved in advance (see the
    module's docstring); only for limits where a small early refusal is acceptable."""

    key: str
    per_minute: int
    cost: int = 1
    leased: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    refused_by: Limit | None = None
    retry_after: int = 0


ALLOWED = Verdict(allowed=True)


@dataclass
class _Lease:
    """Units of one key reserved in Redis for this process, in fixed window `window`, under
    a limit of `per_minute`."""

    window: int
    per_minute: int
    units: int


@dataclass(frozen=True)
class _Ask:
    """One limit put to Redis: the units of a lease wanted beyond the request's cost, and
    unspent units (count, window) given back."""

    limit: Limit
    wanted: int
    back: tuple[int, int]


class RateLimiter:
    def __init__(self, url: str, *, timeout: float = 0.25) -> None:
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._script = self._client.register_script(_SCRIPT)
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._leases: dict[str, _Lease] = {}
        self._window = 0
        _every_limiter.add(self)

    def check(self, limits: Sequence[Limit]) -> Verdict:
        """Admit or refuse one request against every limit at once. Limits of 0 or less are
        unlimited and skipped."""
        active = [limit for limit in limits if limit.per_minute > 0]
        if not active or time.monotonic() < self._paused_until:
            return ALLOWED
        window_ms = WINDOW_SECONDS * 1000
        now_ms = int(time.time() * 1000)
        window = now_ms // window_ms
        with self._lock:
            if window != self._window:
                # Units counted in a window that no longer counts need not be given back.
                self._leases = {k: v for k, v in self._leases.items() if v.window >= window - 1}
                self._window = window
            local, remote = self._split(active, window)
        if not remote:
            return ALLOWED
        args: list[int] = [window_ms, now_ms, LEASE_SHARE]
        for asked in remote:
            args += [asked.limit.cost, asked.limit.per_minute, asked.wanted, *asked.back]
        keys = [KEY_PREFIX + asked.limit.key for asked in remote]
        try:
            result = self._script(keys=keys, args=args)
        except redis.RedisError as error:
            self._pause(error)
            return ALLOWED
        index = int(result[0])
        with self._lock:
            if index == 0:
                for asked, granted in zip(remote, result[1:], strict=True):
                    self._add(asked.limit, window, int(granted))
            else:
                for limit in local:
                    self._add(limit, window, limit.cost)
        if index == 0:
            return ALLOWED
        return Verdict(
            allowed=False,
            refused_by=remote[index - 1].limit,
            retry_after=max(1, math.ceil(int(result[1]) / 1000)),
        )

    def _split(self, limits: list[Limit], window: int) -> tuple[list[Limit], list[_Ask]]:
        """The limits this process's leases cover (their units taken now; put back if the
        request is refused), and what to ask Redis about the others. A lease of another
        window, under another limit (support changed it) or too small for this request goes
        back to Redis with the question, so its unspent units stop counting."""
        local: list[Limit] = []
        remote: list[_Ask] = []
        for limit in limits:
            leasable = limit.leased and limit.cost > 0
            lease = self._leases.get(limit.key)
            if (
                leasable
                and lease is not None
                and (lease.window, lease.per_minute) == (window, limit.per_minute)
                and lease.units >= limit.cost
            ):
                lease.units -= limit.cost
                local.append(limit)
                continue
            back = (0, 0)
            if lease is not None:
                del self._leases[limit.key]
                back = (lease.units, lease.window)
            remote.append(_Ask(limit, LEASE_UNITS if leasable else 0, back))
        return local, remote

    def _add(self, limit: Limit, window: int, units: int) -> None:
        if units <= 0:
            return
        lease = self._leases.get(limit.key)
        if lease is not None and (lease.window, lease.per_minute) == (window, limit.per_minute):
            lease.units += units
        else:
            self._leases[limit.key] = _Lease(window, limit.per_minute, units)

    def forget_leases(self) -> None:
        """Drop this process's leases without giving them back (a forked child must not
        spend its parent's; tests start from an empty Redis)."""
        self._lock = threading.Lock()
        self._leases = {}

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
_every_limiter: weakref.WeakSet[RateLimiter] = weakref.WeakSet()


def limiter() -> RateLimiter | None:
    """The process-wide limiter for settings.RATE_LIMIT_REDIS_URL; None when rate limiting
    is switched off."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    url = settings.RATE_LIMIT_REDIS_URL
    found = _limiters.get(url)
    if found is not None:
        return found
    with _limiters_lock:
        if url not in _limiters:
            _limiters[url] = RateLimiter(url)
        return _limiters[url]


def forget_leases() -> None:
    """Drop every lease this process holds (see RateLimiter.forget_leases)."""
    for each in list(_every_limiter):
        each.forget_leases()


# A worker forked from a process holding leases would spend the same reserved units twice.
os.register_at_fork(after_in_child=forget_leases)
