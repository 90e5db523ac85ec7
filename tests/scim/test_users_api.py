"""/Users as identity providers call it: every status code a client can provoke."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from directory.models import Member, MemberValue, ProvisioningEvent
from tenants.models import Company
from tests.conftest import max_queries
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def group_of(scim: Scim, name: str, *member_ids: str) -> dict[str, Any]:
    return scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [{"value": member_id} for member_id in member_ids],
        },
    ).json()


def create(scim: Scim, **overrides: Any) -> dict[str, Any]:
    response = scim.post("/Users", okta_user(**overrides))
    assert response.status_code == 201, response.content
    return response.json()


# --- create -----------------------------------------------------------------------------------


def test_okta_create_returns_the_full_user_with_location_and_etag(scim: Scim) -> None:
    response = scim.post("/Users", okta_user())

    assert response.status_code == 201
    body = response.json()
    assert body["id"] and body["userName"] == "test.user@okta.local"
    assert body["name"] == {"givenName": "Test", "familyName": "User"}
    assert body["emails"] == [{"primary": True, "value": "test.user@okta.local", "type": "work"}]
    assert body["active"] is True and body["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert "password" not in body and "groups" not in body
    assert body["meta"]["resourceType"] == "User"
    assert (
        response["Location"]
        == body["meta"]["location"]
        == f"http://testserver/t/acme/scim/v2/Users/{body['id']}"
    )
    assert response["ETag"] == body["meta"]["version"]
    assert response["Content-Type"].startswith("application/scim+json")


def test_password_is_never_stored(scim: Scim) -> None:
    body = create(scim)

    with connection.cursor() as cursor:
        cursor.execute("SELECT attributes::text FROM directory_member WHERE id = %s", [body["id"]])
        (stored,) = cursor.fetchone()
    assert "1mz050nq" not in stored and "password" not in stored


def test_post_without_content_type_is_read_as_json(scim: Scim) -> None:
    response = scim.client.post(
        "/t/acme/scim/v2/Users",
        data=json.dumps(okta_user()),
        content_type="",
        HTTP_AUTHORIZATION=f"Bearer {scim.token}",
    )

    assert response.status_code == 201, response.content


def test_reprovisioning_the_same_user_is_a_409(scim: Scim) -> None:
    create(scim)

    same = scim.post("/Users", okta_user(externalId="other"))
    other_case = scim.post("/Users", okta_user(user_name="TEST.USER@okta.local", externalId="x2"))
    same_external = scim.post("/Users", okta_user(user_name="someone@okta.local"))

    assert_error(same, 409, "uniqueness")
    assert_error(other_case, 409, "uniqueness")
    assert "externalId" in assert_error(same_external, 409, "uniqueness")["detail"]
    assert Member.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"userName": ""}, "userName is required"),
        ({"userName": None}, "userName is required"),
        ({"active": "maybe"}, "true or false"),
        ({"name": ["Just", "a", "list"]}, "object"),
    ],
)
def test_bad_values_are_400_invalid_value_and_store_nothing(
    scim: Scim, overrides: dict, fragment: str
) -> None:
    body = okta_user()
    body.update(overrides)

    response = scim.post("/Users", body)

    assert fragment in assert_error(response, 400, "invalidValue")["detail"]
    assert Member.objects.count() == 0


def test_a_body_starting_with_a_byte_order_mark_is_read(scim: Scim) -> None:
    # PowerShell's Out-File and Set-Content write one; RFC 8259 §8.1 lets a parser ignore it.
    response = scim.post("/Users", b"\xef\xbb\xbf" + json.dumps(okta_user()).encode())

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ('"title": 1e999', "too large"),
        ('"title": -1e999', "too large"),
        ('"title": NaN', "NaN is not a JSON value"),
        ('"title": Infinity', "Infinity is not a JSON value"),
        ('"x": ' + "9" * 5000, "5,000 digits is too long"),
    ],
)
def test_numbers_json_cannot_carry_are_400_invalid_syntax_and_store_nothing(
    scim: Scim, raw: str, said: str
) -> None:
    body = json.dumps(okta_user())[:-1] + ", " + raw + "}"

    created = scim.post("/Users", body)
    in_a_failed_write = scim.post(
        "/Users", body.replace('"userName": "', '"userName": "" , "u": "')
    )

    detail = assert_error(created, 400, "invalidSyntax")["detail"]
    assert said in detail and "sys." not in detail
    assert_error(in_a_failed_write, 400, "invalidSyntax")
    assert not Member.objects.exists()


def test_a_patch_value_json_cannot_carry_is_400_and_changes_nothing(scim: Scim) -> None:
    created = create(scim)
    body = (
        '{"schemas": ["%s"], "Operations": [{"op": "replace", "path": "active", "value": 1e999}]}'
    )

    response = scim.patch(f"/Users/{created['id']}", body % PATCH_OP)

    assert_error(response, 400, "invalidSyntax")
    assert scim.get(f"/Users/{created['id']}").json()["meta"] == created["meta"]


@pytest.mark.parametrize(
    "content_type", ["application/xml", "application/x-www-form-urlencoded", "image/png"]
)
def test_a_body_of_another_media_type_is_415_with_a_scim_error(
    scim: Scim, content_type: str
) -> None:
    response = scim.send("POST", "/Users", okta_user(), content_type=content_type)

    body = assert_error(response, 415)
    assert content_type in body["detail"] and "application/scim+json" in body["detail"]
    assert not Member.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', ""])
def test_bodies_that_are_not_a_json_object_are_400_invalid_syntax(scim: Scim, raw: str) -> None:
    response = scim.post("/Users", raw)

    assert_error(response, 400, "invalidSyntax")


def test_valid_languages_countries_and_the_enterprise_extension_are_kept(scim: Scim) -> None:
    body = create(
        scim,
        preferredLanguage="en-US",
        addresses=[{"country": "de", "locality": "Berlin", "type": "work"}],
        phoneNumbers=[{"value": "+1 555 0100", "type": "mobile"}],
        title="Engineer",
        **{ENTERPRISE: {"employeeNumber": 701, "costCenter": "CC1", "department": "R&D"}},
    )

    assert body["preferredLanguage"] == "en-US"
    assert body["addresses"] == [{"country": "DE", "locality": "Berlin", "type": "work"}]
    assert body[ENTERPRISE] == {"employeeNumber": "701", "costCenter": "CC1", "department": "R&D"}
    assert ENTERPRISE in body["schemas"]


def test_entra_create_with_nulls_and_the_misspelled_extension(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        {
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
            ],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
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
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0User": {"department": "Sales"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert "title" not in body and "addresses" not in body and "roles" not in body
    assert body[ENTERPRISE] == {"department": "Sales"}


# --- read -------------------------------------------------------------------------------------


def test_get_by_id_and_unknown_ids(scim: Scim) -> None:
    created = create(scim)

    found = scim.get(f"/Users/{created['id']}")
    unknown = scim.get("/Users/010101001010101011001010101011")
    unknown_uuid = scim.get("/Users/6e0d7c6b-2f58-4d86-9c4d-1c0b1f1b0d0e")

    assert found.status_code == 200 and found.json() == created
    assert_error(unknown, 404)
    assert_error(unknown_uuid, 404)


def test_if_none_match_gives_304(scim: Scim) -> None:
    created = create(scim)

    response = scim.get(f"/Users/{created['id']}", HTTP_IF_NONE_MATCH=created["meta"]["version"])

    assert response.status_code == 304


def test_attributes_and_excluded_attributes(scim: Scim) -> None:
    created = create(scim, **{ENTERPRISE: {"department": "R&D", "costCenter": "7"}})

    only = scim.get(
        f"/Users/{created['id']}?attributes=userName,name.givenName,{ENTERPRISE}:department"
    ).json()
    without = scim.get(f"/Users/{created['id']}?excludedAttributes=emails,name,meta").json()

    assert only == {
        "schemas": created["schemas"],
        "id": created["id"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test"},
        ENTERPRISE: {"department": "R&D"},
    }
    assert "emails" not in without and "name" not in without and "meta" not in without
    assert without["id"] == created["id"] and without["userName"] == "test.user@okta.local"


# --- filter and paging ------------------------------------------------------------------------


def test_the_pre_create_check_reads_like_any_filtered_list(scim: Scim) -> None:
    created = create(scim)
    group = group_of(scim, "Sales", created["id"])
    query = 'filter=userName eq "Test.User@okta.local"'
    spelled_out = 'filter=userName eq "test.user@okta.local" and userName pr'

    found = scim.get(f"/Users?{query}").json()
    slow = scim.get(f"/Users?{spelled_out}").json()
    narrowed = scim.get(f"/Users?{query}&attributes=userName").json()
    without_groups = scim.get(f"/Users?{query}&excludedAttributes=groups").json()
    second_page = scim.get(f"/Users?{query}&startIndex=2").json()
    no_room = scim.get(f"/Users?{query}&count=0").json()

    assert found == slow
    assert found["totalResults"] == 1
    assert found["Resources"][0]["groups"] == [
        {
            "value": group["id"],
            "display": "Sales",
            "$ref": group["meta"]["location"],
            "type": "direct",
        }
    ]
    assert narrowed["Resources"] == [
        {"schemas": created["schemas"], "id": created["id"], "userName": "test.user@okta.local"}
    ]
    assert "groups" not in without_groups["Resources"][0]
    assert (second_page["totalResults"], second_page["Resources"]) == (1, [])
    assert (no_room["totalResults"], no_room["Resources"]) == (1, [])


def test_filter_no_match_is_200_with_zero_results(scim: Scim) -> None:
    response = scim.get('/Users?filter=userName eq "abcdefgh@example.com"')

    assert response.status_code == 200
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


@pytest.mark.parametrize(
    "query",
    [
        'filter=userName eq "TEST.USER@OKTA.LOCAL"',
        "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        "filter=userName+eq+%22test.user%40okta.local%22",
        'filter=externalId eq "00ujl29u0le5T6Aj10h7"',
        'filter=emails[type eq "work"].value eq "Test.User@okta.local"',
        'filter=emails[type eq "work" and value co "test.user"]',
        'filter=name.familyName sw "us" and active eq true',
        'filter=not (userName eq "nobody") and title pr or displayName eq "Test User"',
        'filter=USERNAME eq "test.user@okta.local"',
        'filter=urn:ietf:params:scim:schemas:core:2.0:User:userName eq "test.user@okta.local"',
    ],
)
def test_filters_idps_send(scim: Scim, query: str) -> None:
    created = create(scim)
    create(
        scim,
        user_name="other@okta.local",
        externalId="x9",
        displayName="Other",
        name={"givenName": "O", "familyName": "Ther"},
    )

    body = scim.get(f"/Users?{query}").json()

    assert body["totalResults"] == 1, body
    assert body["Resources"][0]["id"] == created["id"]


def test_filter_on_the_enterprise_extension(scim: Scim) -> None:
    created = create(scim, **{ENTERPRISE: {"employeeNumber": "42"}})

    exact = scim.get(f'/Users?filter={ENTERPRISE}:employeeNumber eq "42"').json()
    missing = scim.get(f'/Users?filter={ENTERPRISE}:employeeNumber eq "43"').json()

    assert [r["id"] for r in exact["Resources"]] == [created["id"]]
    assert missing["totalResults"] == 0


@pytest.mark.parametrize(
    ("filter_", "matches"),
    [
        ('meta.resourceType eq "User"', 2),
        ("meta.resourceType pr", 2),
        ('meta.resourceType eq "Group"', 0),
        ('meta.resourceType ne "User"', 0),
        ('meta.resourceType eq "User" and userName eq "ada@okta.local"', 1),
        ('meta.version eq "W/\\"1\\""', 1),
        ('meta.version ne "W/\\"1\\""', 1),
        ('meta.version eq "not a tag"', 0),
        # Terms true of every user negate to false, not to "no condition".
        ('not (meta.resourceType eq "User")', 0),
        ("not (meta.resourceType pr)", 0),
        ("not (meta.version pr)", 0),
        ("meta.location pr", 2),
        ("not (meta.location pr)", 0),
    ],
)
def test_filters_on_the_meta_the_server_sets(scim: Scim, filter_: str, matches: int) -> None:
    create(scim, user_name="ada@okta.local", externalId="m1")
    grace = create(scim, user_name="grace@okta.local", externalId="m2")
    scim.patch(
        f"/Users/{grace['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"title": "Dr"}}]},
    )

    body = scim.get("/Users?" + urlencode({"filter": filter_})).json()

    assert body["totalResults"] == matches, body


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ('meta.version gt "W/\\"1\\""', "meta.version supports eq and ne only"),
        ('meta.location eq "https://x/Users/1"', "filter on id instead"),
        ("meta.resourceType eq 1", "meta.resourceType is a string"),
    ],
)
def test_filters_on_meta_that_cannot_match_say_why(scim: Scim, filter_: str, message: str) -> None:
    response = scim.get("/Users?" + urlencode({"filter": filter_}))

    assert message in assert_error(response, 400, "invalidFilter")["detail"]


def test_like_metacharacters_in_filter_values_are_literal(scim: Scim) -> None:
    create(scim, user_name="a_b%c@okta.local", externalId="m1")
    create(scim, user_name="axbyc@okta.local", externalId="m2")

    body = scim.get('/Users?filter=userName co "_b%"').json()

    assert [r["userName"] for r in body["Resources"]] == ["a_b%c@okta.local"]


@pytest.mark.parametrize(
    "query",
    [
        "filter=RUNSCOPE300HFLUAKLAB151",
        'filter=userName xx "a"',
        'filter=nosuch eq "a"',
        'filter=active eq "maybe"',
        'filter=meta.created gt "yesterday"',
        'filter=(userName eq "a"',
    ],
)
def test_bad_filters_are_400_invalid_filter(scim: Scim, query: str) -> None:
    assert_error(scim.get(f"/Users?{query}"), 400, "invalidFilter")


def test_a_user_is_read_with_its_groups_in_one_query(scim: Scim) -> None:
    user = create(scim, user_name="ada@okta.local")
    group_of(scim, "Engineers", user["id"])

    # the company route with the credential (one statement), the user with its groups.
    with max_queries(2):
        body = scim.get(f"/Users/{user['id']}").json()

    assert [group["display"] for group in body["groups"]] == ["Engineers"]


def test_okta_import_pages_cover_every_user_once(
    scim: Scim, django_assert_max_num_queries: Any
) -> None:
    ids = {create(scim, user_name=f"u{i}@okta.local", externalId=f"e{i}")["id"] for i in range(25)}

    seen: list[str] = []
    start = 1
    while True:
        # company route with the credential, the page (count, position, rows and their
        # groups): any size, any depth.
        with max_queries(2):
            body = scim.get(f"/Users?startIndex={start}&count=10").json()
        seen += [r["id"] for r in body["Resources"]]
        assert body["startIndex"] == start and body["totalResults"] == 25
        if start + body["itemsPerPage"] > body["totalResults"]:
            break
        start += body["itemsPerPage"]

    assert len(seen) == 25 and set(seen) == ids


@pytest.mark.parametrize(
    ("query", "items", "start"),
    [
        ("count=0", 0, 1),
        ("count=-5", 0, 1),
        ("startIndex=0&count=2", 2, 1),
        ("startIndex=-3&count=2", 2, 1),
        ("startIndex=3&count=100", 1, 3),
        ("startIndex=999999999&count=2", 0, 999999999),
        ("", 3, 1),
    ],
)
def test_paging_edges(scim: Scim, query: str, items: int, start: int) -> None:
    for i in range(3):
        create(scim, user_name=f"p{i}@okta.local", externalId=f"p{i}")

    body = scim.get(f"/Users?{query}").json()

    assert body["totalResults"] == 3
    assert body["itemsPerPage"] == len(body["Resources"]) == items
    assert body["startIndex"] == start


@pytest.mark.parametrize(
    "query", ["count=ten", "startIndex=1.5", "sortOrder=sideways", "sortBy=emails"]
)
def test_bad_paging_parameters_are_400(scim: Scim, query: str) -> None:
    assert_error(scim.get(f"/Users?{query}"), 400, "invalidValue")


def test_sort_by_and_order(scim: Scim) -> None:
    for name in ["carol", "alice", "bob"]:
        create(scim, user_name=f"{name}@okta.local", externalId=name, displayName=name.title())

    ascending = scim.get("/Users?sortBy=userName").json()
    descending = scim.get("/Users?sortBy=displayName&sortOrder=descending").json()

    assert [r["userName"][:3] for r in ascending["Resources"]] == ["ali", "bob", "car"]
    assert [r["displayName"] for r in descending["Resources"]] == ["Carol", "Bob", "Alice"]


def test_search_endpoint(scim: Scim) -> None:
    created = create(scim)

    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "test.user@okta.local"',
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        },
    )
    not_a_search = scim.post("/Users/.search", {"filter": 'userName eq "x"'})

    assert response.status_code == 200
    assert response.json()["Resources"] == [
        {"schemas": created["schemas"], "id": created["id"], "userName": "test.user@okta.local"}
    ]
    assert_error(not_a_search, 400, "invalidSyntax")


# --- update -----------------------------------------------------------------------------------


def test_okta_put_with_readonly_fields_and_odd_meta(scim: Scim) -> None:
    created = create(scim)
    body = {
        **created,
        "name": {"givenName": "Changed", "familyName": "User"},
        "groups": [],
        "password": "x",
        "meta": {"created": "04-12-2018 00:00:00", "version": "v1.0"},
    }

    response = scim.put(f"/Users/{created['id']}", body)

    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated["name"]["givenName"] == "Changed"
    assert updated["meta"]["created"] == created["meta"]["created"]
    assert updated["meta"]["version"] != created["meta"]["version"]


def test_put_that_collides_with_another_user_is_409(scim: Scim) -> None:
    first = create(scim)
    second = create(scim, user_name="second@okta.local", externalId="s2")

    response = scim.put(f"/Users/{second['id']}", {**second, "userName": "TEST.user@okta.local"})

    assert_error(response, 409, "uniqueness")
    assert scim.get(f"/Users/{second['id']}").json()["userName"] == "second@okta.local"
    assert first["id"]


def test_okta_deactivate_and_reactivate_by_patch(scim: Scim) -> None:
    created = create(scim)
    deactivate = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }

    off = scim.patch(f"/Users/{created['id']}", deactivate)
    still_there = scim.get(f"/Users/{created['id']}")
    filtered = scim.get('/Users?filter=userName eq "test.user@okta.local"').json()
    on = scim.patch(
        f"/Users/{created['id']}",
        {**deactivate, "Operations": [{"op": "replace", "value": {"active": True}}]},
    )

    assert off.status_code == 200 and off.json()["active"] is False
    assert still_there.status_code == 200 and still_there.json()["active"] is False
    assert filtered["Resources"][0]["active"] is False
    assert on.json()["active"] is True


def test_entra_disable_with_string_false_and_204_on_request(scim: Scim) -> None:
    created = create(scim)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }

    response = scim.patch(f"/Users/{created['id']}", body, HTTP_PREFER="return=minimal")

    assert response.status_code == 204
    assert scim.get(f"/Users/{created['id']}").json()["active"] is False


def test_entra_attribute_updates(scim: Scim) -> None:
    created = create(scim)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "updated@okta.local",
            },
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    f"{ENTERPRISE}:employeeNumber": "Aklq",
                },
            },
        ],
    }

    response = scim.patch(f"/Users/{created['id']}", body)

    assert response.status_code == 200, response.content
    user = response.json()
    assert user["emails"][0]["value"] == "updated@okta.local"
    assert user["name"] == {"givenName": "Kkom", "familyName": "updatedFamilyName"}
    assert user["nickName"] == "Babs" and user["displayName"] == "Bjfe"
    assert user[ENTERPRISE]["employeeNumber"] == "Aklq"
    assert (
        scim.get('/Users?filter=emails.value eq "updated@okta.local"').json()["totalResults"] == 1
    )


def test_replace_of_a_complex_attribute_keeps_the_sub_attributes_it_does_not_name(
    scim: Scim, acme: Company
) -> None:
    boss = create(scim, user_name="boss@okta.local", externalId="boss")
    created = create(
        scim,
        user_name="a@okta.local",
        externalId="a",
        **{ENTERPRISE: {"manager": {"value": boss["id"], "displayName": "The Boss"}}},
    )
    url = f"/Users/{created['id']}"

    def patch(*operations: dict) -> dict:
        response = scim.patch(url, {"schemas": [PATCH_OP], "Operations": list(operations)})
        assert response.status_code == 200, response.content
        return response.json()

    given = patch({"op": "replace", "path": "name", "value": {"givenName": "NewG"}})
    family = patch({"op": "replace", "value": {"name": {"familyName": "NewF"}}})
    manager = patch(
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"displayName": "X"}}
    )
    # Entra sends nulls: that sub-attribute is unassigned, the others are kept.
    unassigned = patch(
        {"op": "Replace", "path": "name", "value": {"givenName": None, "familyName": "F2"}}
    )

    assert given["name"] == {"givenName": "NewG", "familyName": "User"}
    assert family["name"] == {"givenName": "NewG", "familyName": "NewF"}
    assert manager[ENTERPRISE]["manager"] == {
        "value": boss["id"],
        "$ref": boss["meta"]["location"],
        "displayName": "X",
    }
    assert unassigned["name"] == {"familyName": "F2"}
    assert scim.get(url).json() == unassigned
    with schema_context(acme.schema_name):
        assert str(Member.objects.get(pk=created["id"]).manager_id) == boss["id"]


def test_adding_an_email_already_there_in_another_case_adds_nothing(scim: Scim) -> None:
    created = create(scim, emails=[{"value": "user3@ex.com", "type": "work", "primary": True}])
    add = {"op": "add", "path": "emails", "value": [{"value": "USER3@EX.COM", "type": "work"}]}

    response = scim.patch(f"/Users/{created['id']}", {"schemas": [PATCH_OP], "Operations": [add]})

    assert response.status_code == 200, response.content
    assert response.json()["emails"] == created["emails"]
    assert scim.get(f"/Users/{created['id']}").json()["emails"] == created["emails"]


def test_patch_is_atomic(scim: Scim) -> None:
    created = create(scim)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "maybe"},
        ],
    }

    response = scim.patch(f"/Users/{created['id']}", body)

    assert_error(response, 400, "invalidValue")
    assert scim.get(f"/Users/{created['id']}").json()["displayName"] == "Test User"


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        ([{"op": "remove"}], "noTarget"),
        ([{"op": "replace", "path": "nosuch", "value": 1}], "invalidPath"),
        ([{"op": "replace", "path": "id", "value": "x"}], "mutability"),
        ([{"op": "jump", "path": "title"}], "invalidSyntax"),
    ],
)
def test_patch_errors(scim: Scim, operations: list, scim_type: str) -> None:
    created = create(scim)

    response = scim.patch(
        f"/Users/{created['id']}",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations},
    )

    assert_error(response, 400, scim_type)


def test_patch_without_the_patchop_envelope_is_400(scim: Scim) -> None:
    created = create(scim)

    assert_error(scim.patch(f"/Users/{created['id']}", {"Operations": []}), 400, "invalidSyntax")


def test_if_match_mismatch_is_412(scim: Scim) -> None:
    created = create(scim)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "x"}],
    }

    stale = scim.patch(f"/Users/{created['id']}", body, HTTP_IF_MATCH='W/"999"')
    fresh = scim.patch(f"/Users/{created['id']}", body, HTTP_IF_MATCH=created["meta"]["version"])

    assert_error(stale, 412)
    assert fresh.status_code == 200


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "replace", "path": "title", "value": "Engineer"}],
        [{"op": "add", "path": "emails", "value": [{"value": "ada@acme.test", "type": "work"}]}],
        [{"op": "add", "path": "emails", "value": [{"value": "ADA@ACME.TEST", "type": "work"}]}],
        [{"op": "replace", "value": {"active": True, "name": {"givenName": "Ada"}}}],
        [{"op": "Replace", "path": "active", "value": "True"}],
        [{"op": "remove", "path": "nickName"}],
    ],
)
def test_a_patch_that_changes_nothing_keeps_the_version_and_last_modified(
    scim: Scim, operations: list[dict[str, Any]]
) -> None:
    created = create(scim, user_name="ada@acme.test", title="Engineer", name={"givenName": "Ada"})
    url = f"/Users/{created['id']}"

    # With the ETag the client holds: RFC 7644 §3.5.2.1, "this operation SHALL NOT change the
    # modify timestamp of the resource", so If-Match still matches afterwards.
    response = scim.patch(
        url,
        {"schemas": [PATCH_OP], "Operations": operations},
        HTTP_IF_MATCH=created["meta"]["version"],
    )
    again = scim.patch(
        url,
        {"schemas": [PATCH_OP], "Operations": operations},
        HTTP_IF_MATCH=created["meta"]["version"],
    )

    assert response.status_code == again.status_code == 200, response.content
    assert response.json() == again.json() == scim.get(url).json() == created
    assert response["ETag"] == created["meta"]["version"]
    rows = ProvisioningEvent.objects.filter(resource_id=created["id"]).order_by("id")
    assert list(rows.values_list("operation", "outcome", "status")) == [
        ("create", "succeeded", 201),
        ("patch", "succeeded", 200),
        ("patch", "succeeded", 200),
    ]


def test_a_put_of_the_same_user_keeps_the_version_and_last_modified(scim: Scim) -> None:
    created = create(scim)

    response = scim.put(f"/Users/{created['id']}", created)

    assert response.status_code == 200, response.content
    assert response.json() == created
    assert response["ETag"] == created["meta"]["version"]


def test_patching_a_deactivated_user_inactive_again_keeps_the_version(scim: Scim) -> None:
    created = create(scim)
    url = f"/Users/{created['id']}"
    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    off = scim.patch(url, deactivate).json()

    again = scim.patch(url, deactivate)

    assert again.status_code == 200 and again.json() == off
    assert off["meta"]["version"] != created["meta"]["version"]


def test_a_patch_that_changes_something_moves_the_version_and_last_modified(scim: Scim) -> None:
    created = create(scim, title="Engineer")

    changed = scim.patch(
        f"/Users/{created['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]},
    ).json()

    assert changed["meta"]["version"] != created["meta"]["version"]
    assert changed["meta"]["lastModified"] > created["meta"]["lastModified"]


def test_a_null_sub_attribute_in_a_filtered_patch_value_is_unassigned_there_only(
    scim: Scim,
) -> None:
    work = {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}
    home = {"type": "home", "streetAddress": "1 Elm St", "locality": "Burbank"}
    created = create(scim, addresses=[work, home])
    url = f"/Users/{created['id']}"
    unassign = {
        "op": "replace",
        "path": 'addresses[type eq "work"]',
        "value": {"streetAddress": None},
    }

    response = scim.patch(url, {"schemas": [PATCH_OP], "Operations": [unassign]})

    assert response.status_code == 200, response.content
    stored_work, stored_home = created["addresses"]
    kept = [{k: v for k, v in stored_work.items() if k != "streetAddress"}, stored_home]
    assert "streetAddress" in stored_work and kept[0]["locality"] == "Hollywood"
    assert response.json()["addresses"] == kept
    assert scim.get(url).json()["addresses"] == kept
    assert Member.objects.get(pk=created["id"]).attributes["addresses"] == kept
    assert response.json()["meta"]["version"] != created["meta"]["version"]


# --- manager ----------------------------------------------------------------------------------


def test_manager_by_id_by_username_and_before_the_manager_exists(scim: Scim) -> None:
    boss = create(scim, user_name="boss@okta.local", externalId="boss", displayName="The Boss")
    by_id = create(
        scim,
        user_name="a@okta.local",
        externalId="a",
        **{ENTERPRISE: {"manager": {"value": boss["id"], "displayName": "The Boss"}}},
    )
    by_name = create(
        scim,
        user_name="b@okta.local",
        externalId="b",
        **{ENTERPRISE: {"manager": {"value": "BOSS@okta.local"}}},
    )
    early = create(
        scim,
        user_name="c@okta.local",
        externalId="c",
        **{ENTERPRISE: {"manager": {"value": "Later@Okta.local"}}},
    )

    later = create(scim, user_name="later@okta.local", externalId="later")

    assert by_id[ENTERPRISE]["manager"] == {
        "value": boss["id"],
        "$ref": boss["meta"]["location"],
        "displayName": "The Boss",
    }
    assert by_name[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert early[ENTERPRISE]["manager"] == {"value": "Later@Okta.local"}
    assert scim.get(f"/Users/{early['id']}").json()[ENTERPRISE]["manager"]["value"] == later["id"]


def test_entra_manager_forms(scim: Scim) -> None:
    boss = create(scim, user_name="boss@okta.local", externalId="boss")
    user = create(scim, user_name="a@okta.local", externalId="a")
    url = f"/Users/{user['id']}"

    def patch(op: dict) -> dict:
        response = scim.patch(
            url, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]}
        )
        assert response.status_code == 200, response.content
        return response.json()

    as_list = patch(
        {
            "op": "Add",
            "path": "manager",
            "value": [{"$ref": f"http://x/Users/{boss['id']}", "value": boss["id"]}],
        }
    )
    cleared = patch({"op": "add", "path": f"{ENTERPRISE}:manager", "value": ""})
    as_string = patch({"op": "add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]})

    assert as_list[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert ENTERPRISE not in cleared
    assert as_string[ENTERPRISE]["manager"]["value"] == boss["id"]


# --- delete, policies, ledger -----------------------------------------------------------------


def test_entra_hard_delete(scim: Scim) -> None:
    created = create(scim)

    deleted = scim.delete(f"/Users/{created['id']}")

    assert deleted.status_code == 204
    assert_error(scim.get(f"/Users/{created['id']}"), 404)
    assert scim.get('/Users?filter=userName eq "test.user@okta.local"').json()["totalResults"] == 0
    assert_error(scim.delete(f"/Users/{created['id']}"), 404)
    assert not MemberValue.objects.exists()


def test_username_immutable_policy(scim: Scim, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(username_immutable=True)
    created = create(scim)

    response = scim.patch(
        f"/Users/{created['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": "new@okta.local"}],
        },
    )

    assert "cannot change" in assert_error(response, 400, "mutability")["detail"]


def test_username_must_be_the_work_email_policy(scim: Scim, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(username_is_work_email=True)

    refused = scim.post(
        "/Users", okta_user(emails=[{"value": "other@okta.local", "type": "work", "primary": True}])
    )
    accepted = scim.post("/Users", okta_user())

    assert "primary work email" in assert_error(refused, 400, "invalidValue")["detail"]
    assert accepted.status_code == 201


def test_attribute_allowlist_drops_unmapped_attributes(scim: Scim, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(
        attribute_allowlist=["name", "emails", f"{ENTERPRISE}:department"]
    )

    body = create(scim, title="CEO", **{ENTERPRISE: {"department": "R&D", "costCenter": "7"}})

    assert "title" not in body and "displayName" not in body and "locale" not in body
    assert body["name"] == {"givenName": "Test", "familyName": "User"}
    assert body[ENTERPRISE] == {"department": "R&D"}
    assert body["userName"] and body["externalId"] and body["active"] is True


def test_writes_and_failures_are_recorded_in_the_ledger(scim: Scim) -> None:
    created = create(scim)
    scim.post("/Users", okta_user())

    events = list(
        ProvisioningEvent.objects.order_by("id").values(
            "operation", "outcome", "status", "scim_type", "user_name", "idp"
        )
    )

    assert events == [
        {
            "operation": "create",
            "outcome": "succeeded",
            "status": 201,
            "scim_type": "",
            "user_name": "test.user@okta.local",
            "idp": "Okta SCIM Client 1.0.0",
        },
        {
            "operation": "create",
            "outcome": "failed",
            "status": 409,
            "scim_type": "uniqueness",
            "user_name": "test.user@okta.local",
            "idp": "Okta SCIM Client 1.0.0",
        },
    ]
    assert created


def test_seats_are_counted_and_the_limit_enforced(scim: Scim, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=1, seats_used=0)
    first = create(scim)

    refused = scim.post("/Users", okta_user(user_name="second@okta.local", externalId="s2"))
    scim.patch(
        f"/Users/{first['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )
    inactive_ok = scim.post(
        "/Users", okta_user(user_name="third@okta.local", externalId="s3", active=False)
    )
    retried = scim.post("/Users", okta_user(user_name="second@okta.local", externalId="s2"))

    assert assert_error(refused, 403)["detail"].startswith(
        "Seat limit reached: 1 of 1 seats in use. Deactivate a user or ask support to raise the "
        "limit. The user is on the waitlist"
    )
    # The deactivation gave the freed seat to the waiting second user (tests/directory/
    # test_waitlist.py); the IdP's retry finds it exists.
    assert inactive_ok.status_code == 201
    assert_error(retried, 409, "uniqueness")
    assert Member.objects.get(user_name="second@okta.local").active
    assert Company.objects.get(pk=acme.pk).seats_used == 1


def test_another_companys_user_is_404_here(scim: Scim, outsider: Company) -> None:
    created = create(scim)

    with schema_context(outsider.schema_name):
        assert not Member.objects.filter(pk=created["id"]).exists()
    assert scim.get(f"/Users/{created['id']}").status_code == 200


def test_a_body_over_the_limit_is_413_with_a_scim_error(scim: Scim) -> None:
    huge = okta_user(title="x" * (11 * 1024 * 1024))

    response = scim.post("/Users", huge)

    assert_error(response, 413)
    assert Member.objects.count() == 0


def test_searchable_emails_follow_every_kind_of_update(scim: Scim) -> None:
    created = create(scim)
    user = f"/Users/{created['id']}"

    def found_by(email: str) -> list[str]:
        body = scim.get(f'/Users?filter=emails.value eq "{email}"').json()
        return [r["id"] for r in body["Resources"]]

    deactivate = {"op": "replace", "value": {"active": False}}
    new_email = {
        "op": "replace",
        "path": "emails",
        "value": [{"value": "moved@okta.local", "type": "work", "primary": True}],
    }
    scim.patch(user, {"schemas": [PATCH_OP], "Operations": [deactivate]})
    assert found_by("test.user@okta.local") == [created["id"]]

    scim.patch(user, {"schemas": [PATCH_OP], "Operations": [new_email]})
    assert (found_by("test.user@okta.local"), found_by("moved@okta.local")) == ([], [created["id"]])

    scim.put(user, okta_user())
    assert (found_by("test.user@okta.local"), found_by("moved@okta.local")) == ([created["id"]], [])
    with schema_context(connection.schema_name):
        assert MemberValue.objects.filter(member_id=created["id"]).count() == 1


def test_write_responses_list_the_users_groups(scim: Scim) -> None:
    created = create(scim)
    group = group_of(scim, "Engineering", created["id"])
    user = f"/Users/{created['id']}"

    patched = scim.patch(
        user,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    ).json()
    replaced = scim.put(user, okta_user()).json()

    for body in (patched, replaced):
        assert [g["value"] for g in body["groups"]] == [group["id"]]


@pytest.mark.parametrize(
    ("filter_", "named"),
    [
        ("userName gt 5", "userName is a string"),
        ("meta.lastModified gt 5", "meta.lastModified is a date"),
        ("active eq 5", "active is a boolean"),
    ],
)
def test_a_filter_error_names_the_attribute_as_the_client_wrote_it(
    scim: Scim, filter_: str, named: str
) -> None:
    response = scim.get("/Users?" + urlencode({"filter": filter_}))

    assert named in assert_error(response, 400, "invalidFilter")["detail"]


CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_common_attributes_qualified_by_the_core_urn(scim: Scim) -> None:
    ada = create(scim, user_name="ada@okta.local", externalId="ext1")
    create(scim, user_name="bob@okta.local", externalId="ext2")

    by_external = scim.get("/Users?" + urlencode({"filter": f'{CORE}:externalId eq "ext1"'}))
    by_id = scim.get("/Users?" + urlencode({"filter": f'{CORE}:id eq "{ada["id"]}"'}))
    by_created = scim.get(
        "/Users?" + urlencode({"filter": f'{CORE}:meta.created eq "{ada["meta"]["created"]}"'})
    )
    narrowed = scim.get(f"/Users/{ada['id']}?attributes={CORE}:externalId").json()
    sorted_ = scim.get(f"/Users?sortBy={CORE}:externalId&sortOrder=descending").json()

    for found in (by_external, by_id, by_created):
        assert [r["id"] for r in found.json()["Resources"]] == [ada["id"]], found.content
    assert narrowed == {"schemas": ada["schemas"], "id": ada["id"], "externalId": "ext1"}
    assert [r["externalId"] for r in sorted_["Resources"]] == ["ext2", "ext1"]


@pytest.mark.parametrize(("count", "items"), [(1e2, 3), (2.0, 2), (0.0, 0)])
def test_a_search_takes_an_integral_json_number_as_an_integer(
    scim: Scim, count: float, items: int
) -> None:
    for name in ("a", "b", "c"):
        create(scim, user_name=f"{name}@okta.local", externalId=name)
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}

    response = scim.post("/Users/.search", {**search, "count": count, "startIndex": 1.0})
    fraction = scim.post("/Users/.search", {**search, "count": 1.5})

    assert response.status_code == 200, response.content
    assert len(response.json()["Resources"]) == items
    assert_error(fraction, 400, "invalidValue")


def test_a_search_count_written_with_an_exponent(scim: Scim) -> None:
    create(scim)
    body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":1e2}'

    response = scim.post("/Users/.search", body)

    assert response.status_code == 200, response.content
    assert response.json()["totalResults"] == 1
