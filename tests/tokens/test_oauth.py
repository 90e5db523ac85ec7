"""The OAuth 2.0 connection (issue #9) through Django's test client: the identity provider's
requests to /t/<slug>/oauth/…, a company admin's consent, and SCIM calls with the tokens.
The same story against a real server and browser is tests/browser/test_oauth_flow.py."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from oauth2_provider.models import Application

from accounts.models import User
from tenants.models import Company, OAuthClientCompany
from tests.conftest import max_queries
from tests.provisioning_ui.test_access_rights import signed_in as portal_session
from tokens import selectors
from tokens.models import Credential, CredentialEvent, OAuthGrant, OAuthToken

CLIENT_ID = "okta-scim-client"
CLIENT_SECRET = "okta-client-secret-0123456789abcdefghijklmnopqrstuvwxyz"
REDIRECT_URI = "https://okta.test/admin/app/cpc/headcount/oauth/callback"


@pytest.fixture
def okta(db: None) -> Application:
    """The identity provider's OAuth client, as support registers it in the admin."""
    return Application.objects.create(
        name="Okta",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
    )


def signed_in(company: Company, role: str = User.Role.ADMIN, email: str = "") -> Client:
    return portal_session(company, role, email or f"{role}@{company.slug}.test")


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def authorize_params(**extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "scim",
        "state": "xyz-123",
        **extra,
    }


def consent(browser: Client, slug: str = "acme", *, allow: bool = True, **extra: str) -> Any:
    """The admin opens the authorize URL and clicks Approve (or Deny)."""
    params = authorize_params(**extra)
    page = browser.get(f"/t/{slug}/oauth/authorize?{urlencode(params)}")
    form = {**params, **({"allow": "on"} if allow else {})}
    return page, browser.post(f"/t/{slug}/oauth/authorize", form)


