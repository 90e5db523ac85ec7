"""The Okta and Microsoft Entra ID flows of references/idp-flows.md, end to end: real HTTP
against a gunicorn server, with the headers and bodies those clients send, with a Bearer
token and with Basic credentials."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.live import IdP, LiveCompany, live_scim_company
from tests.scim_client import PATCH_OP

pytestmark = [pytest.mark.live, pytest.mark.django_db]

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def live(live_server_url: str, django_db_blocker: Any) -> Iterator[tuple[str, LiveCompany]]:
    with live_scim_company(django_db_blocker) as company:
        yield f"{live_server_url}/t/{company.company.slug}/scim/v2", company


def okta(base: str, company: LiveCompany, *, basic: bool) -> IdP:
    if basic:
        pair = base64.b64encode(
            f"{company.basic_username}:{company.basic_secret}".encode()
        ).decode()
        authorization = f"Basic {pair}"
    else:
        authorization = f"Bearer {company.bearer}"
    # The 2016 SPEC export POSTs without a Content-Type; current Okta sends scim+json.
    return IdP(
        base,
        authorization,
        "Okta SCIM Client 1.0.0",
        None if basic else "application/scim+json; charset=utf-8",
    )


@pytest.mark.parametrize("basic", [False, True], ids=["bearer", "basic"])
def test_okta_flow(live: tuple[str, LiveCompany], basic: bool) -> None:
    base, company = live
    client = okta(base, company, basic=basic)

    # O1 Test API Credentials, and a wrong token.
    users = client.call("GET", "/Users?startIndex=1&count=2")
    groups = client.call("GET", "/Groups?startIndex=1&count=100")
    assert users.status == 200 and users.body["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    ]
    assert isinstance(users.body["totalResults"], int) and isinstance(
        users.body["itemsPerPage"], int
    )
    assert groups.status == 200 and groups.body["Resources"] == []
    assert (
        IdP(base, "Bearer non-token", "Okta", None)
        .call("GET", "/Users?startIndex=1&count=2")
        .body["status"]
        == "401"
    )

    # O2 discovery.
    spc = client.call("GET", "/ServiceProviderConfig").body
    assert spc["patch"]["supported"] is True and spc["filter"]["supported"] is True
    assert (
        spc["authenticationSchemes"][0]["type"] and spc["authenticationSchemes"][0]["description"]
    )
    assert client.call("GET", "/ResourceTypes").body["Resources"][0]["endpoint"] == "/Users"
    assert client.call("GET", "/Schemas").body["Resources"][0]["attributes"]
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        assert client.call("POST", path, "test").status == 405

    # O4/O6a pre-check, O6b create.
    user_name = "test.user@okta.local"
    assert (
        client.call(
            "GET",
            "/Users?filter=" + quote(f'userName eq "{user_name}"') + "&startIndex=1&count=100",
        ).body["totalResults"]
        == 0
    )
    created = client.call(
        "POST",
        "/Users",
        {
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
        },
    )
    assert created.status == 201, created.body
    user_id = created.body["id"]
    assert created.headers["Location"].endswith(f"/Users/{user_id}")

    # O3/O7 reads; O5 unknown id.
    first = client.call("GET", "/Users?count=1&startIndex=1").body["Resources"][0]
    assert {"id", "name", "userName", "active", "emails"} <= set(first)
    fetched = client.call("GET", f"/Users/{user_id}").body
    assert fetched["name"]["givenName"] == "Test" and fetched["userName"] == user_name
    missing = client.call("GET", "/Users/010101001010101011001010101011")
    assert missing.status == 404 and missing.body["detail"]

    # O8 duplicate; O9 case-insensitive filter and the bare-word filter.
    duplicate = client.call(
        "POST",
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "emails": [{"value": user_name}],
        },
    )
    assert (
        duplicate.status == 409
        and duplicate.body["scimType"] == "uniqueness"
        and duplicate.body["status"] == "409"
    )
    assert (
        client.call("GET", "/Users?filter=" + quote('userName eq "TEST.USER@OKTA.LOCAL"')).body[
            "totalResults"
        ]
        == 1
    )
    assert (
        client.call("GET", "/Users?filter=userName+eq+%22TEST.USER%40okta.local%22").body[
            "totalResults"
        ]
        == 1
    )
    assert (
        client.call("GET", "/Users?filter=RUNSCOPE300HFLUAKLAB151").body["scimType"]
        == "invalidFilter"
    )

    # O10 profile update by PUT of the whole object.
    changed = dict(fetched, name={"givenName": "Changed", "familyName": "User"})
    put = client.call("PUT", f"/Users/{user_id}", changed)
    assert put.status == 200 and put.body["name"]["givenName"] == "Changed"

    # O11 deactivate (OIN PATCH, AIW PUT); the user stays readable.
    off = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert off.status in (200, 204)
    assert client.call("GET", f"/Users/{user_id}").body["active"] is False
    aiw_on = client.call("PUT", f"/Users/{user_id}", dict(put.body, active=True))
    aiw_off = client.call("PUT", f"/Users/{user_id}", dict(aiw_on.body, active=False))
    assert aiw_on.body["active"] is True and aiw_off.body["active"] is False

    # O12 reactivate.
    on = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    assert (
        on.status in (200, 204) and client.call("GET", f"/Users/{user_id}").body["active"] is True
    )

    # O13 import: pages of a stable order cover every user exactly once.
    for index in range(12):
        assert (
            client.call("POST", "/Users", {"userName": f"import{index}@okta.local"}).status == 201
        )
    seen, start = [], 1
    while True:
        body = client.call("GET", f"/Users?startIndex={start}&count=5").body
        seen += [r["id"] for r in body["Resources"]]
        if start + body["itemsPerPage"] > body["totalResults"] or not body["Resources"]:
            break
        start += body["itemsPerPage"]
    assert len(seen) == len(set(seen)) == 13


def test_entra_flow(live: tuple[str, LiveCompany]) -> None:
    base, company = live
    client = IdP(base, f"Bearer {company.bearer}", "Azure AD SCIM Client", "application/scim+json")

    # E1 test connection: a random GUID matches nobody.
    probe = client.call(
        "GET", "/Users?filter=" + quote('userName eq "0c6f2d43-3b1f-4d7e-9f0a-6b1c2e3d4f5a"')
    )
    assert probe.status == 200 and probe.body["totalResults"] == 0 and probe.body["Resources"] == []

    # E4 create (the documented body, with the misspelled extension URN and nulls).
    created = client.call(
        "POST",
        "/Users",
        {
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
            ],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@testuser.com",
            "active": True,
            "addresses": None,
            "title": None,
            "manager": None,
            "emails": [
                {"primary": True, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}
            ],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName",
            },
            "roles": [],
        },
    )
    assert created.status == 201, created.body
    user_id = created.body["id"]

    # E3 matching on each attribute Entra uses.
    for query in (
        'userName eq "test_user_ab6490ee@testuser.com"',
        'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
        'emails[type eq "work"].value eq "Test_User_fd0ea19b@testuser.com"',
    ):
        assert [
            r["id"] for r in client.call("GET", "/Users?filter=" + quote(query)).body["Resources"]
        ] == [user_id], query

    # E5 get; unknown id.
    assert client.call("GET", f"/Users/{user_id}").status == 200
    assert client.call("GET", "/Users/7b3f8a9e-0000-4000-8000-000000000000").body["status"] == "404"

    # E6 updates in the default and the flag form.
    update = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "updatedEmail@microsoft.com",
                },
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {"op": "Add", "path": "nickName", "value": "Babs"},
                {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "701"},
            ],
        },
    )
    flagged = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "replace",
                    "value": {
                        "displayName": "Bjfe",
                        "name.givenName": "Kkom",
                        f"{ENTERPRISE}:employeeNumber": "Aklq",
                    },
                },
            ],
        },
    )
    assert update.status in (200, 204) and flagged.status in (200, 204)
    user = client.call("GET", f"/Users/{user_id}").body
    assert user["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert user["name"]["familyName"] == "updatedFamilyName" and user["name"]["givenName"] == "Kkom"
    assert (
        user["nickName"] == "Babs"
        and user["displayName"] == "Bjfe"
        and user[ENTERPRISE]["employeeNumber"] == "Aklq"
    )

    # Entra's default mappings of free-text directory fields (issue #19): country as typed,
    # preferredLanguage as a name. Normalised, never refused.
    located = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "Add",
                    "path": 'addresses[type eq "work"].country',
                    "value": "United States",
                },
                {"op": "Add", "path": "preferredLanguage", "value": "English"},
            ],
        },
    )
    assert located.status in (200, 204), located.body
    user = client.call("GET", f"/Users/{user_id}").body
    assert user["addresses"] == [{"type": "work", "country": "US"}]
    assert user["preferredLanguage"] == "en"

    # E7 manager: the documented array form, then the raw string, then "" to remove.
    boss = client.call("POST", "/Users", {"userName": "boss@testuser.com"}).body["id"]
    for value in ([{"$ref": f"{base}/Users/{boss}", "value": boss}], boss):
        client.call(
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Add", "path": "manager", "value": value}],
            },
        )
        assert client.call("GET", f"/Users/{user_id}").body[ENTERPRISE]["manager"]["value"] == boss
    client.call(
        "PATCH",
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": ""}],
        },
    )
    assert "manager" not in client.call("GET", f"/Users/{user_id}").body.get(ENTERPRISE, {})

    # E8 disable with the string "False", still readable and filterable; restore with "True".
    disabled = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
    )
    assert disabled.status in (200, 204)
    assert client.call("GET", f"/Users/{user_id}").body["active"] is False
    assert (
        client.call(
            "GET", "/Users?filter=" + quote('userName eq "Test_User_ab6490ee@testuser.com"')
        ).body["Resources"][0]["active"]
        is False
    )
    client.call(
        "PATCH",
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "active", "value": "True"}],
        },
    )
    assert client.call("GET", f"/Users/{user_id}").body["active"] is True

    # E14: "" clears an attribute.
    client.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "nickName", "value": ""}]},
    )
    assert "nickName" not in client.call("GET", f"/Users/{user_id}").body

    # E9 hard delete: 204, then 404, and the filter finds nothing.
    assert client.call("DELETE", f"/Users/{user_id}").status == 204
    assert client.call("GET", f"/Users/{user_id}").status == 404
    assert (
        client.call(
            "GET", "/Users?filter=" + quote('userName eq "Test_User_ab6490ee@testuser.com"')
        ).body["totalResults"]
        == 0
    )


def test_okta_push_groups_flow(live: tuple[str, LiveCompany]) -> None:
    base, company = live
    client = okta(base, company, basic=False)
    user_a = client.call("POST", "/Users", {"userName": "a@okta.local"}).body["id"]
    user_b = client.call("POST", "/Users", {"userName": "b@okta.local"}).body["id"]

    # O14 create, membership update (remove by filter + add), rename with the readOnly id.
    created = client.call(
        "POST",
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Test SCIMv2",
            "members": [],
        },
    )
    assert created.status == 201
    group_id = created.body["id"]
    client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_a}]}],
        },
    )
    update = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "{user_a}"]'},
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": user_b, "display": "b@okta.local"}],
                },
            ],
        },
    )
    rename = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "value": {"id": group_id, "displayName": "Test SCIMv2 renamed"}},
            ],
        },
    )
    assert update.status in (200, 204) and rename.status in (200, 204)
    group = client.call("GET", f"/Groups/{group_id}").body
    assert group["displayName"] == "Test SCIMv2 renamed" and [
        m["value"] for m in group["members"]
    ] == [user_b]
    assert [g["display"] for g in client.call("GET", f"/Users/{user_b}").body["groups"]] == [
        "Test SCIMv2 renamed"
    ]

    # O15 import groups.
    listed = client.call("GET", "/Groups?startIndex=1&count=100").body
    assert listed["totalResults"] == 1 and listed["Resources"][0]["id"] == group_id

    # Unlink with "Delete the group in the target app": the role goes, the users stay.
    assert client.call("DELETE", f"/Groups/{group_id}").status == 204
    assert client.call("GET", f"/Groups/{group_id}").status == 404
    after = client.call("GET", f"/Users/{user_b}").body
    assert after["active"] is True and "groups" not in after


def test_entra_group_flow(live: tuple[str, LiveCompany]) -> None:
    base, company = live
    client = IdP(base, f"Bearer {company.bearer}", "Azure AD SCIM Client", "application/scim+json")
    u1 = client.call("POST", "/Users", {"userName": "u1@testuser.com"}).body["id"]
    u2 = client.call("POST", "/Users", {"userName": "u2@testuser.com"}).body["id"]

    # E1 test connection for groups.
    probe = client.call(
        "GET",
        "/Groups?excludedAttributes=members&filter="
        + quote('displayName eq "7c1e6a2b-0f4f-4d0b-9b35-5a1f2d3c4b5e"'),
    )
    assert probe.status == 200 and probe.body["totalResults"] == 0

    # E10 create.
    created = client.call(
        "POST",
        "/Groups",
        {
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
            ],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        },
    )
    assert created.status == 201 and created.body["members"] == []
    group_id = created.body["id"]

    # E11 reads without members.
    single = client.call("GET", f"/Groups/{group_id}?excludedAttributes=members").body
    listed = client.call(
        "GET", "/Groups?excludedAttributes=members&filter=" + quote('displayName eq "displayName"')
    ).body
    assert "members" not in single and "members" not in listed["Resources"][0]

    # E12 rename, add several members, remove with a value array, remove with a filter.
    ops = [
        [{"op": "Replace", "path": "displayName", "value": "Renamed"}],
        [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": u1}, {"value": u2}]}],
        [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": u1}]}],
    ]
    for operations in ops:
        assert (
            client.call(
                "PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": operations}
            ).status
            == 204
        )
    group = client.call("GET", f"/Groups/{group_id}").body
    assert group["displayName"] == "Renamed" and [m["value"] for m in group["members"]] == [u2]
    flagged = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{u2}"]'}],
        },
    )
    assert flagged.status == 204 and client.call("GET", f"/Groups/{group_id}").body["members"] == []

    # E13 delete.
    assert client.call("DELETE", f"/Groups/{group_id}").status == 204
    assert client.call("GET", f"/Groups/{group_id}").status == 404
