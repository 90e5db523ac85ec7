"""Rate limits spent from leases (infra/ratelimit.py): most requests make no round trip to
Redis, yet the limits stay global across processes and servers, a lowered limit applies at
once, and failed sign-ins are still counted exactly.

Real Redis throughout; real processes (forked, and two gunicorn workers) where sharing a
limit is the point.
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client

from infra import ratelimit
from tenants.models import Company
from tenants.services import company_update_settings
from tests.live import gunicorn_server, live_scim_company
from tests.scim.test_authentication import basic, bearer, issue_basic, issue_token
from tests.security.test_rate_limits import ATTACKER, IDP, assert_throttled, get

START = 3_000_000 * 60.0  # the start of a window


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    now = {"now": START + 30}
    monkeypatch.setattr(ratelimit.time, "time", lambda: now["now"])
    return now


@pytest.fixture
def store() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(django_settings.RATE_LIMIT_REDIS_URL)
    yield client
    client.close()


def counted(store: redis.Redis, key: str, at: float) -> int:
    """What Redis counts under `key` in the fixed window holding `at`."""
    window = int(at * 1000) // (ratelimit.WINDOW_SECONDS * 1000)
    return int(store.get(f"{ratelimit.KEY_PREFIX}{key}:{window}") or 0)


def fresh_limiter() -> ratelimit.RateLimiter:
    return ratelimit.RateLimiter(django_settings.RATE_LIMIT_REDIS_URL, timeout=1)


def test_a_cost_over_the_whole_limit_is_refused_with_a_real_wait(clock: dict[str, float]) -> None:
    # A /Bulk request costs one unit per operation; on an empty window the script divided by
    # the current count (0) and answered Retry-After: 1, to be retried forever.
    limiter = fresh_limiter()

    verdict = limiter.check([ratelimit.Limit("tests:whole", per_minute=3, cost=5)])

    assert not verdict.allowed
    # The rest of this window (30 s) and the whole next one: when the limit is entirely free.
    assert verdict.retry_after == 90


def test_a_process_reserves_a_lease_and_spends_it_without_asking_redis(
    clock: dict[str, float], store: redis.Redis
) -> None:
    limiter = fresh_limiter()
    limit = ratelimit.Limit("tests:lease", per_minute=6000, leased=True)

    first = limiter.check([limit])
    after_first = counted(store, "tests:lease", clock["now"])
    spent_locally = [limiter.check([limit]).allowed for _ in range(ratelimit.LEASE_UNITS)]
    after_lease = counted(store, "tests:lease", clock["now"])
    limiter.check([limit])

    assert first.allowed and all(spent_locally)
    # The first request and its lease are counted at once; the lease's requests add nothing.
    assert after_first == after_lease == 1 + ratelimit.LEASE_UNITS
    assert counted(store, "tests:lease", clock["now"]) == 2 * (1 + ratelimit.LEASE_UNITS)


def test_a_limit_that_is_nearly_full_is_checked_request_by_request(
    clock: dict[str, float], store: redis.Redis
) -> None:
    limiter, other_process = fresh_limiter(), fresh_limiter()
    limit = ratelimit.Limit("tests:full", per_minute=60, leased=True)

    admitted = [limiter.check([limit]).allowed for _ in range(60)]
    # Another process, asking once the limit is spent: nothing of it is left unspent anywhere.
    refused = other_process.check([limit])

    assert admitted == [True] * 60
    assert not refused.allowed and refused.refused_by == limit
    assert counted(store, "tests:full", clock["now"]) == 60


def test_unspent_units_go_back_when_the_window_turns(
    clock: dict[str, float], store: redis.Redis
) -> None:
    limiter = fresh_limiter()
    limit = ratelimit.Limit("tests:turn", per_minute=1000, leased=True)
    limiter.check([limit])
    first_window = clock["now"]

    clock["now"] = START + 60 + 1
    limiter.check([limit])

    # The old window keeps only the request really made in it: its share of the sliding
    # window must not hold back the next minute's requests.
    assert counted(store, "tests:turn", first_window) == 1
    assert counted(store, "tests:turn", clock["now"]) == 1 + ratelimit.LEASE_UNITS


def _spend_until_refused(
    limiter: ratelimit.RateLimiter, limit: ratelimit.Limit, out: multiprocessing.Queue[int]
) -> None:
    admitted, refusals_in_a_row = 0, 0
    while refusals_in_a_row < 3:
        if limiter.check([limit]).allowed:
            admitted, refusals_in_a_row = admitted + 1, 0
        else:
            refusals_in_a_row += 1
    out.put(admitted)


def test_processes_sharing_a_limit_never_admit_more_than_it_together(
    clock: dict[str, float], store: redis.Redis
) -> None:
    """Four processes forked from one that holds a lease, on a limit of 500 in one window:
    exactly 500 units are used, and the parent's unspent lease is the only early refusal.
    Forked children must not spend the lease they inherited (it would be spent five times)."""
    limiter = fresh_limiter()
    limit = ratelimit.Limit("tests:shared", per_minute=500, leased=True)
    assert limiter.check([limit]).allowed  # this process now holds a lease it will not spend
    fork = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[int] = fork.Queue()

    children = [
        fork.Process(target=_spend_until_refused, args=(limiter, limit, out)) for _ in range(4)
    ]
    for child in children:
        child.start()
    admitted_by_children = [out.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=10)

    assert counted(store, "tests:shared", clock["now"]) == 500
    assert 1 + sum(admitted_by_children) == 500 - ratelimit.LEASE_UNITS


def test_a_lowered_company_limit_applies_on_the_next_request(acme: Company, client: Client) -> None:
    token = issue_token(acme)
    assert get(client, "acme", IDP, **bearer(token.secret)).status_code == 200  # lease taken

    company_update_settings(company=acme, actor="support", policies={"scim_rate_limit": 1})
    refused = get(client, "acme", IDP, **bearer(token.secret))

    # Not admitted from the lease taken under the old limit of 12,000.
    assert_throttled(refused, "Acme Inc has reached its limit of 1 SCIM requests per minute")


def test_a_leased_basic_credential_is_still_locked_for_a_guessing_address(
    acme: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 2  # type: ignore[attr-defined]
    pair = issue_basic(acme)
    username = pair.credential.username or ""
    # The IdP's own requests from the shared address: this process now holds leases of the
    # company's and the credential's limits.
    assert get(client, "acme", ATTACKER, **basic(username, pair.secret)).status_code == 200

    guesses = [get(client, "acme", ATTACKER, **basic(username, f"hcb_no{n}")) for n in range(2)]
    right_secret = get(client, "acme", ATTACKER, **basic(username, pair.secret))

    assert [guess.status_code for guess in guesses] == [401, 401]
    assert_throttled(right_secret, "Too many failed sign-in attempts from this address")


def _wait_for_room_in_this_minute(seconds: float) -> None:
    # The fixed windows turn on the minute; a burst across the turn is judged by the sliding
    # window (which lets a little more in), not by one window's count.
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.5)


@pytest.mark.live
@pytest.mark.django_db
def test_two_server_workers_sharing_a_limit_admit_at_most_it(
    django_db_blocker: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two gunicorn workers (4 threads each), 240 requests from 8 connections, a credential
    limit of 200: leases are taken (200 is well above what is checked request by request),
    and no more than 200 get in; fewer only by what a worker still holds unspent."""
    limit, sent = 200, 240
    with (
        gunicorn_server(tmp_path, SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE=str(limit)) as base,
        live_scim_company(django_db_blocker) as live,
    ):
        url = urlsplit(base)
        path = f"/t/{live.company.slug}/scim/v2/Users?count=1"
        statuses: list[int] = []
        retry_after: set[str] = set()
        lock = threading.Lock()

        def caller(requests: int) -> None:
            connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
            for _ in range(requests):
                connection.request("GET", path, headers={"Authorization": f"Bearer {live.bearer}"})
                response = connection.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
                    if response.status == 429:
                        retry_after.add(response.getheader("Retry-After") or "")
            connection.close()

        _wait_for_room_in_this_minute(40)
        threads = [threading.Thread(target=caller, args=(sent // 8,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    answers = Counter(statuses)
    assert set(answers) == {200, 429}
    assert limit - 2 * ratelimit.LEASE_UNITS <= answers[200] <= limit
    assert all(value.isdigit() and 1 <= int(value) <= 120 for value in retry_after)
