"""The SCIM base URL answers with SCIM errors before any endpoint exists."""

from django.test import Client

from tenants.models import Company

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def test_no_credentials_is_a_scim_401_with_a_challenge(acme: Company, client: Client) -> None:
    for path in ["/t/acme/scim/v2", "/t/acme/scim/v2/", "/t/acme/scim/v2/Users"]:
        response = client.get(path)

        assert response.status_code == 401, path
        assert response["Content-Type"].startswith("application/scim+json")
        assert "Bearer" in response["WWW-Authenticate"]
        body = response.json()
        assert body["schemas"] == [ERROR]
        assert body["status"] == "401"
        assert body["detail"]


def test_unknown_credential_is_a_scim_401(acme: Company, client: Client) -> None:
    response = client.post(
        "/t/acme/scim/v2/Users",
        data="{}",
        content_type="application/scim+json",
        HTTP_AUTHORIZATION="Bearer non-token",
    )

    assert response.status_code == 401
    assert response.json()["status"] == "401"


def test_unsupported_scheme_is_a_scim_401(acme: Company, client: Client) -> None:
    response = client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION="Digest abc")

    assert response.status_code == 401
    assert response.json()["schemas"] == [ERROR]
