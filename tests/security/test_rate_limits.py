"""Rate limits on the SCIM API: per company, per credential, failed sign-ins per address.

Counters live in the real Redis; `clear_rate_limits` (autouse in conftest) starts every test
from zero.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import Member
from infra import ratelimit
from tenants.models import Company
from tenants.services import company_update_settings
from tests.live import gunicorn_server, live_scim_company
from tests.provisioning_ui.test_members import signed_in
from tests.scim.test_authentication import (
    assert_scim_error,
    basic,
    bearer,
    issue_basic,
    issue_token,
)
from tokens.models import Credential

USERS = "/t/{slug}/scim/v2/Users"
ATTACKER = "203.0.113.66"
IDP = "198.51.100.20"


def get(client: Client, slug: str, ip: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.get(USERS.format(slug=slug), REMOTE_ADDR=ip, **headers)


def assert_throttled(response, mentions: str) -> int:  # type: ignore[no-untyped-def]
    body = assert_scim_error(response, 429)
    assert mentions in body["detail"]
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 120  # the rest of this window plus a share of the next
    assert f"Retry after {wait} s" in body["detail"]
    return wait


def test_one_credential_is_held_to_its_own_limit(
    acme: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE = 3  # type: ignore[attr-defined]
    busy, other = issue_token(acme, "Okta"), issue_token(acme, "Entra")

    answers = [get(client, "acme", IDP, **bearer(busy.secret)).status_code for _ in range(3)]
    refused = get(client, "acme", IDP, **bearer(busy.secret))

    assert answers == [200, 200, 200]
    assert_throttled(refused, "This credential has reached its limit of 3 requests per minute")
    # The company's other connection is not held back by the busy one.
    assert get(client, "acme", IDP, **bearer(other.secret)).status_code == 200


def test_the_company_limit_counts_every_credential_together(acme: Company, client: Client) -> None:
    company_update_settings(company=acme, actor="support", policies={"scim_rate_limit": 4})
    token, pair = issue_token(acme), issue_basic(acme)
    username = pair.credential.username or ""

    answers = [
        get(client, "acme", IDP, **bearer(token.secret)).status_code,
        get(client, "acme", IDP, **basic(username, pair.secret)).status_code,
        get(client, "acme", IDP, **bearer(token.secret)).status_code,
        get(client, "acme", IDP, **basic(username, pair.secret)).status_code,
    ]
    refused = get(client, "acme", IDP, **bearer(token.secret))

    assert answers == [200, 200, 200, 200]
    assert_throttled(refused, "Acme Inc has reached its limit of 4 SCIM requests per minute")


def test_a_refused_request_changes_nothing(acme: Company, client: Client) -> None:
    company_update_settings(company=acme, actor="support", policies={"scim_rate_limit": 1})
    token = issue_token(acme)
    get(client, "acme", IDP, **bearer(token.secret))

    response = client.post(
        USERS.format(slug="acme"),
        data='{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@y.z"}',
        content_type="application/scim+json",
        REMOTE_ADDR=IDP,
        **bearer(token.secret),
    )

    assert_throttled(response, "limit of 1 SCIM requests per minute")
    with schema_context(acme.schema_name):
        assert not Member.objects.filter(user_name="x@y.z").exists()


def test_zero_means_unlimited(acme: Company, client: Client) -> None:
    company_update_settings(company=acme, actor="support", policies={"scim_rate_limit": 0})
    token = issue_token(acme)

    answers = {get(client, "acme", IDP, **bearer(token.secret)).status_code for _ in range(30)}

    assert answers == {200}


def test_unknown_tokens_are_cut_off_but_a_valid_token_still_gets_in(
    acme: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 3  # type: ignore[attr-defined]
    right = issue_token(acme)

    guesses = [
        get(client, "acme", ATTACKER, **bearer(f"hct_guess{n}")).status_code for n in range(3)
    ]
    cut_off = get(client, "acme", ATTACKER, **bearer("hct_guess4"))
    # A junk-token sender shares Okta's and Entra's addresses with the company's real
    # connector; refusing valid tokens too would let anyone lock that connector out.
    valid_from_same_address = get(client, "acme", ATTACKER, **bearer(right.secret))

    assert guesses == [401, 401, 401]
    assert_throttled(cut_off, "Too many failed sign-in attempts from this address")
    assert valid_from_same_address.status_code == 200


def test_guessing_a_basic_secret_locks_that_username_from_that_address_right_secret_included(
    acme: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 2  # type: ignore[attr-defined]
    guessed, token = issue_basic(acme), issue_token(acme)
    username = guessed.credential.username or ""

    answers = [
        get(client, "acme", ATTACKER, **basic(username, f"hcb_wrong{n}")).status_code
        for n in range(3)
    ]
    right_secret = get(client, "acme", ATTACKER, **basic(username, guessed.secret))

    assert answers == [401, 401, 429]
    # Once locked, the right secret answers exactly like a wrong one: guessing learns nothing.
    assert_throttled(right_secret, "Too many failed sign-in attempts from this address")
    # The identity provider's own address, and the company's token, are not affected.
    assert get(client, "acme", IDP, **basic(username, guessed.secret)).status_code == 200
    assert get(client, "acme", ATTACKER, **bearer(token.secret)).status_code == 200


def test_failed_sign_ins_at_one_company_do_not_lock_the_address_out_of_another(
    acme: Company, outsider: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    # Okta and Entra call every company from the same few addresses.
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 2  # type: ignore[attr-defined]
    outsider_token = issue_token(outsider)
    for n in range(3):
        get(client, "acme", ATTACKER, **bearer(f"hct_guess{n}"))

    assert get(client, "outsider", ATTACKER, **bearer(outsider_token.secret)).status_code == 200
    assert get(client, "outsider", ATTACKER, **bearer("hct_wrong")).status_code == 401


def test_an_expired_credential_is_not_counted_as_a_guess(
    acme: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 2  # type: ignore[attr-defined]
    expired = issue_token(acme)
    with schema_context(acme.schema_name):
        Credential.objects.filter(pk=expired.credential.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )

    answers = [get(client, "acme", IDP, **bearer(expired.secret)) for _ in range(4)]

    # The IdP keeps being told the real reason: the token expired.
    assert [answer.status_code for answer in answers] == [401] * 4
    assert "expired" in answers[-1].json()["detail"]


def test_behind_a_proxy_the_forwarded_address_is_the_one_limited(
    acme: Company, client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1  # type: ignore[attr-defined]
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 1  # type: ignore[attr-defined]
    balancer = "10.0.0.5"

    get(client, "acme", balancer, HTTP_X_FORWARDED_FOR=ATTACKER, **bearer("hct_nope"))
    attacker_again = get(
        client, "acme", balancer, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {ATTACKER}", **bearer("hct_x")
    )
    idp_typo = get(client, "acme", balancer, HTTP_X_FORWARDED_FOR=IDP, **bearer("hct_typo"))

    # The left-most entry is whatever the client wrote; only the proxy's own entry counts,
    # and the balancer's own address is not what is limited.
    assert attacker_again.status_code == 429
    assert idp_typo.status_code == 401


def test_redis_away_lets_every_request_through_and_says_so_once(
    acme: Company,
    client: Client,
    settings: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on port 1: the same as Redis being down.
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    settings.SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE = 1  # type: ignore[attr-defined]
    token = issue_token(acme)

    with caplog.at_level(logging.WARNING, logger="infra.ratelimit"):
        answers = [get(client, "acme", IDP, **bearer(token.secret)).status_code for _ in range(5)]

    assert answers == [200] * 5
    warnings = [r for r in caplog.records if "Rate limiting is off" in r.getMessage()]
    assert len(warnings) == 1
    assert token.secret not in caplog.text


def test_the_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = ratelimit.RateLimiter(django_settings.RATE_LIMIT_REDIS_URL, timeout=1)
    limit = ratelimit.Limit("tests:window", per_minute=10)
    start = 1_000_000 * 60.0  # the start of a window
    clock = {"now": start + 30}
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock["now"])

    first = [limiter.check([limit]).allowed for _ in range(11)]
    over = limiter.check([limit])
    clock["now"] = start + 60 + 6  # what Retry-After said: 9 of the 10 still count, 1 fits
    after_waiting = limiter.check([limit]).allowed
    clock["now"] = start + 60 + 30  # half-way through the next window: half of 10 still counts
    second = [limiter.check([limit]).allowed for _ in range(5)]

    assert first == [True] * 10 + [False]
    # The rest of this window (30 s), then until a tenth of its 10 has slid out (6 s).
    assert over.retry_after == 36 and after_waiting
    assert second == [True] * 4 + [False]
    refused = limiter.check([limit])
    assert refused.refused_by == limit and 1 <= refused.retry_after <= 30


@pytest.mark.live
@pytest.mark.django_db
def test_the_limit_holds_across_server_workers_under_concurrency(
    django_db_blocker: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two gunicorn workers, 40 simultaneous requests, a limit of 15: exactly 15 get in."""
    import http.client
    from urllib.parse import urlsplit

    with (
        gunicorn_server(tmp_path, SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE="15") as base,
        live_scim_company(django_db_blocker) as live,
    ):
        url = urlsplit(base)
        path = USERS.format(slug=live.company.slug) + "?count=1"
        statuses: list[int] = []
        retry_after: set[str] = set()
        lock = threading.Lock()

        def call() -> None:
            connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
            connection.request("GET", path, headers={"Authorization": f"Bearer {live.bearer}"})
            response = connection.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)
                if response.status == 429:
                    retry_after.add(response.getheader("Retry-After") or "")
            connection.close()

        threads = [threading.Thread(target=call) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert Counter(statuses) == {200: 15, 429: 25}
    assert all(value.isdigit() and 1 <= int(value) <= 120 for value in retry_after)


def test_company_admins_see_their_limits_and_a_support_change_shows_at_once(
    acme: Company, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE = 600  # type: ignore[attr-defined]
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 20  # type: ignore[attr-defined]
    browser = signed_in(acme)

    company_update_settings(company=acme, actor="support", policies={"scim_rate_limit": 3000})
    limits = browser.get("/t/acme/").content.decode().split('id="rate-limits">')[1]
    company_update_settings(company=acme, actor="support", policies={"scim_rate_limit": 0})
    unlimited = browser.get("/t/acme/").content.decode().split('id="rate-limits">')[1]

    assert limits.startswith("3000 for Acme Inc, at most 600 per credential.")
    assert "After 20 failed sign-ins in a minute from one address" in limits
    assert "Valid tokens keep working." in limits
    assert unlimited.startswith("Unlimited for Acme Inc, at most 600 per credential.")
    assert (
        acme.events.filter(action="policy_changed", detail__policy="scim_rate_limit").count() == 2
    )


def test_retry_after_waits_for_the_limit_that_frees_up_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = ratelimit.RateLimiter(django_settings.RATE_LIMIT_REDIS_URL, timeout=1)
    soon = ratelimit.Limit("tests:soon", per_minute=10)
    late = ratelimit.Limit("tests:late", per_minute=10)
    start = 2_000_000 * 60.0  # the start of a window
    clock = {"now": start + 59}
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock["now"])
    for _ in range(10):
        limiter.check([soon])  # full at the very end of a window: frees up within seconds
    clock["now"] = start + 60.2
    for _ in range(10):
        limiter.check([late])  # full at the start of the next one: frees up in over a minute
    clock["now"] = start + 60.5

    both = limiter.check([soon, late])
    soon_alone = limiter.check([soon])

    assert (soon_alone.refused_by, soon_alone.retry_after) == (soon, 6)
    # One Retry-After must be enough for every limit: the longest wait, 59.5 s + 6 s.
    assert (both.refused_by, both.retry_after) == (late, 66)
