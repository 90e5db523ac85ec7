"""Credentials at the SCIM API: Bearer and Basic, this company only, effective at once."""

import base64
import datetime as dt
import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import Company
from tokens.models import Credential
from tokens.secrets import BASIC_SECRET_PREFIX, generate_secret
from tokens.services import (
    IssuedCredential,
    basic_issue,
    basic_regenerate,
    credential_revoke,
    token_issue,
)

SPC = "/t/{slug}/scim/v2/ServiceProviderConfig"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def basic(username: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


def issue_token(company: Company, name: str = "Okta") -> IssuedCredential:
    with schema_context(company.schema_name):
        return token_issue(company=company, name=name, actor="tests")


def issue_basic(company: Company) -> IssuedCredential:
    with schema_context(company.schema_name):
        return basic_issue(company=company, actor="tests")


def assert_scim_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    return body


def test_bearer_token_opens_the_api(acme: Company, client: Client) -> None:
    issued = issue_token(acme)

    response = client.get(SPC.format(slug="acme"), **bearer(issued.secret))

    assert response.status_code == 200
    assert response.json()["schemas"] == [
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    ]


def test_basic_credentials_open_the_api(acme: Company, client: Client) -> None:
    issued = issue_basic(acme)

    response = client.get(
        SPC.format(slug="acme"), **basic(issued.credential.username, issued.secret)
    )

    assert response.status_code == 200


def test_bare_token_without_scheme_is_accepted(acme: Company, client: Client) -> None:
    issued = issue_token(acme)

    response = client.get(SPC.format(slug="acme"), HTTP_AUTHORIZATION=issued.secret)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer non-token",
        "Bearer ",
        "Bearer hct_" + "a" * 38,
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"scim-nobody:hcb_secret").decode(),
        "Digest abc",
        "Token abc",
    ],
)
def test_bad_credentials_are_scim_401s_with_a_challenge(
    acme: Company, client: Client, header: str
) -> None:
    response = client.get(SPC.format(slug="acme"), HTTP_AUTHORIZATION=header)

    assert_scim_error(response, 401)
    assert "Bearer" in response["WWW-Authenticate"]


def test_a_company_credential_is_refused_at_another_company(
    acme: Company, outsider: Company, client: Client
) -> None:
    token = issue_token(acme)
    pair = issue_basic(acme)

    refused_bearer = client.get(SPC.format(slug="outsider"), **bearer(token.secret))
    refused_basic = client.get(
        SPC.format(slug="outsider"), **basic(pair.credential.username, pair.secret)
    )

    assert_scim_error(refused_bearer, 401)
    assert_scim_error(refused_basic, 401)


def test_revoked_token_fails_on_the_next_request(acme: Company, client: Client) -> None:
    issued = issue_token(acme)
    assert client.get(SPC.format(slug="acme"), **bearer(issued.secret)).status_code == 200

    with schema_context(acme.schema_name):
        credential_revoke(credential_id=str(issued.credential.pk), actor="tests")

    assert_scim_error(client.get(SPC.format(slug="acme"), **bearer(issued.secret)), 401)


def test_wrong_basic_secret_and_a_regenerated_secret_fail(acme: Company, client: Client) -> None:
    issued = issue_basic(acme)
    username = issued.credential.username
    wrong = generate_secret(BASIC_SECRET_PREFIX)
    with schema_context(acme.schema_name):
        renewed = basic_regenerate(
            company=acme, credential_id=str(issued.credential.pk), actor="tests"
        )

    assert_scim_error(client.get(SPC.format(slug="acme"), **basic(username, wrong)), 401)
    assert_scim_error(client.get(SPC.format(slug="acme"), **basic(username, issued.secret)), 401)
    assert client.get(SPC.format(slug="acme"), **basic(username, renewed.secret)).status_code == 200


def test_expired_token_fails_and_says_so(acme: Company, client: Client) -> None:
    issued = issue_token(acme)
    with schema_context(acme.schema_name):
        Credential.objects.filter(pk=issued.credential.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )

    body = assert_scim_error(client.get(SPC.format(slug="acme"), **bearer(issued.secret)), 401)

    assert "expired" in body["detail"]


def test_scim_switched_off_is_a_403_with_a_clear_detail(acme: Company, client: Client) -> None:
    issued = issue_token(acme)
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    body = assert_scim_error(client.get(SPC.format(slug="acme"), **bearer(issued.secret)), 403)

    assert (
        body["detail"]
        == "SCIM provisioning is not active for Acme Inc. Contact support to activate it."
    )
    Company.objects.filter(pk=acme.pk).update(scim_enabled=True)
    assert client.get(SPC.format(slug="acme"), **bearer(issued.secret)).status_code == 200


