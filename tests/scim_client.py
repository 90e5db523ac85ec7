"""A SCIM client for API tests: Django's test client with a Bearer token of `acme`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Company
from tokens.services import token_issue

BASE = "/t/acme/scim/v2"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    def __init__(self, client: Client, token: str, base: str = BASE):
        self.client, self.token, self.base = client, token, base

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        return {
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            "HTTP_USER_AGENT": "Okta SCIM Client 1.0.0",
            **extra,
        }

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(self.base + path, **self._headers(headers))

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/scim+json",
        **headers: str,
    ) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        call = getattr(self.client, method.lower())
        return call(
            self.base + path, data=data, content_type=content_type, **self._headers(headers)
        )

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.send("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.send("PUT", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.send("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(self.base + path, **self._headers(headers))


@pytest.fixture
def scim(acme: Company, client: Client) -> Scim:
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Okta", actor="tests")
    return Scim(client, issued.secret)


def okta_user(user_name: str = "test.user@okta.local", **overrides: Any) -> dict[str, Any]:
    """The body Okta POSTs on assignment (idp-flows O6)."""
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    body.update(overrides)
    return body


def assert_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body
