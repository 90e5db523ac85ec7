"""Every SCIM request that reaches a company is visible to it: refusals and failures as
coalesced rows in its schema, successes as counters in Redis (no round trip of their own)."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from directory import traffic
from directory.models import RequestTally
from tenants.models import Company
from tests.scim_client import Scim
from tokens.models import Credential
from tokens.secrets import BEARER_PREFIX, display_prefix, generate_secret
from tokens.services import basic_issue, credential_revoke, token_issue

SPC = "/t/acme/scim/v2/ServiceProviderConfig"
USERS = "/t/acme/scim/v2/Users"
OKTA = "Okta SCIM Client 1.0.0"


def tallies(company: Company) -> list[RequestTally]:
    with schema_context(company.schema_name):
        return list(RequestTally.objects.order_by("id"))


def call(client: Client, secret: str, path: str = SPC, **headers: str) -> object:
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_USER_AGENT=OKTA, **headers)


def test_a_wrong_token_is_recorded_by_its_display_prefix_never_the_token(
    acme: Company, client: Client
) -> None:
    wrong = generate_secret(BEARER_PREFIX)

    response = call(client, wrong)

    assert response.status_code == 401
    (row,) = tallies(acme)
    assert (row.cause, row.status, row.count) == ("rejected", 401, 1)
    assert row.caller == display_prefix(wrong, BEARER_PREFIX)
    assert row.credential_id is None
    assert row.request_id == response["X-Request-ID"]
    assert row.idp == OKTA
    assert row.path == "/t/acme/scim/v2/ServiceProviderConfig"
    stored = " ".join(str(value) for value in RequestTally.objects.values_list().get())
    assert wrong not in stored and wrong[len(BEARER_PREFIX) + 8 :] not in stored


def test_a_revoked_token_is_recorded_as_that_credential_and_answers_like_an_unknown_one(
    acme: Company, client: Client
) -> None:
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Okta production", actor="tests")
        credential_revoke(credential_id=str(issued.credential.pk), actor="tests")

    revoked = call(client, issued.secret)
    unknown = call(client, generate_secret(BEARER_PREFIX))

    assert revoked.status_code == unknown.status_code == 401
    assert revoked.json() == unknown.json()  # the 401 does not say the credential exists
    assert revoked["WWW-Authenticate"] == unknown["WWW-Authenticate"]
    first, second = tallies(acme)
    assert (first.cause, first.credential_id, first.caller) == (
        "revoked",
        issued.credential.pk,
        str(issued.credential.pk),
    )
    assert second.cause == "rejected"


def test_a_basic_pair_of_a_revoked_credential_is_named_a_wrong_secret_is_not(
    acme: Company, client: Client
) -> None:
    with schema_context(acme.schema_name):
        issued = basic_issue(company=acme, actor="tests")
        credential_revoke(credential_id=str(issued.credential.pk), actor="tests")
    username = issued.credential.username

    def basic(secret: str) -> object:
        pair = base64.b64encode(f"{username}:{secret}".encode()).decode()
        return client.get(SPC, HTTP_AUTHORIZATION=f"Basic {pair}")

    assert basic(issued.secret).status_code == 401
    assert basic(generate_secret("hcb_")).status_code == 401

    revoked, guessed = tallies(acme)
    assert (revoked.cause, revoked.credential_id) == ("revoked", issued.credential.pk)
    assert (guessed.cause, guessed.credential_id, guessed.caller) == (
        "rejected",
        None,
        f"Basic {username}",
    )


def test_an_expired_token_and_no_credential_at_all_are_recorded(
    acme: Company, client: Client
) -> None:
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Okta", actor="tests")
        Credential.objects.filter(pk=issued.credential.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )

    call(client, issued.secret)
    client.get(SPC)

    expired, anonymous = tallies(acme)
    assert (expired.cause, expired.credential_id) == ("expired", issued.credential.pk)
    assert (anonymous.cause, anonymous.status) == ("no_credential", 401)


def test_scim_switched_off_is_recorded_with_the_credential_and_the_gates_words(
    acme: Company, scim: Scim
) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    response = scim.get("/Users")

    assert response.status_code == 403
    (row,) = tallies(acme)
    assert row.cause == "scim_off"
    assert row.credential_id is not None
    assert "not active" in row.detail


def test_a_flood_of_429s_is_one_row_with_a_count(
    acme: Company, scim: Scim, settings: pytest.FixtureRequest
) -> None:
    settings.SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE = 2  # type: ignore[attr-defined]
    # All seven within one minute: both the limiter's window and the tally's row are per
    # minute, and a flood straddling the turn of one is two rows with a weighted allowance.
    to_next_minute = 60 - time.time() % 60
    if to_next_minute < 5:
        time.sleep(to_next_minute + 0.1)

    statuses = [scim.get("/Users?count=1").status_code for _ in range(7)]

    assert statuses == [200, 200, 429, 429, 429, 429, 429]
    (row,) = tallies(acme)
    assert (row.cause, row.status, row.count) == ("rate_limited", 429, 5)
    assert row.first_at <= row.last_at


def test_failed_reads_are_kept_too(acme: Company, scim: Scim) -> None:
    scim.get("/Users/00000000-0000-0000-0000-000000000000")
    scim.get("/Users/00000000-0000-0000-0000-000000000001")

    (row,) = tallies(acme)
    assert (row.cause, row.status, row.count) == ("failed", 404, 2)
    assert row.detail == ""  # an error text may quote the request; the ledger has writes'


def test_successes_cost_no_statement_and_are_counted_in_redis(acme: Company, scim: Scim) -> None:
    scim.get("/Users?count=1")  # the first use of a credential writes its first-use row
    connection.set_schema_to_public()

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert scim.get("/Users?count=1").status_code == 200

    assert not any("requesttally" in q["sql"] for q in queries.captured_queries)
    assert tallies(acme) == []
    with schema_context(acme.schema_name):
        credential_id = str(Credential.objects.get(name="Okta").pk)
    usage = traffic.successes(acme.schema_name, [credential_id])[credential_id]
    assert usage.successes_24h == 4
    assert usage.user_agent == OKTA
    assert usage.last_success is not None


def test_retention_purges_old_tallies_only(acme: Company, client: Client) -> None:
    call(client, generate_secret(BEARER_PREFIX))
    client.get(SPC)
    with schema_context(acme.schema_name):
        old = RequestTally.objects.order_by("id").first()
        assert old is not None
        RequestTally.objects.filter(pk=old.pk).update(
            last_at=timezone.now() - dt.timedelta(days=31)
        )

        deleted = traffic.tallies_purge(30)

        assert deleted == 1
        assert list(RequestTally.objects.values_list("cause", flat=True)) == ["no_credential"]


def test_a_malformed_token_keeps_nothing_of_what_was_sent(acme: Company, client: Client) -> None:
    call(client, "hco_not-a-real-token-but-someones-secret")
    call(client, "something-secret-ish")

    (row,) = tallies(acme)  # both malformed: one caller, one row
    assert (row.caller, row.count) == ("malformed token", 2)


def test_a_mistyped_token_is_recorded_as_malformed_not_as_unknown(
    acme: Company, client: Client
) -> None:
    # Its shape is ours, so routing looks its hash up with the route; its checksum still
    # tells support it was mistyped, and keeps its characters out of the record.
    token = generate_secret(BEARER_PREFIX)
    typo = token[:-1] + ("x" if token[-1] != "x" else "y")
    client.get(SPC)  # learn the schema: the next request's read rides with the route

    call(client, typo)

    (row,) = [row for row in tallies(acme) if row.cause != "no_credential"]
    assert (row.caller, row.cause, row.status) == ("malformed token", "rejected", 401)


def test_a_secret_pasted_as_the_basic_username_is_not_kept(acme: Company, client: Client) -> None:
    # People swap the fields or paste the token into the username: only a username of the
    # shape Headcount issues is kept.
    token = generate_secret(BEARER_PREFIX)
    for username in (token, "hcb_someone-s-secret-value", "scim-abc"):
        pair = base64.b64encode(f"{username}:x".encode()).decode()
        client.get(SPC, HTTP_AUTHORIZATION=f"Basic {pair}")

    rows = tallies(acme)
    assert {row.caller for row in rows} == {"Basic (unrecognised username)"}
    assert all(token not in str(vars(row)) for row in rows)


# --- Refusals before the view ---------------------------------------------------------------


def test_a_nul_refused_at_the_request_edge_is_tallied_for_the_company(
    acme: Company, scim: Scim
) -> None:
    response = scim.client.get(
        f"{USERS}?filter=userName%20eq%20%22a%00b%22",
        HTTP_AUTHORIZATION=f"Bearer {scim.token}",
        HTTP_USER_AGENT=OKTA,
    )

    assert response.status_code == 400
    (row,) = tallies(acme)
    assert (row.cause, row.status, row.count) == ("failed", 400, 1)
    assert row.path == USERS
    assert row.request_id == response["X-Request-ID"]
    assert row.idp == OKTA
    assert "query string" in row.detail


def test_a_body_over_the_request_limit_is_tallied(
    acme: Company, scim: Scim, settings: pytest.FixtureRequest
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = scim.client.post(
        USERS,
        data=b'{"userName": "' + b"x" * 2000 + b'"}',
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {scim.token}",
    )

    assert response.status_code == 413
    (row,) = tallies(acme)
    assert (row.cause, row.status) == ("failed", 413)


def test_an_unknown_scim_endpoint_is_tallied(acme: Company, scim: Scim) -> None:
    response = scim.get("/Userz")

    assert response.status_code == 404
    (row,) = tallies(acme)
    assert (row.cause, row.status, row.path) == ("failed", 404, "/t/acme/scim/v2/Userz")


def test_an_unknown_company_leaves_no_tally_anywhere(acme: Company, client: Client) -> None:
    response = client.get("/t/nobody/scim/v2/Users%00", HTTP_USER_AGENT=OKTA)

    assert response.status_code in (400, 404)
    assert tallies(acme) == []