def test_suspended_company_is_a_403(acme: Company, client: Client) -> None:
    issued = issue_token(acme)
    Company.objects.filter(pk=acme.pk).update(status=Company.Status.SUSPENDED)

    body = assert_scim_error(client.get(SPC.format(slug="acme"), **bearer(issued.secret)), 403)

    assert "suspended" in body["detail"]


def test_use_is_recorded_with_the_client_ip(acme: Company, client: Client) -> None:
    issued = issue_token(acme)

    client.get(SPC.format(slug="acme"), REMOTE_ADDR="198.51.100.7", **bearer(issued.secret))

    with schema_context(acme.schema_name):
        stored = Credential.objects.get(pk=issued.credential.pk)
        assert stored.last_used_at is not None and stored.last_used_ip == "198.51.100.7"
        assert stored.events.filter(action="first_used", ip="198.51.100.7").exists()


def test_writes_to_discovery_are_405(acme: Company, client: Client) -> None:
    issued = issue_token(acme)

    response = client.post(
        SPC.format(slug="acme"), data="test", content_type="text/plain", **bearer(issued.secret)
    )

    assert_scim_error(response, 405)


def test_secrets_never_reach_the_logs(
    acme: Company, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = issue_token(acme)
    pair = issue_basic(acme)

    client.get(SPC.format(slug="acme"), **bearer(issued.secret))
    client.get(SPC.format(slug="acme"), **basic(pair.credential.username, pair.secret))
    client.get(SPC.format(slug="outsider"), **bearer(issued.secret))
    with schema_context(acme.schema_name):
        credential_revoke(credential_id=str(issued.credential.pk), actor="tests")
    client.get(SPC.format(slug="acme"), **bearer(issued.secret))

    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    assert caplog.records, "the requests above log something (401/403 warnings at least)"
    assert issued.secret not in logged
    assert pair.secret not in logged
    assert (
        base64.b64encode(f"{pair.credential.username}:{pair.secret}".encode()).decode()
        not in logged
    )


def test_token_issue_command_prints_only_the_secret(acme: Company, client: Client) -> None:
    connection.set_schema_to_public()
    out = StringIO()

    call_command("token_issue", "--company", "acme", "--name", "Automation", stdout=out)
    secret = out.getvalue().strip()
    basic_out = StringIO()
    call_command("token_issue", "--company", "acme", "--name", "Basic", "--basic", stdout=basic_out)
    username, _, basic_secret = basic_out.getvalue().strip().partition(":")

    assert secret.startswith("hct_") and "\n" not in secret
    assert client.get(SPC.format(slug="acme"), **bearer(secret)).status_code == 200
    assert client.get(SPC.format(slug="acme"), **basic(username, basic_secret)).status_code == 200


def test_token_issue_command_refuses_while_scim_is_off(acme: Company) -> None:
    connection.set_schema_to_public()
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    with pytest.raises(CommandError, match="not active"):
        call_command("token_issue", "--company", "acme", "--name", "Automation", stdout=StringIO())
    with pytest.raises(CommandError, match="No company"):
        call_command("token_issue", "--company", "nobody", "--name", "x", stdout=StringIO())


def test_a_token_ending_outside_ascii_is_a_401_not_a_server_error(
    acme: Company, client: Client
) -> None:
    # A header is read as Latin-1: any byte can arrive. Its checksum is compared in constant
    # time, which raises on non-ASCII text; both requests, the second with the schema known
    # to routing, must refuse it as any malformed token.
    issue_token(acme)
    token = f"hct_{'a' * 32}ABCDE\u00e9"

    for _ in range(2):
        response = client.get(SPC.format(slug="acme"), **bearer(token))

        assert response.status_code == 401, response.content
        assert response.json()["schemas"] == [ERROR]


@pytest.mark.parametrize("where", ["username", "secret"])
def test_a_nul_hidden_in_basic_credentials_is_a_401_not_a_server_error(
    acme: Company, client: Client, where: str
) -> None:
    # The request edge refuses NUL in headers; base64 hides one from it. A well-formed secret
    # (its checksum is public) makes the lookup run: twice, so the second request's lookup
    # rides in the route's own statement.
    issued = issue_basic(acme)
    username, secret = str(issued.credential.username), generate_secret(BASIC_SECRET_PREFIX)
    if where == "username":
        username = username[:4] + "\x00" + username[4:]
    else:
        secret = secret[:6] + "\x00" + secret[6:]

    for _ in range(2):
        response = client.get(SPC.format(slug="acme"), **basic(username, secret))

        assert response.status_code == 401, response.content
        assert response.json()["schemas"] == [ERROR]