def redirect_query(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.content
    location = response["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def approved_code(browser: Client, slug: str = "acme", **extra: str) -> str:
    _page, response = consent(browser, slug, **extra)
    query = redirect_query(response)
    assert query["state"] == "xyz-123"
    return query["code"]


def token_request(slug: str = "acme", auth: str | None = None, **form: str) -> Any:
    return Client().post(
        f"/t/{slug}/oauth/token",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=auth or basic(),
    )


def exchange(code: str, slug: str = "acme", **extra: str) -> Any:
    return token_request(
        slug, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, **extra
    )


def refresh(refresh_token: str, slug: str = "acme") -> Any:
    return token_request(slug, grant_type="refresh_token", refresh_token=refresh_token)


def scim_status(token: str, slug: str = "acme") -> int:
    response = Client().get(
        f"/t/{slug}/scim/v2/Users?startIndex=1&count=2", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    return int(response.status_code)


@dataclass
class Tokens:
    access: str
    refresh: str


def connect(browser: Client, slug: str = "acme") -> Tokens:
    response = exchange(approved_code(browser, slug), slug)
    assert response.status_code == 200, response.content
    body = response.json()
    return Tokens(body["access_token"], body["refresh_token"])


def events(company: Company) -> list[tuple[str, str]]:
    with schema_context(company.schema_name):
        return [
            (event.action, event.actor)
            for event in CredentialEvent.objects.order_by("created_at", "id")
        ]


# --- Discovery --------------------------------------------------------------------------------


def test_metadata_document_is_served_in_both_rfc8414_locations(acme: Company) -> None:
    suffix = Client().get("/t/acme/oauth/.well-known/oauth-authorization-server").json()
    inserted = Client().get("/.well-known/oauth-authorization-server/t/acme/oauth").json()
    unknown = Client().get("/.well-known/oauth-authorization-server/t/nope/oauth")

    assert suffix == inserted
    assert suffix["issuer"] == "http://testserver/t/acme/oauth"
    assert suffix["authorization_endpoint"] == "http://testserver/t/acme/oauth/authorize"
    assert suffix["token_endpoint"] == "http://testserver/t/acme/oauth/token"
    assert suffix["revocation_endpoint"] == "http://testserver/t/acme/oauth/revoke"
    assert suffix["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert suffix["response_types_supported"] == ["code"]
    assert "S256" in suffix["code_challenge_methods_supported"]
    assert suffix["scopes_supported"] == ["scim"]
    assert unknown.status_code == 404


def test_service_provider_config_lists_oauth_basic_and_the_api_token(
    acme: Company, okta: Any
) -> None:
    browser = signed_in(acme)
    tokens = connect(browser)

    body = (
        Client()
        .get("/t/acme/scim/v2/ServiceProviderConfig", HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
        .json()
    )

    names = [(s["type"], s["name"]) for s in body["authenticationSchemes"]]
    assert names == [
        ("oauthbearertoken", "Bearer token"),
        ("oauthbearertoken", "OAuth 2.0"),
        ("httpbasic", "HTTP Basic"),
    ]
    assert "Not issued through OAuth" in body["authenticationSchemes"][0]["description"]


# --- Consent ----------------------------------------------------------------------------------


def test_signed_out_admin_is_sent_to_the_company_login_and_back(acme: Company, okta: Any) -> None:
    url = f"/t/acme/oauth/authorize?{urlencode(authorize_params())}"

    response = Client().get(url)

    assert response.status_code == 302
    login = urlsplit(response["Location"])
    assert login.path == "/t/acme/login/"
    assert parse_qs(login.query)["next"] == [url]


def test_consent_screen_names_client_company_and_access(acme: Company, okta: Any) -> None:
    page, _ = consent(signed_in(acme), allow=False)

    html = page.content.decode()
    assert page.status_code == 200
    assert "Connect Okta to Acme Inc?" in html
    assert "SCIM provisioning" in html
    assert ">Approve<" in html and ">Deny<" in html
    assert "form-action 'self' https://okta.test" in page["Content-Security-Policy"]
    assert "no-cache" in page["Cache-Control"]


def test_denied_consent_redirects_with_access_denied(acme: Company, okta: Any) -> None:
    _page, response = consent(signed_in(acme), allow=False)

    query = redirect_query(response)
    assert query["error"] == "access_denied"
    assert query["state"] == "xyz-123"
    assert "code" not in query
    with schema_context(acme.schema_name):
        assert not OAuthGrant.objects.exists()


def test_viewer_cannot_approve(acme: Company, okta: Any) -> None:
    page, response = consent(signed_in(acme, role=User.Role.VIEWER))

    assert page.status_code == 403
    assert "Only owners and admins of Acme Inc can approve connections." in page.content.decode()
    assert ">Approve<" not in page.content.decode()
    query = redirect_query(response)
    assert query["error"] == "access_denied"
    assert "Only owners and admins" in query["error_description"]
    with schema_context(acme.schema_name):
        assert not OAuthGrant.objects.exists()


def test_wrong_redirect_uri_gets_an_error_page_not_a_redirect(acme: Company, okta: Any) -> None:
    browser = signed_in(acme)
    params = authorize_params(redirect_uri="https://evil.test/callback")

    page = browser.get(f"/t/acme/oauth/authorize?{urlencode(params)}")
    forged = browser.post("/t/acme/oauth/authorize", {**params})

    assert page.status_code == 400 and "Location" not in page
    assert "invalid_request" in page.content.decode()
    assert forged.status_code == 400 and "Location" not in forged


def test_support_cannot_register_a_plain_http_callback_in_production(db: None) -> None:
    # Production settings (DEBUG off, OAUTH_ALLOW_HTTP_REDIRECTS unset): https callbacks only.
    # The admin's form runs the same model validation.
    def client(redirect_uri: str) -> Application:
        return Application(
            name="Okta",
            client_id="okta-check",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=redirect_uri,
        )

    with pytest.raises(ValidationError) as refused:
        client("http://okta.test/oauth/callback").full_clean()
    client(REDIRECT_URI).full_clean()

    assert "redirect_uris" in refused.value.message_dict


def test_unknown_client_gets_an_error_page(acme: Company, okta: Any) -> None:
    params = authorize_params(client_id="nobody")

    page = signed_in(acme).get(f"/t/acme/oauth/authorize?{urlencode(params)}")

    assert page.status_code == 400 and "Location" not in page
    assert "Invalid client_id parameter value." in page.content.decode()


def test_unsupported_response_type_is_reported_to_the_client(acme: Company, okta: Any) -> None:
    params = authorize_params(response_type="token")

    response = signed_in(acme).get(f"/t/acme/oauth/authorize?{urlencode(params)}")

    assert redirect_query(response)["error"] == "unsupported_response_type"


# --- The whole connection, in process -----------------------------------------------------------


def test_a_replayed_refresh_token_ends_the_connection(acme: Company, okta: Any) -> None:
    # RFC 9700 §4.14.2: a rotated refresh token coming back means it leaked; whoever holds the
    # newer tokens may be the thief, so the whole connection goes.
    body = exchange(approved_code(signed_in(acme, email="ada@acme.test"))).json()
    first = Tokens(body["access_token"], body["refresh_token"])
    refreshed = refresh(first.refresh).json()
    second = Tokens(refreshed["access_token"], refreshed["refresh_token"])

    replay = refresh(first.refresh)

    assert replay.json()["error"] == "invalid_grant"
    assert scim_status(second.access) == 401
    assert refresh(second.refresh).json()["error"] == "invalid_grant"
    assert ("revoked", "security: refresh token used twice") in events(acme)


def test_code_exchange_refresh_and_revocation(acme: Company, okta: Any) -> None:
    browser = signed_in(acme, email="ada@acme.test")
    code = approved_code(browser)

    response = exchange(code)
    body = response.json()
    first = Tokens(body["access_token"], body["refresh_token"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "scim"
    assert first.access.startswith("hco_") and first.refresh.startswith("hcr_")
    assert scim_status(first.access) == 200

    refreshed = refresh(first.refresh).json()
    second = Tokens(refreshed["access_token"], refreshed["refresh_token"])
    assert scim_status(second.access) == 200
    assert scim_status(first.access) == 401  # replaced by the refresh

    revoked = token_request_revoke(second.refresh)
    assert revoked.status_code == 200
    assert scim_status(second.access) == 401
    assert refresh(second.refresh).json()["error"] == "invalid_grant"

    assert events(acme) == [
        ("created", "ada@acme.test"),
        ("oauth_issued", "OAuth client Okta"),
        ("first_used", "OAuth connection Okta"),
        ("oauth_refreshed", "OAuth client Okta"),
        ("revoked", "OAuth client Okta (revocation request)"),
    ]


def token_request_revoke(token: str, auth: str | None = None) -> Any:
    return Client().post(
        "/t/acme/oauth/revoke",
        urlencode({"token": token}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=auth or basic(),
    )


def test_revoking_an_unknown_token_is_200_and_a_bad_client_is_401(acme: Company, okta: Any) -> None:
    assert token_request_revoke("hco_not-a-token").status_code == 200
    bad = token_request_revoke("x", auth=basic(secret="wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_client_secret_sent_in_the_body_works_too(acme: Company, okta: Any) -> None:
    code = approved_code(signed_in(acme))

    response = Client().post(
        "/t/acme/oauth/token",
        urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        ),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200, response.content


# --- Refusals at the token endpoint (RFC 6749 §5.2) --------------------------------------------


def test_reused_code_is_invalid_grant_and_revokes_what_it_issued(acme: Company, okta: Any) -> None:
    code = approved_code(signed_in(acme))
    tokens = exchange(code).json()

    again = exchange(code)

    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert scim_status(tokens["access_token"]) == 401
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_another_companys_code_is_invalid_grant(
    acme: Company, outsider: Company, okta: Any
) -> None:
    code = approved_code(signed_in(outsider), slug="outsider")

    response = exchange(code, slug="acme")

    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert exchange(code, slug="outsider").status_code == 200


def test_another_companys_token_gets_401(acme: Company, outsider: Company, okta: Any) -> None:
    tokens = connect(signed_in(outsider), slug="outsider")

    assert scim_status(tokens.access, slug="outsider") == 200
    assert scim_status(tokens.access, slug="acme") == 401
    assert refresh(tokens.refresh, slug="acme").json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(acme: Company, okta: Any) -> None:
    code = approved_code(signed_in(acme))

    response = token_request(
        auth=basic(secret="wrong"),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
    )

    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_expired_code_is_invalid_grant(acme: Company, okta: Any) -> None:
    code = approved_code(signed_in(acme))
    with schema_context(acme.schema_name):
        OAuthGrant.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert exchange(code).json()["error"] == "invalid_grant"


def test_code_for_another_client_is_invalid_grant(acme: Company, okta: Any) -> None:
    Application.objects.create(
        name="Other IdP",
        client_id="other-client",
        client_secret="other-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
    )
    code = approved_code(signed_in(acme))

    response = exchange_as_other(code)

    assert response.json()["error"] == "invalid_grant"


def exchange_as_other(code: str) -> Any:
    return token_request(
        auth=basic("other-client", "other-secret"),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
    )


def test_pkce_s256_is_checked(acme: Company, okta: Any) -> None:
    verifier = "a-long-enough-code-verifier-0123456789-abcdefghijklmnop"
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    browser = signed_in(acme)
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}

    wrong = exchange(approved_code(browser, **pkce), code_verifier=verifier + "x")
    missing = exchange(approved_code(browser, **pkce))
    right = exchange(approved_code(browser, **pkce), code_verifier=verifier)

    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert right.status_code == 200


def test_plain_or_malformed_pkce_challenges_are_refused_to_the_client(
    acme: Company, okta: Any
) -> None:
    browser = signed_in(acme)
    cases = {
        "plain": {"code_challenge": "x" * 43, "code_challenge_method": "plain"},
        "no method (plain by default)": {"code_challenge": "x" * 43},
        "too long": {"code_challenge": "x" * 200, "code_challenge_method": "S256"},
        "bad characters": {"code_challenge": "x" * 42 + "!", "code_challenge_method": "S256"},
    }

    for name, pkce in cases.items():
        shown = browser.get(f"/t/acme/oauth/authorize?{urlencode(authorize_params(**pkce))}")
        # The form posted as is (a tampered consent form must be refused the same way).
        _page, posted = consent(browser, **pkce)
        for response in (shown, posted):
            query = redirect_query(response)
            assert query["error"] == "invalid_request", name
            assert query["state"] == "xyz-123"
            assert "PKCE" in query["error_description"], name


def test_every_authorization_response_names_the_companys_issuer(acme: Company, okta: Any) -> None:
    browser = signed_in(acme)
    issuer = Client().get("/t/acme/oauth/.well-known/oauth-authorization-server").json()

    approved = redirect_query(consent(browser)[1])
    denied = redirect_query(consent(browser, allow=False)[1])
    refused = redirect_query(
        browser.get(f"/t/acme/oauth/authorize?{urlencode(authorize_params(response_type='token'))}")
    )

    assert issuer["authorization_response_iss_parameter_supported"] is True
    assert approved["iss"] == denied["iss"] == refused["iss"] == issuer["issuer"]
    assert issuer["issuer"] == "http://testserver/t/acme/oauth"


def test_a_client_with_the_longest_name_connects_and_is_revoked(
    acme: Company, okta: Application
) -> None:
    # Support may give a client a 255-character name; audit rows and credential names are
    # shorter columns.
    Application.objects.filter(pk=okta.pk).update(name="Okta " + "x" * 250)

    tokens = connect(signed_in(acme, email="ada@acme.test"))
    working = scim_status(tokens.access)
    revoked = token_request_revoke(tokens.refresh)

    assert working == 200
    assert revoked.status_code == 200 and scim_status(tokens.access) == 401


def test_repeated_scopes_are_one_scope(acme: Company, okta: Any) -> None:
    code = approved_code(signed_in(acme), scope=" ".join(["scim"] * 41))

    response = exchange(code)

    assert response.status_code == 200 and response.json()["scope"] == "scim"


def test_audit_rows_name_the_client_address_behind_a_proxy(
    acme: Company, okta: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    code = approved_code(signed_in(acme, email="ada@acme.test"))

    Client().post(
        "/t/acme/oauth/token",
        urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(),
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )

    with schema_context(acme.schema_name):
        issued = CredentialEvent.objects.get(action="oauth_issued")
    assert issued.ip == "198.51.100.9"


def test_a_client_reserved_for_other_companies_is_unknown_here(
    acme: Company, outsider: Company, okta: Application
) -> None:
    OAuthClientCompany.objects.create(application=okta, company=outsider)
    browser = signed_in(acme)

    shown = browser.get(f"/t/acme/oauth/authorize?{urlencode(authorize_params())}")
    _page, approved = consent(browser)

    assert shown.status_code == 400 and "Location" not in shown
    assert "Invalid client_id parameter value." in shown.content.decode()
    assert approved.status_code == 400 and "Location" not in approved


def test_a_client_reserved_for_this_company_works_here(acme: Company, okta: Application) -> None:
    OAuthClientCompany.objects.create(application=okta, company=acme)

    tokens = connect(signed_in(acme, email="ada@acme.test"))

    assert scim_status(tokens.access) == 200


def test_support_reserves_a_client_for_companies_on_its_admin_page(
    okta: Application, support_superuser: User
) -> None:
    admin = Client()
    admin.force_login(support_superuser)

    page = admin.get(f"/admin/oauth2_provider/application/{okta.pk}/change/").content.decode()

    assert "companies allowed to use this client (none: every company)" in page.lower()


def test_public_clients_must_use_pkce(acme: Company, okta: Application) -> None:
    Application.objects.filter(pk=okta.pk).update(client_type=Application.CLIENT_PUBLIC)

    response = signed_in(acme).get(f"/t/acme/oauth/authorize?{urlencode(authorize_params())}")

    assert redirect_query(response)["error"] == "invalid_request"


def test_only_the_authorization_code_grant_exists(acme: Company, okta: Application) -> None:
    Application.objects.filter(pk=okta.pk).update(
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS
    )

    response = token_request(grant_type="client_credentials", scope="scim")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    with schema_context(acme.schema_name):
        assert not OAuthToken.objects.exists()


# --- SCIM switched off --------------------------------------------------------------------------


def test_scim_off_refuses_consent_exchange_refresh_and_scim(acme: Company, okta: Any) -> None:
    browser = signed_in(acme)
    tokens = connect(browser)
    pending_code = approved_code(browser)
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    page, approve = consent(browser)
    exchanged = exchange(pending_code)
    refreshed = refresh(tokens.refresh)
    scim = Client().get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    assert page.status_code == 403
    assert "SCIM provisioning is not active for Acme Inc." in page.content.decode()
    query = redirect_query(approve)
    assert query["error"] == "access_denied"
    assert "SCIM provisioning is not active" in query["error_description"]
    assert exchanged.status_code == 400 and exchanged.json()["error"] == "invalid_grant"
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert scim.status_code == 403
    assert scim.json()["detail"].startswith("SCIM provisioning is not active for Acme Inc.")


# --- Tokens on the SCIM API -----------------------------------------------------------------------


def test_expired_access_token_gets_401(acme: Company, okta: Any) -> None:
    tokens = connect(signed_in(acme))
    with schema_context(acme.schema_name):
        OAuthToken.objects.filter(kind=OAuthToken.Kind.ACCESS).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )

    response = Client().get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert scim_status(refresh(tokens.refresh).json()["access_token"]) == 200


def test_access_token_lifetime_follows_the_setting(acme: Company, okta: Any, settings: Any) -> None:
    settings.OAUTH_ACCESS_TOKEN_SECONDS = 120
    tokens = connect(signed_in(acme))

    with schema_context(acme.schema_name):
        stored = OAuthToken.objects.get(kind=OAuthToken.Kind.ACCESS)
    remaining = (stored.expires_at - timezone.now()).total_seconds()
    assert 100 < remaining <= 120
    assert tokens.access


def test_oauth_token_lookup_is_one_query(acme: Company, okta: Any) -> None:
    tokens = connect(signed_in(acme))
    connection_schema = acme.schema_name

    with schema_context(connection_schema), max_queries(1):
        found = selectors.oauth_access_token(tokens.access)
    with max_queries(0):
        malformed = selectors.oauth_access_token("hco_" + "x" * 38)

    assert found is not None and found.credential.name == "Okta"
    assert malformed is None


def test_tokens_codes_and_client_secrets_are_hashed_at_rest(acme: Company, okta: Any) -> None:
    browser = signed_in(acme)
    code = approved_code(browser)
    tokens = exchange(code).json()
    newer = refresh(tokens["refresh_token"]).json()
    secrets_seen = [
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        newer["access_token"],
        newer["refresh_token"],
    ]

    with schema_context(acme.schema_name):
        dump = repr(
            [vars(row) for row in OAuthToken.objects.all()]
            + [vars(row) for row in OAuthGrant.objects.all()]
            + [vars(row) for row in Credential.objects.all()]
        )
        stored_hashes = set(OAuthToken.objects.values_list("token_hash", flat=True))
    app_row = repr(vars(Application.objects.get(pk=okta.pk)))

    assert all(secret not in dump for secret in secrets_seen)
    assert hashlib.sha256(newer["access_token"].encode()).hexdigest() in stored_hashes
    assert CLIENT_SECRET not in app_row


def test_tokens_and_codes_never_reach_the_logs(
    acme: Company, okta: Any, caplog: pytest.LogCaptureFixture
) -> None:
    browser = signed_in(acme)
    with caplog.at_level(logging.DEBUG):
        code = approved_code(browser)
        tokens = exchange(code).json()
        newer = refresh(tokens["refresh_token"]).json()
        exchange(code)  # a replay, logged as a failure
        scim_status(newer["access_token"])

    logged = caplog.text
    for secret in (code, tokens["access_token"], tokens["refresh_token"], newer["access_token"]):
        assert secret not in logged
    assert CLIENT_SECRET not in logged


# --- Access rights: list and Disconnect ---------------------------------------------------------


def test_access_rights_lists_connections_and_disconnect_revokes_both_tokens(
    acme: Company, okta: Any
) -> None:
    browser = signed_in(acme, email="ada@acme.test")
    tokens = connect(browser)
    scim_status(tokens.access)
    with schema_context(acme.schema_name):
        approved = Credential.objects.get(kind=Credential.Kind.OAUTH)

    page = browser.get("/t/acme/access/").content.decode()
    confirm = browser.get(f"/t/acme/access/credentials/{approved.pk}/revoke/")
    done = browser.post(f"/t/acme/access/credentials/{approved.pk}/revoke/", follow=True)

    assert 'data-oauth-client="Okta"' in page and "ada@acme.test" in page
    assert "Disconnect…" in page and "Connected" in page
    assert "Disconnect “Okta”?" in confirm.content.decode()
    assert "disconnected. Its access and refresh tokens no longer work." in done.content.decode()
    assert scim_status(tokens.access) == 401
    assert refresh(tokens.refresh).json()["error"] == "invalid_grant"
    with schema_context(acme.schema_name):
        assert not OAuthToken.objects.filter(revoked_at__isnull=True).exists()
    assert events(acme)[-1] == ("revoked", "ada@acme.test")


def test_viewers_see_connections_read_only(acme: Company, okta: Any) -> None:
    connect(signed_in(acme))
    with schema_context(acme.schema_name):
        approved = Credential.objects.get(kind=Credential.Kind.OAUTH)
    viewer = signed_in(acme, role=User.Role.VIEWER)

    page = viewer.get("/t/acme/access/").content.decode()
    forged = viewer.post(f"/t/acme/access/credentials/{approved.pk}/revoke/")

    assert 'data-oauth-client="Okta"' in page
    assert "Disconnect…" not in page
    assert forged.status_code == 403
    with schema_context(acme.schema_name):
        assert Credential.objects.get(pk=approved.pk).revoked_at is None


# --- Support admin ------------------------------------------------------------------------------


def test_support_registers_clients_in_the_admin_and_sees_connections(
    acme: Company, okta: Any, support_superuser: User
) -> None:
    connect(signed_in(acme, email="ada@acme.test"))
    connection.set_schema_to_public()
    admin = Client()
    admin.force_login(support_superuser)

    applications = admin.get("/admin/oauth2_provider/application/")
    dot_tokens = admin.get("/admin/oauth2_provider/accesstoken/")
    company_page = admin.get(f"/admin/tenants/company/{acme.pk}/change/")

    assert applications.status_code == 200 and "Okta" in applications.content.decode()
    assert dot_tokens.status_code == 404  # codes and tokens live hashed per company
    html = company_page.content.decode()
    assert "OAuth tokens issued" in html and "<code>OAuth connection</code>" in html
