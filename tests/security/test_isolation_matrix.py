"""Isolation matrix, generated: every SCIM endpoint, every method, every kind of bad or
foreign credential gets the right SCIM error, and no response carries another company's
data. Then the same for the portal's object pages."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import Group, LedgerExport, Member, ProvisioningEvent, RetryBatch
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.served_client import ServedClient
from tokens import secrets as token_secrets
from tokens.models import Credential, OAuthToken
from tokens.services import (
    basic_issue,
    credential_revoke,
    oauth_connection_create,
    oauth_grant_create,
    token_issue,
    token_rotate,
)
from tokens.vendor_keys import vendor_key_issue, vendor_key_revoke

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ENDPOINTS = [
    "/Users",
    "/Users/{user}",
    "/Users/.search",
    "/Groups",
    "/Groups/{group}",
    "/Groups/.search",
    "/ServiceProviderConfig",
    "/Schemas",
    "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/.search",
    "/NoSuchEndpoint",
]
CREDENTIALS = [
    "none",
    "malformed",
    "unknown_token",
    "revoked_token",
    "expired_token",
    "other_company_bearer",
    "other_company_basic",
    "scim_switched_off",
    "viewer_portal_session",
    "other_company_oauth",
    "revoked_oauth",
    "expired_oauth",
    "oauth_scim_switched_off",
    # The vendor's key reads /api/v1/ only: it is no credential of any company's SCIM API.
    "vendor_key",
]
EXPECTED = {kind: 401 for kind in CREDENTIALS} | {
    "scim_switched_off": 403,
    "oauth_scim_switched_off": 403,
}
ACME_SECRETS = ("secret.person", "acme-ext-1", "Acme Secret Group")


def _basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def _oauth_access_token(company: Company, approver_email: str) -> tuple[str, Credential]:
    """An OAuth connection of `company` as a code exchange makes it (no HTTP needed here)."""
    approver = make_portal_user(company, email=approver_email)
    with schema_context(company.schema_name):
        grant = oauth_grant_create(
            company=company,
            code=token_secrets.generate_secret("code_"),
            client_id="okta",
            client_name="Okta",
            redirect_uri="https://okta.test/callback",
            scope="scim",
            code_challenge="",
            code_challenge_method="",
            approver=approver,
            ip=None,
        )
        access = token_secrets.generate_secret(token_secrets.OAUTH_ACCESS_PREFIX)
        refresh = token_secrets.generate_secret(token_secrets.OAUTH_REFRESH_PREFIX)
        credential = oauth_connection_create(
            grant=grant, access_token=access, refresh_token=refresh, ip=None
        )
    return access, credential


@pytest.fixture
def world(scim: Any, acme: Company, outsider: Company) -> dict[str, Any]:
    """acme with a user, a group and credentials in every state; outsider with its own."""
    user = scim.post(
        "/Users", {"userName": "secret.person@acme.test", "externalId": "acme-ext-1"}
    ).json()
    group = scim.post(
        "/Groups", {"displayName": "Acme Secret Group", "members": [{"value": user["id"]}]}
    ).json()
    with schema_context(acme.schema_name):
        revoked = token_issue(company=acme, name="revoked", actor="tests")
        credential_revoke(credential_id=str(revoked.credential.pk), actor="tests")
        expired = token_issue(company=acme, name="expired", actor="tests")
        Credential.objects.filter(pk=expired.credential.pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
        switched_off = token_issue(company=acme, name="for the switch", actor="tests")
    with schema_context(outsider.schema_name):
        foreign = token_issue(company=outsider, name="outsider", actor="tests")
        foreign_basic = basic_issue(company=outsider, actor="tests")
    make_portal_user(acme, email="viewer@acme.test", role="viewer")
    foreign_oauth, _ = _oauth_access_token(outsider, "olga.oauth@outsider.test")
    revoked_oauth, connection = _oauth_access_token(acme, "ada.oauth1@acme.test")
    expired_oauth, expired_connection = _oauth_access_token(acme, "ada.oauth2@acme.test")
    switched_off_oauth, _ = _oauth_access_token(acme, "ada.oauth3@acme.test")
    with schema_context(acme.schema_name):
        credential_revoke(credential_id=str(connection.pk), actor="tests")
        OAuthToken.objects.filter(credential=expired_connection).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    secrets = {
        "other_company_oauth": f"Bearer {foreign_oauth}",
        "revoked_oauth": f"Bearer {revoked_oauth}",
        "expired_oauth": f"Bearer {expired_oauth}",
        "oauth_scim_switched_off": f"Bearer {switched_off_oauth}",
        "malformed": "Bearer",
        "unknown_token": "Bearer hct_" + "A" * 38,
        "revoked_token": f"Bearer {revoked.secret}",
        "expired_token": f"Bearer {expired.secret}",
        "other_company_bearer": f"Bearer {foreign.secret}",
        "other_company_basic": _basic(
            foreign_basic.credential.username or "", foreign_basic.secret
        ),
        "scim_switched_off": f"Bearer {switched_off.secret}",
        "vendor_key": f"Bearer {vendor_key_issue(name='backend', actor='tests').secret}",
    }
    with schema_context(acme.schema_name):
        acme_basic = basic_issue(company=acme, actor="tests")
        acme_bearer = token_issue(company=acme, name="live", actor="tests")
    revoked_vendor = vendor_key_issue(name="revoked", actor="tests")
    vendor_key_revoke(key_id=str(revoked_vendor.key.pk), actor="tests")
    live_oauth, _ = _oauth_access_token(acme, "ada.oauth4@acme.test")
    secrets |= {
        "company_bearer": f"Bearer {acme_bearer.secret}",
        "company_basic": _basic(acme_basic.credential.username or "", acme_basic.secret),
        "company_oauth": f"Bearer {live_oauth}",
        "revoked_vendor_key": f"Bearer {revoked_vendor.secret}",
        "unknown_vendor_key": "Bearer hcv_" + "A" * 38,
    }
    return {"user": user, "group": group, "secrets": secrets}


VENDOR_ENDPOINTS = [
    "/events",
    "/events?company=acme",
    "/companies",
    "/companies/acme/members",
    "/companies/acme/members/{user}",
    "/companies/acme/groups",
    "/companies/acme/groups/{group}",
]
# Every credential a company holds, live, and vendor keys that are not: all refused.
VENDOR_REFUSED = [
    "none",
    "malformed",
    "company_bearer",
    "company_basic",
    "company_oauth",
    "other_company_bearer",
    "other_company_basic",
    "revoked_vendor_key",
    "unknown_vendor_key",
]


@pytest.mark.parametrize("credential", VENDOR_REFUSED)
def test_the_vendor_api_refuses_everything_but_a_live_vendor_key(
    world: dict[str, Any], credential: str
) -> None:
    headers = {} if credential == "none" else {"HTTP_AUTHORIZATION": world["secrets"][credential]}
    hidden = (world["user"]["id"], world["group"]["id"], *ACME_SECRETS)

    for endpoint, method in itertools.product(VENDOR_ENDPOINTS, METHODS):
        path = "/api/v1" + endpoint.format(user=world["user"]["id"], group=world["group"]["id"])
        response = getattr(ServedClient(), method.lower())(path, **headers)

        where = f"{method} {endpoint} with {credential}"
        assert response.status_code == 401, (where, response.status_code)
        assert response.json()["error"]["code"] == "not_authenticated", where
        assert response["WWW-Authenticate"].startswith("Bearer"), where
        leaked = response.content.decode()
        assert not [value for value in hidden if value in leaked], where


def test_a_live_vendor_key_reads_and_writes_nothing(world: dict[str, Any]) -> None:
    headers = {"HTTP_AUTHORIZATION": world["secrets"]["vendor_key"]}

    for endpoint, method in itertools.product(VENDOR_ENDPOINTS, METHODS):
        path = "/api/v1" + endpoint.format(user=world["user"]["id"], group=world["group"]["id"])
        response = getattr(ServedClient(), method.lower())(path, **headers)

        expected = 200 if method == "GET" else 405
        assert response.status_code == expected, (method, endpoint, response.content[:200])


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_every_endpoint_and_method_refuses_the_credential(
    world: dict[str, Any], acme: Company, credential: str, settings: Any
) -> None:
    # This matrix is about who gets in; each case sends 65 refused requests from one address,
    # which the guessing throttle would cut short (tests/security/test_rate_limits.py).
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 0
    client = ServedClient()
    headers: dict[str, str] = {}
    if credential == "viewer_portal_session":
        client.post("/t/acme/login/", {"username": "viewer@acme.test", "password": TEST_PASSWORD})
    elif credential != "none":
        headers["HTTP_AUTHORIZATION"] = world["secrets"][credential]
    if credential in ("scim_switched_off", "oauth_scim_switched_off"):
        Company.objects.filter(pk=acme.pk).update(scim_enabled=False)
    body = json.dumps({"userName": "intruder@acme.test", "displayName": "x", "schemas": []})
    expected = EXPECTED[credential]
    hidden = (world["user"]["id"], world["group"]["id"], *ACME_SECRETS)

    for endpoint, method in itertools.product(ENDPOINTS, METHODS):
        path = "/t/acme/scim/v2" + endpoint.format(
            user=world["user"]["id"], group=world["group"]["id"]
        )
        response = getattr(client, method.lower())(
            path,
            data=body if method != "GET" else None,
            content_type="application/scim+json",
            **headers,
        )

        where = f"{method} {endpoint} with {credential}"
        assert response.status_code == expected, (
            where,
            response.status_code,
            response.content[:200],
        )
        assert response["Content-Type"].startswith("application/scim+json"), where
        payload = response.json()
        assert payload["schemas"] == [ERROR] and payload["status"] == str(expected), where
        leaked = response.content.decode() + json.dumps(dict(response.headers))
        assert not [value for value in hidden if value in leaked], where
        if expected == 401:
            assert "Bearer" in response["WWW-Authenticate"], where


READS_BY_POST = {"/Users/.search", "/Groups/.search", "/.search"}


def test_a_read_only_token_reads_everywhere_and_writes_nowhere(
    world: dict[str, Any], acme: Company
) -> None:
    """A read-only token of this company: every GET and every POST …/.search answers as for
    a full token; every other POST, PUT, PATCH and DELETE is a SCIM 403 and changes nothing."""
    with schema_context(acme.schema_name):
        reader = token_issue(
            company=acme, name="auditor", actor="tests", scope=Credential.Scope.READ_ONLY
        )
    client = ServedClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {reader.secret}"}
    search = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    write = json.dumps({"userName": "intruder@acme.test", "displayName": "x", "schemas": []})
    with schema_context(acme.schema_name):
        before = (Member.objects.count(), Group.objects.count(), ProvisioningEvent.objects.count())

    for endpoint, method in itertools.product(ENDPOINTS, METHODS):
        path = "/t/acme/scim/v2" + endpoint.format(
            user=world["user"]["id"], group=world["group"]["id"]
        )
        reads = method == "GET" or (method == "POST" and endpoint in READS_BY_POST)
        response = getattr(client, method.lower())(
            path,
            data=None if method == "GET" else (search if reads else write),
            content_type="application/scim+json",
            **headers,
        )

        where = f"{method} {endpoint} with a read-only token"
        assert response["Content-Type"].startswith("application/scim+json"), where
        if reads:
            assert response.status_code not in (401, 403), (where, response.content[:200])
        else:
            assert response.status_code == 403, (where, response.status_code)
            payload = response.json()
            assert payload["schemas"] == [ERROR] and payload["status"] == "403", where
            assert "read-only" in payload["detail"], where
    with schema_context(acme.schema_name):
        after = (Member.objects.count(), Group.objects.count(), ProvisioningEvent.objects.count())
    assert after == before


@pytest.mark.parametrize(
    "page",
    [
        "members/{user}/",
        "groups/{group}/",
        "log/exports/{export}/",
        "log/exports/{export}/download/",
        "log/retry/{batch}/",
        "access/credentials/{credential}/revoke/",
        "access/tokens/{token}/rotate/",
        "access/tokens/{token}/rotation/confirm/",
    ],
)
def test_another_companys_objects_are_404_in_the_portal(
    world: dict[str, Any], acme: Company, outsider: Company, page: str
) -> None:
    with schema_context(acme.schema_name):
        export = LedgerExport.objects.create(
            requested_by="x", criteria={}, expires_at=timezone.now() + dt.timedelta(hours=1)
        )
        batch = RetryBatch.objects.create(http_status=403, scim_type="", requested_by="x", total=25)
        credential = Credential.objects.first()
        token = Credential.objects.filter(kind="token", revoked_at__isnull=True).first()
        assert token is not None
        token_rotate(company=acme, credential_id=str(token.pk), actor="tests")
    make_portal_user(outsider, email="olga@outsider.test")
    client = ServedClient()
    client.post("/t/outsider/login/", {"username": "olga@outsider.test", "password": TEST_PASSWORD})
    assert credential is not None
    path = "/t/outsider/" + page.format(
        user=world["user"]["id"],
        group=world["group"]["id"],
        export=export.pk,
        batch=batch.pk,
        credential=credential.pk,
        token=token.pk,
    )

    response = client.get(path)

    assert response.status_code == 404
    assert not [value for value in ACME_SECRETS if value.encode() in response.content]


def test_a_session_of_one_company_opens_nothing_at_another(
    world: dict[str, Any], acme: Company
) -> None:
    make_portal_user(acme, email="ada@acme.test")
    client = ServedClient()
    client.post("/t/acme/login/", {"username": "ada@acme.test", "password": TEST_PASSWORD})

    for page in ("", "members/", "groups/", "log/", "access/"):
        response = client.get(f"/t/outsider/{page}")

        assert response.status_code == 302 and response["Location"].startswith(
            "/t/outsider/login/"
        ), page
