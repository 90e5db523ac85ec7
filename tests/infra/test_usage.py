"""Success counts: kept in memory per process, sent to Redis by a timer in one pipeline."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from django.conf import settings

from infra.usage import UsageCounter


def test_counts_wait_in_memory_then_the_timer_sends_them_without_a_request() -> None:
    counter = UsageCounter(settings.RATE_LIMIT_REDIS_URL, flush_seconds=0.2)
    scope, who = f"test_{uuid.uuid4().hex}", str(uuid.uuid4())
    client = redis.Redis.from_url(settings.RATE_LIMIT_REDIS_URL)

    for _ in range(3):
        counter.add(scope, who, "Okta SCIM Client 1.0.0")
    assert client.zscore(f"hc:last:{scope}", who) is None  # nothing sent on the request path

    deadline = time.monotonic() + 10
    while client.zscore(f"hc:last:{scope}", who) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    usage = counter.read(scope, [who])[who]

    assert usage.successes_24h == 3
    assert usage.user_agent == "Okta SCIM Client 1.0.0"
    assert usage.last_success is not None and usage.last_success <= time.time()


def test_redis_away_drops_the_counts_and_reads_nothing(caplog: pytest.LogCaptureFixture) -> None:
    counter = UsageCounter("redis://127.0.0.1:1/0", flush_seconds=60)
    counter.add("scope", "who", "Okta")

    counter.flush()

    assert "dropped" in caplog.text
    assert counter.read("scope", ["who"]) == {}
