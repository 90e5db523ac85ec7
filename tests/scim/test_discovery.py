"""Discovery endpoints, as Okta's SPEC test and Entra's schema discovery read them."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.scim_client import Scim, assert_error


def test_service_provider_config_tells_the_truth(scim: Scim) -> None:
    body = scim.get("/ServiceProviderConfig").json()

    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"] == {"supported": True}
    assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["changePassword"] == {"supported": False}
    assert body["sort"] == {"supported": True} and body["etag"] == {"supported": True}
    # RFC 9865 §4; each claim is checked against behaviour in test_service_provider_claims.py.
    assert body["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 3600,
    }
    assert [s["type"] for s in body["authenticationSchemes"]] == [
        "oauthbearertoken",
        "oauthbearertoken",
        "httpbasic",
    ]
    assert body["meta"]["location"] == "http://testserver/t/acme/scim/v2/ServiceProviderConfig"


def test_resource_types(scim: Scim) -> None:
    listed = scim.get("/ResourceTypes").json()
    user = scim.get("/ResourceTypes/User").json()

    assert [r["endpoint"] for r in listed["Resources"]] == ["/Users", "/Groups"]
    assert listed["totalResults"] == 2
    assert user["schema"] == "urn:ietf:params:scim:schemas:core:2.0:User"
    assert user["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False}
    ]
    assert_error(scim.get("/ResourceTypes/Printer"), 404)


def test_schemas_make_work_email_and_groups_discoverable(scim: Scim) -> None:
    listed = scim.get("/Schemas").json()
    user = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()

    assert {s["id"] for s in listed["Resources"]} == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    }
    emails = next(a for a in user["attributes"] if a["name"] == "emails")
    assert emails["multiValued"] is True
    assert {s["name"] for s in emails["subAttributes"]} >= {"value", "type", "primary"}
    user_name = next(a for a in user["attributes"] if a["name"] == "userName")
    assert (
        user_name["caseExact"] is False
        and user_name["uniqueness"] == "server"
        and user_name["required"] is True
    )
    password = next(a for a in user["attributes"] if a["name"] == "password")
    assert password["returned"] == "never" and password["mutability"] == "writeOnly"
    assert_error(scim.get("/Schemas/urn:nope"), 404)


def test_discovery_refuses_writes_with_405(scim: Scim) -> None:
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        assert_error(scim.post(path, "test", content_type="text/plain"), 405)


def test_unknown_endpoint_is_a_scim_404(scim: Scim) -> None:
    assert_error(scim.get("/Printers"), 404)
    assert_error(scim.get("/Users/x/y"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/Schemas",
        "/ResourceTypes",
        "/ServiceProviderConfig",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        "/ResourceTypes/User",
    ],
)
@pytest.mark.parametrize("name", ["filter", "Filter"])
def test_a_filtered_discovery_request_is_forbidden(scim: Scim, path: str, name: str) -> None:
    text = 'id eq "x"'

    response = scim.get(f"{path}?{name}={quote(text)}")

    assert_error(response, 403)


def test_a_filter_on_discovery_is_refused_only_once_the_caller_is_known(scim: Scim) -> None:
    response = scim.client.get(f"{scim.base}/Schemas?filter=x", HTTP_AUTHORIZATION="Bearer no")

    assert_error(response, 401)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/Me", "/Me/", "/Me/anything"])
def test_me_is_not_implemented(scim: Scim, method: str, path: str) -> None:
    response = scim.send(method, path, {"schemas": []}) if method != "GET" else scim.get(path)

    body = assert_error(response, 501)
    assert "/Users/" in body["detail"]
