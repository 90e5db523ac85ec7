"""Every claim of /ServiceProviderConfig checked against what the endpoints do. The figures
are read from the document itself, so a claim changed without the behaviour (or the other way
round) fails here."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from directory.models import Member
from scim.views_base import cursor_key
from scim_protocol.cursor import CursorCodec
from scim_protocol.listing import parse_list_params
from scim_protocol.schema import USER
from tenants.models import Company
from tests.scim.test_paging import bulk_members
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def claims(scim: Scim) -> dict[str, Any]:
    return scim.get("/ServiceProviderConfig").json()


def _user(scim: Scim, name: str = "claims@acme.test") -> dict[str, Any]:
    reply = scim.post("/Users", okta_user(name, externalId=name))
    assert reply.status_code == 201
    return reply.json()


def test_patch(scim: Scim, claims: dict[str, Any]) -> None:
    user = _user(scim)
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}],
    }

    reply = scim.patch(f"/Users/{user['id']}", body)

    assert claims["patch"]["supported"] is True
    assert reply.status_code == 200 and reply.json()["displayName"] == "Patched"


def test_bulk_max_operations(scim: Scim, claims: dict[str, Any]) -> None:
    limit = claims["bulk"]["maxOperations"]
    missing = {"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"}

    # failOnErrors=1 stops at the first (404) operation: the limit is checked, not 1,000 runs.
    at_limit = scim.post(
        "/Bulk", {"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": [missing] * limit}
    )
    over = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": [missing] * (limit + 1)})

    assert claims["bulk"]["supported"] is True
    assert at_limit.status_code == 200
    assert [op["status"] for op in at_limit.json()["Operations"]] == ["404"]
    assert_error(over, 413, "tooLarge")


def test_bulk_max_payload_size(scim: Scim, claims: dict[str, Any]) -> None:
    limit = claims["bulk"]["maxPayloadSize"]

    def body(size: int) -> str:
        operation = {"method": "DELETE", "path": "/Users/x", "data": {"pad": ""}}
        envelope = {"schemas": [BULK_REQUEST], "Operations": [operation]}
        operation["data"]["pad"] = "x" * (size - len(json.dumps(envelope)))
        text = json.dumps(envelope)
        assert len(text.encode()) == size
        return text

    at_limit = scim.send("POST", "/Bulk", body(limit))
    over = scim.send("POST", "/Bulk", body(limit + 1))

    assert at_limit.status_code == 200
    assert_error(over, 413, "tooLarge")


def test_filter_and_max_results(scim: Scim, claims: dict[str, Any]) -> None:
    limit = claims["filter"]["maxResults"]
    bulk_members(limit + 5, active=False)

    page = scim.get(f"/Users?filter=active eq false&count={limit + 100}").json()

    assert claims["filter"]["supported"] is True
    assert page["totalResults"] == limit + 5 and page["itemsPerPage"] == limit


def test_change_password_is_not_supported_so_passwords_are_never_kept(
    scim: Scim, claims: dict[str, Any]
) -> None:
    user = _user(scim)
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "password", "value": "N3w-secret!"}],
    }

    reply = scim.patch(f"/Users/{user['id']}", body)

    assert claims["changePassword"]["supported"] is False
    assert reply.status_code == 200 and "password" not in reply.json()
    assert "password" not in Member.objects.get(pk=user["id"]).attributes


def test_sort(scim: Scim, claims: dict[str, Any]) -> None:
    for name in ("b@acme.test", "C@acme.test", "a@acme.test"):
        _user(scim, name)

    page = scim.get("/Users?sortBy=userName&sortOrder=descending").json()

    assert claims["sort"]["supported"] is True
    assert [r["userName"] for r in page["Resources"]] == [
        "C@acme.test",
        "b@acme.test",
        "a@acme.test",
    ]


def test_etag(scim: Scim, claims: dict[str, Any]) -> None:
    user = _user(scim)
    tag = scim.get(f"/Users/{user['id']}")["ETag"]

    unchanged = scim.get(f"/Users/{user['id']}", HTTP_IF_NONE_MATCH=tag)
    stale = scim.put(f"/Users/{user['id']}", okta_user("claims@acme.test"), HTTP_IF_MATCH='W/"9"')

    assert claims["etag"]["supported"] is True
    assert unchanged.status_code == 304
    assert_error(stale, 412)


def test_pagination_by_index_is_the_default_with_the_default_page_size(
    scim: Scim, claims: dict[str, Any]
) -> None:
    pagination = claims["pagination"]
    bulk_members(pagination["defaultPageSize"] + 10)

    plain = scim.get("/Users").json()
    by_index = scim.get("/Users?startIndex=3&count=2").json()

    assert pagination["index"] is True and pagination["defaultPaginationMethod"] == "index"
    assert plain["startIndex"] == 1 and "nextCursor" not in plain
    assert plain["itemsPerPage"] == pagination["defaultPageSize"]
    assert by_index["startIndex"] == 3 and by_index["itemsPerPage"] == 2


def test_pagination_by_cursor_and_max_page_size(scim: Scim, claims: dict[str, Any]) -> None:
    pagination = claims["pagination"]
    bulk_members(pagination["maxPageSize"] + 5)

    first = scim.get(f"/Users?cursor=&count={pagination['maxPageSize'] + 500}").json()
    second = scim.get(f"/Users?cursor={first['nextCursor']}&count=10").json()

    assert pagination["cursor"] is True
    assert first["itemsPerPage"] == pagination["maxPageSize"]
    assert second["itemsPerPage"] == 5 and "nextCursor" not in second


def test_cursor_timeout(scim: Scim, claims: dict[str, Any], acme: Company) -> None:
    timeout = claims["pagination"]["cursorTimeout"]
    bulk_members(3)
    shape = parse_list_params({"cursor": ""}, USER).shape
    seq = Member.objects.order_by("seq").values_list("seq", flat=True)[0]

    def issued(seconds_ago: float) -> str:
        return CursorCodec(cursor_key(acme), time.time() - seconds_ago).encode([seq], shape)

    within = scim.get(f"/Users?count=1&cursor={issued(timeout - 30)}")
    beyond = scim.get(f"/Users?count=1&cursor={issued(timeout + 30)}")

    assert within.status_code == 200
    assert_error(beyond, 400, "expiredCursor")


def test_authentication_schemes(scim: Scim, claims: dict[str, Any]) -> None:
    unauthenticated = scim.client.get("/t/acme/scim/v2/Users")

    assert {s["type"] for s in claims["authenticationSchemes"]} == {"oauthbearertoken", "httpbasic"}
    assert scim.get("/Users").status_code == 200
    assert_error(unauthenticated, 401)
    assert "Bearer" in unauthenticated["WWW-Authenticate"]
    assert "Basic" in unauthenticated["WWW-Authenticate"]
