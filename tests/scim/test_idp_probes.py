"""Identity providers' probes and transports as they really arrive (issue #19): real HTTP
against gunicorn, with exactly the headers each client sends, or leaves out."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.live import LiveCompany, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(scope="module")
def company(live_server_url: str, django_db_blocker: Any) -> Iterator[tuple[str, LiveCompany]]:
    with live_scim_company(django_db_blocker) as live:
        yield f"{live_server_url}/t/{live.company.slug}/scim/v2", live


def send(
    company: tuple[str, LiveCompany],
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request with the Bearer token and only the headers given: http.client adds Host
    and Accept-Encoding, never a User-Agent, Accept or Content-Type of its own."""
    base, live = company
    url = urlsplit(base + path)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=15)
    try:
        connection.request(
            method,
            url.path + (f"?{url.query}" if url.query else ""),
            body=body,
            headers={"Authorization": f"Bearer {live.bearer}", **(headers or {})},
        )
        response = connection.getresponse()
        raw = response.read()
        return response.status, dict(response.getheaders()), json.loads(raw) if raw else None
    finally:
        connection.close()


def user_body(user_name: str) -> bytes:
    return json.dumps({"schemas": [CORE_USER], "userName": user_name}).encode()


def test_a_request_without_a_user_agent_is_served(company: tuple[str, LiveCompany]) -> None:
    status, _, body = send(company, "POST", "/Users", user_body("no-agent@live.test"))

    assert status == 201, body
    assert body["userName"] == "no-agent@live.test"


def test_entra_test_connection_filter_on_a_random_guid_is_an_empty_list(
    company: tuple[str, LiveCompany],
) -> None:
    guid = str(uuid.uuid4())

    status, _, body = send(
        company,
        "GET",
        "/Users?filter=" + quote(f'userName eq "{guid}"'),
        headers={"Accept": "application/scim+json"},
    )

    assert status == 200
    assert body["totalResults"] == 0 and body.get("Resources", []) == []


def test_attributes_with_unknown_names_are_ignored(company: tuple[str, LiveCompany]) -> None:
    send(company, "POST", "/Users", user_body("attrs@live.test"))

    status, _, body = send(
        company,
        "GET",
        "/Users?filter="
        + quote('userName eq "attrs@live.test"')
        + "&attributes=userName,urn:example:custom:2.0:User:badge,nosuch",
    )

    assert status == 200, body
    (user,) = body["Resources"]
    assert user["userName"] == "attrs@live.test" and "id" in user
    assert "meta" not in user and "badge" not in json.dumps(user)


def test_excluded_attributes_on_a_single_user_leave_them_out(
    company: tuple[str, LiveCompany],
) -> None:
    _, _, created = send(company, "POST", "/Users", user_body("excluded@live.test"))

    status, _, body = send(
        company, "GET", f"/Users/{created['id']}?excludedAttributes=groups,meta,nosuch"
    )

    assert status == 200, body
    assert body["id"] == created["id"] and body["userName"] == "excluded@live.test"
    assert "groups" not in body and "meta" not in body


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/scim+json"])
def test_every_accept_header_idps_send_gets_scim_json(
    company: tuple[str, LiveCompany], accept: str | None
) -> None:
    status, headers, body = send(
        company, "GET", "/Users?count=1", headers={"Accept": accept} if accept else {}
    )

    assert status == 200
    assert headers["Content-Type"].startswith("application/scim+json")
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain; charset=utf-8",
        "application/json",
        "application/scim+json; charset=utf-8",
    ],
)
def test_a_json_body_is_read_whatever_it_is_labelled(
    company: tuple[str, LiveCompany], content_type: str | None
) -> None:
    name = f"labelled-{uuid.uuid4().hex[:8]}@live.test"

    status, _, body = send(
        company,
        "POST",
        "/Users",
        user_body(name),
        headers={"Content-Type": content_type} if content_type else {},
    )

    assert status == 201, body
    assert body["userName"] == name


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_an_unlabelled_body_from_a_web_page_is_refused(
    company: tuple[str, LiveCompany], content_type: str | None
) -> None:
    # What a page elsewhere could send cross-site without a CORS preflight, and with the Basic
    # credentials a browser may have cached for this host.
    headers = {"Origin": "https://attacker.example", "Sec-Fetch-Mode": "no-cors"}
    if content_type:
        headers["Content-Type"] = content_type

    status, _, body = send(company, "POST", "/Users", user_body("csrf@live.test"), headers)

    assert status == 400 and body["scimType"] == "invalidSyntax"
    assert "web page" in body["detail"]
