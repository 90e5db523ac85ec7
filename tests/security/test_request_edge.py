"""Input that no view can store or compare (a NUL character, invalid UTF-8 or a lone
surrogate) is refused at the edge with a 400, on every surface and wherever it is carried:
URL path, query string, form field, header, cookie. PostgreSQL refuses NUL in text, so each of
these used to reach a query and come back as a 500 (HTML, even on the OAuth endpoints).

On the SCIM API the 400 is a SCIM error (identity providers parse it); elsewhere a plain page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_400(response: Any) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [SCIM_ERROR]
    assert body["status"] == "400"
    assert body["scimType"] == "invalidValue"
    assert "NUL character or invalid UTF-8" in body["detail"]


def assert_plain_400(response: Any) -> None:
    assert response.status_code == 400, response.content[:300]
    assert not response["Content-Type"].startswith("application/scim+json")
    assert b"<!doctype" not in response.content.lower()[:100]
    assert b"NUL character or invalid UTF-8" in response.content


def signed_in(company: Company) -> Client:
    make_portal_user(company, email="edge@acme.test")
    browser = Client(raise_request_exception=False)
    response = browser.post(
        f"/t/{company.slug}/login/", {"username": "edge@acme.test", "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    return browser


# The findings of issue #14, each a 500 before the edge check existed.


def test_nul_in_the_company_slug_of_a_scim_url(db: None) -> None:
    response = Client(raise_request_exception=False).get("/t/rtbeta%00/scim/v2/Users")

    assert_scim_400(response)
    assert "URL path" in response.json()["detail"]


def test_nul_in_the_member_search(acme: Company) -> None:
    response = signed_in(acme).get("/t/acme/members/", {"q": "\x00"})

    assert_plain_400(response)


def test_nul_in_the_client_id_of_an_authorization_request(acme: Company) -> None:
    response = signed_in(acme).get(
        "/t/acme/oauth/authorize", {"client_id": "\x00", "response_type": "code"}
    )

    assert_plain_400(response)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/t/acme/oauth/token", {"grant_type": "authorization_code", "code": "x"}),
        ("/t/acme/oauth/revoke", {"token": "x"}),
    ],
)
def test_nul_in_the_client_id_posted_to_the_oauth_endpoints(
    acme: Company, path: str, form: dict[str, str]
) -> None:
    response = Client(raise_request_exception=False).post(path, {**form, "client_id": "\x00"})

    assert_plain_400(response)
    assert "form field" in response.content.decode()


def test_nul_in_a_session_cookie(acme: Company) -> None:
    response = Client(raise_request_exception=False).get(
        "/t/acme/", HTTP_COOKIE='hc_session_acme="\\000abcdefghijklmnop"'
    )

    assert_plain_400(response)


# Every surface, every carrier. A clean twin of each request passes the edge, so the 400 is
# the bad character's doing, not the surface refusing everything.

SURFACES = {
    "scim": ("/t/acme/scim/v2/Users", True),
    "portal": ("/t/acme/login/", False),
    "oauth": ("/t/acme/oauth/token", False),
    "admin": ("/admin/login/", False),
    "healthz": ("/healthz", False),
}
BAD = {
    "nul": ("%00", "\x00"),
    "invalid utf-8": ("%FF", None),
    "utf-8 encoded surrogate": ("%ED%A0%80", None),
}


def _send(browser: Client, path: str, carrier: str, escaped: str, raw: str | None) -> Any:
    if carrier == "path":
        return browser.get(path + "/x" + escaped)
    if carrier == "query":
        return browser.get(path + "?q=a" + escaped)
    if carrier == "form":
        return browser.post(path, "q=a" + escaped, content_type="application/x-www-form-urlencoded")
    if carrier == "header":
        return browser.get(path, HTTP_USER_AGENT=f"Okta{raw}")
    return browser.get(path, HTTP_COOKIE=f'hc_session="a{raw}bcdefghijklmnop"')


CASES = [
    pytest.param(surface, carrier, bad, id=f"{surface}-{carrier}-{bad}")
    for surface in SURFACES
    for carrier in ("path", "query", "form", "header", "cookie")
    for bad in BAD
    # Headers and cookies arrive as Latin-1 text: only NUL is out of place there.
    if carrier in ("path", "query", "form") or bad == "nul"
]


@pytest.mark.parametrize(("surface", "carrier", "bad"), CASES)
def test_the_edge_refuses_bad_characters_everywhere(
    acme: Company, surface: str, carrier: str, bad: str
) -> None:
    path, is_scim = SURFACES[surface]
    escaped, raw = BAD[bad]
    browser = Client(raise_request_exception=False)

    refused = _send(browser, path, carrier, escaped, raw if raw is not None else escaped)
    clean = _send(browser, path, carrier, "x", "x")

    if is_scim:
        assert_scim_400(refused)
    else:
        assert_plain_400(refused)
    assert clean.status_code < 500
    assert b"NUL character or invalid UTF-8" not in clean.content


def test_a_multipart_form_field_with_nul_is_refused(acme: Company) -> None:
    response = Client(raise_request_exception=False).post(
        "/t/acme/login/", {"username": "a\x00b", "password": "x"}, format="multipart"
    )

    assert_plain_400(response)


def test_text_that_is_merely_unusual_passes(acme: Company) -> None:
    browser = signed_in(acme)

    found = browser.get("/t/acme/members/", {"q": "Zoë 😀 %00 \\u0000"})

    assert found.status_code == 200
