"""Counts of successful SCIM requests per credential, kept without a round trip per request.

Why not a database row or a Redis call per request: a successful read is the hot path, and
every round trip on it is the product's cost per company (issue #21). Each process adds up
its successes in memory; a timer thread sends them to Redis in one pipeline
`FLUSH_SECONDS` after the first uncounted one, so no request ever waits on it and a quiet
process still sends its last counts. What that costs: a process that dies loses at most its
last interval of counts, and the Overview shows other processes' successes up to one
interval late. Failures are not counted here: they are always stored in the company's
schema (directory/traffic.py).

Per (scope, who) — a company's schema and a credential id — Redis holds:
- `hc:use:<scope>:<who>:<hour>`: successes in that UTC hour (kept 26 hours);
- `hc:last:<scope>`: a sorted set, each credential scored with its latest success (epoch s);
- `hc:ua:<scope>`: a hash of each credential's latest User-Agent.
Redis away: counts are dropped with one warning, and nothing waits for it (fails open like the
rate limiter).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
HOUR_KEY_SECONDS = 26 * 3600
LATEST_KEY_SECONDS = 60 * 86400
KEY_PREFIX = "hc:use:"


@dataclass(frozen=True)
class Usage:
    """What Redis knows of one credential's successes."""

    successes_24h: int = 0
    last_success: float | None = None  # epoch seconds
    user_agent: str = ""


def _hour(epoch: float) -> int:
    return int(epoch // 3600)


class UsageCounter:
    def __init__(self, url: str, *, flush_seconds: float = FLUSH_SECONDS, timeout: float = 0.25):
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._latest: dict[tuple[str, str], tuple[float, str]] = {}
        self._timer: threading.Timer | None = None

    def add(self, scope: str, who: str, user_agent: str) -> None:
        """Count one success of `who` in `scope`, in memory; the first count after a flush
        schedules the next one (a daemon timer thread, so the request never waits)."""
        now = time.time()
        with self._lock:
            self._counts[(scope, who, _hour(now))] += 1
            self._latest[(scope, who)] = (now, user_agent[:200])
            if self._timer is None:
                self._timer = threading.Timer(self._flush_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send this process's counts to Redis in one pipeline (nothing when there are none)."""
        with self._lock:
            counts, latest = self._counts, self._latest
            self._counts, self._latest = Counter(), {}
            if self._timer is not None:
                self._timer.cancel()  # a no-op when this is the timer's own call
                self._timer = None
        if not counts and not latest:
            return
        pipe = self._client.pipeline(transaction=False)
        for (scope, who, hour), count in counts.items():
            key = f"{KEY_PREFIX}{scope}:{who}:{hour}"
            pipe.incrby(key, count)
            pipe.expire(key, HOUR_KEY_SECONDS)
        for (scope, who), (when, user_agent) in latest.items():
            pipe.zadd(f"hc:last:{scope}", {who: when}, gt=True)
            pipe.expire(f"hc:last:{scope}", LATEST_KEY_SECONDS)
            pipe.hset(f"hc:ua:{scope}", who, user_agent)
            pipe.expire(f"hc:ua:{scope}", LATEST_KEY_SECONDS)
        try:
            pipe.execute()
        except redis.RedisError as error:
            logger.warning(
                "Success counts of SCIM requests were dropped: Redis is unreachable (%s).",
                type(error).__name__,
            )

    def read(self, scope: str, whos: Sequence[str]) -> dict[str, Usage]:
        """Successes of each of `whos` in the last 24 hours (by whole UTC hours: up to 25),
        their latest success and User-Agent; one round trip. Empty when Redis is away."""
        if not whos:
            return {}
        hours = range(_hour(time.time()) - 24, _hour(time.time()) + 1)
        pipe = self._client.pipeline(transaction=False)
        for who in whos:
            pipe.mget([f"{KEY_PREFIX}{scope}:{who}:{hour}" for hour in hours])
        pipe.zmscore(f"hc:last:{scope}", list(whos))
        pipe.hmget(f"hc:ua:{scope}", list(whos))
        try:
            results = pipe.execute()
        except redis.RedisError as error:
            logger.warning("Success counts unavailable: Redis is unreachable (%s).", type(error))
            return {}
        latest, agents = results[-2], results[-1]
        usage = {}
        for index, who in enumerate(whos):
            agent = agents[index]
            usage[who] = Usage(
                successes_24h=sum(int(value) for value in results[index] if value is not None),
                last_success=latest[index],
                user_agent=agent.decode("utf-8", "replace") if agent else "",
            )
        return usage


_counters: dict[str, UsageCounter] = {}
_counters_lock = threading.Lock()


def usage_counter() -> UsageCounter:
    """The process-wide counter on settings.RATE_LIMIT_REDIS_URL (the rate limiter's Redis)."""
    url = settings.RATE_LIMIT_REDIS_URL
    found = _counters.get(url)
    if found is not None:
        return found
    with _counters_lock:
        if url not in _counters:
            _counters[url] = UsageCounter(url, flush_seconds=settings.SCIM_USAGE_FLUSH_SECONDS)
        return _counters[url]
