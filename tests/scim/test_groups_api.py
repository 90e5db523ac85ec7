"""/Groups as Okta and Entra call it: groups are roles; membership PATCH in every dialect."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from directory.models import Group, Member, Membership, ProvisioningEvent
from tests.conftest import max_queries
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def user(scim: Scim, name: str) -> str:
    response = scim.post(
        "/Users", okta_user(f"{name}@acme.test", externalId=name, displayName=name.title())
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def group(
    scim: Scim, name: str = "Test SCIMv2", members: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m} for m in members or []],
        **extra,
    }
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.content
    return response.json()


def patch(scim: Scim, group_id: str, *operations: dict[str, Any], **headers: str) -> Any:
    return scim.patch(
        f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": list(operations)}, **headers
    )


def member_ids(group_id: str) -> set[str]:
    return {
        str(i)
        for i in Membership.objects.filter(group_id=group_id).values_list("member_id", flat=True)
    }


def test_okta_push_group_create_and_read(scim: Scim) -> None:
    ada = user(scim, "ada")

    created = group(scim, members=[ada])
    fetched = scim.get(f"/Groups/{created['id']}").json()

    assert created["displayName"] == "Test SCIMv2" and created["schemas"] == [GROUP_SCHEMA]
    assert created["members"] == [
        {
            "value": ada,
            "$ref": f"http://testserver/t/acme/scim/v2/Users/{ada}",
            "display": "Ada",
            "type": "User",
        }
    ]
    assert fetched == created


def test_entra_create_with_the_adscim_schema_and_meta(scim: Scim) -> None:
    response = scim.post(
        "/Groups",
        {
            "schemas": [
                GROUP_SCHEMA,
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
            ],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        },
    )

    assert response.status_code == 201
    assert (
        response.json()["members"] == []
        and response.json()["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    )


def test_display_names_are_unique_case_insensitively(scim: Scim) -> None:
    group(scim, "Engineering")

    assert_error(
        scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "ENGINEERING"}),
        409,
        "uniqueness",
    )
    assert_error(scim.post("/Groups", {"schemas": [GROUP_SCHEMA]}), 400, "invalidValue")
    # As for Users: an id is text, never a boolean read as "True".
    flagged = scim.post(
        "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "B", "externalId": True}
    )
    assert "externalId" in assert_error(flagged, 400, "invalidValue")["detail"]
    assert Group.objects.count() == 1


def test_okta_membership_update_remove_by_filter_then_add_in_one_request(scim: Scim) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada])

    response = patch(
        scim,
        created["id"],
        {"op": "remove", "path": f'members[value eq "{ada}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob, "display": "bob@acme.test"}]},
    )

    assert response.status_code == 204
    assert member_ids(created["id"]) == {bob}


def test_okta_full_replace_and_rename_with_readonly_id(scim: Scim) -> None:
    ada, bob, cyd = user(scim, "ada"), user(scim, "bob"), user(scim, "cyd")
    created = group(scim, members=[ada, bob])

    replaced = patch(
        scim,
        created["id"],
        {"op": "replace", "path": "members", "value": [{"value": bob}, {"value": cyd}]},
    )
    renamed = patch(
        scim,
        created["id"],
        {"op": "replace", "value": {"id": created["id"], "displayName": "Renamed"}},
    )

    assert replaced.status_code == renamed.status_code == 204
    assert member_ids(created["id"]) == {bob, cyd}
    assert scim.get(f"/Groups/{created['id']}").json()["displayName"] == "Renamed"


def test_entra_add_and_remove_with_value_arrays(scim: Scim) -> None:
    ada, bob, cyd = user(scim, "ada"), user(scim, "bob"), user(scim, "cyd")
    created = group(scim)

    added = patch(
        scim,
        created["id"],
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": ada}, {"value": bob}, {"value": cyd}],
        },
    )
    removed = patch(
        scim,
        created["id"],
        {
            "op": "Remove",
            "path": "members",
            "value": [{"$ref": None, "value": ada}, {"value": cyd}],
        },
    )
    renamed = patch(
        scim, created["id"], {"op": "Replace", "path": "displayName", "value": "Entra name"}
    )

    assert added.status_code == removed.status_code == renamed.status_code == 204
    assert member_ids(created["id"]) == {bob}
    assert Group.objects.get(pk=created["id"]).display_name == "Entra name"


def test_adding_a_present_member_and_removing_an_absent_one_are_no_ops(scim: Scim) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada])

    again = patch(scim, created["id"], {"op": "add", "path": "members", "value": [{"value": ada}]})
    absent = patch(scim, created["id"], {"op": "remove", "path": f'members[value eq "{bob}"]'})

    assert again.status_code == absent.status_code == 204
    assert member_ids(created["id"]) == {ada}


def test_group_writes_that_change_nothing_keep_the_version_and_last_modified(scim: Scim) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada], externalId="g-1")
    gid = created["id"]
    rename = {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}
    unchanged = [
        # Okta sends its rename with every membership update.
        [rename],
        [{"op": "add", "path": "members", "value": [{"value": ada}]}],
        [{"op": "remove", "path": f'members[value eq "{bob}"]'}],
        [{"op": "Remove", "path": "members", "value": [{"value": bob}]}],
        [rename, {"op": "add", "path": "members", "value": [{"value": ada}]}],
        # The general path (not the SQL fast path).
        [{"op": "replace", "path": "externalId", "value": "g-1"}],
        [{"op": "add", "path": "members", "value": [{"value": ada.upper()}]}, rename],
    ]

    answers = [
        patch(scim, gid, *operations, HTTP_IF_MATCH=created["meta"]["version"])
        for operations in unchanged
    ]
    put = scim.put(f"/Groups/{gid}", {**created, "members": [{"value": ada}]})

    for answer in answers:
        assert answer.status_code == 204, answer.content
        assert answer["ETag"] == created["meta"]["version"]
    assert put.status_code == 200 and put.json() == created
    assert scim.get(f"/Groups/{gid}").json() == created
    rows = ProvisioningEvent.objects.filter(resource_id=gid).order_by("id")
    assert list(rows.values_list("operation", "outcome", "status")) == [
        ("create", "succeeded", 201),
        *[("patch", "succeeded", 204)] * len(unchanged),
        ("replace", "succeeded", 200),
    ]


def test_group_writes_that_change_something_move_the_version(scim: Scim) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada])
    gid = created["id"]

    added = patch(scim, gid, {"op": "add", "path": "members", "value": [{"value": bob}]})
    after_add = scim.get(f"/Groups/{gid}").json()["meta"]
    renamed = patch(scim, gid, {"op": "replace", "path": "displayName", "value": "Other"})
    after_rename = scim.get(f"/Groups/{gid}").json()["meta"]
    removed = patch(scim, gid, {"op": "remove", "path": f'members[value eq "{bob}"]'})
    after_remove = scim.get(f"/Groups/{gid}").json()["meta"]

    versions = [
        created["meta"]["version"],
        *(m["version"] for m in (after_add, after_rename, after_remove)),
    ]
    assert len(set(versions)) == 4
    assert [added["ETag"], renamed["ETag"], removed["ETag"]] == versions[1:]
    assert (
        after_remove["lastModified"] > after_add["lastModified"] > created["meta"]["lastModified"]
    )


def test_unknown_member_is_400_and_nothing_is_applied(scim: Scim, outsider: Any) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada])

    response = patch(
        scim,
        created["id"],
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": bob}, {"value": "6e0d7c6b-2f58-4d86-9c4d-1c0b1f1b0d0e"}],
        },
    )
    not_a_uuid = patch(
        scim, created["id"], {"op": "add", "path": "members", "value": [{"value": "nope"}]}
    )

    assert (
        "6e0d7c6b-2f58-4d86-9c4d-1c0b1f1b0d0e"
        in assert_error(response, 400, "invalidValue")["detail"]
    )
    assert_error(not_a_uuid, 400, "invalidValue")
    assert member_ids(created["id"]) == {ada}
    assert Group.objects.get(pk=created["id"]).display_name == "Test SCIMv2"


def test_a_member_given_only_by_ref_is_400_and_nothing_is_applied(scim: Scim) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada])
    by_ref = [{"$ref": f"http://testserver/t/acme/scim/v2/Users/{bob}"}]

    fast = patch(scim, created["id"], {"op": "add", "path": "members", "value": by_ref})
    general = patch(
        scim,
        created["id"],
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "add", "path": "members", "value": by_ref},
        {"op": "replace", "path": "externalId", "value": "x"},
    )
    posted = scim.post("/Groups", {"displayName": "Other", "members": by_ref})

    for response in (fast, general, posted):
        assert '"$ref" alone' in assert_error(response, 400, "invalidValue")["detail"]
    assert member_ids(created["id"]) == {ada}
    assert Group.objects.get(pk=created["id"]).display_name == "Test SCIMv2"


@pytest.mark.parametrize(
    ("name", "detail"),
    [(5, "displayName must be a string."), (" ", "displayName is required."), (None, None)],
)
def test_a_rename_to_no_name_or_a_non_string_says_which(
    scim: Scim, name: Any, detail: str | None
) -> None:
    created = group(scim)

    response = patch(scim, created["id"], {"op": "replace", "path": "displayName", "value": name})

    # null removes displayName, which is required (RFC 7643 §4.2).
    assert detail is None or detail in assert_error(response, 400)["detail"]
    assert response.status_code == 400
    assert Group.objects.get(pk=created["id"]).display_name == "Test SCIMv2"


def test_patch_with_attributes_answers_200_with_members_only_if_asked(scim: Scim) -> None:
    ada = user(scim, "ada")
    created = group(scim)

    with_members = scim.patch(
        f"/Groups/{created['id']}?attributes=members",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": ada}]}],
        },
    )
    without = scim.patch(
        f"/Groups/{created['id']}?excludedAttributes=members",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "X"}],
        },
    )

    assert with_members.status_code == 200 and [
        m["value"] for m in with_members.json()["members"]
    ] == [ada]
    assert (
        without.status_code == 200
        and "members" not in without.json()
        and without.json()["displayName"] == "X"
    )


def test_groups_are_roles_on_the_user_and_delete_removes_only_the_role(scim: Scim) -> None:
    ada = user(scim, "ada")
    admins = group(scim, "Admins", [ada])
    staff = group(scim, "Staff", [ada])

    roles = scim.get(f"/Users/{ada}").json()["groups"]
    deleted = scim.delete(f"/Groups/{admins['id']}")
    after = scim.get(f"/Users/{ada}").json()
    scim.delete(f"/Groups/{staff['id']}")
    none_left = scim.get(f"/Users/{ada}").json()

    assert [(r["display"], r["type"]) for r in roles] == [("Admins", "direct"), ("Staff", "direct")]
    assert roles[0]["$ref"] == f"http://testserver/t/acme/scim/v2/Groups/{admins['id']}"
    assert deleted.status_code == 204
    assert_error(scim.get(f"/Groups/{admins['id']}"), 404)
    assert [r["display"] for r in after["groups"]] == ["Staff"] and after["active"] is True
    assert "groups" not in none_left
    assert Member.objects.filter(pk=ada).exists()


def test_put_replaces_name_and_members(scim: Scim) -> None:
    ada, bob = user(scim, "ada"), user(scim, "bob")
    created = group(scim, members=[ada])

    response = scim.put(
        f"/Groups/{created['id']}",
        {
            "schemas": [GROUP_SCHEMA],
            "id": created["id"],
            "displayName": "AIW",
            "members": [{"value": bob}],
        },
    )

    assert response.status_code == 200
    assert response.json()["displayName"] == "AIW" and [
        m["value"] for m in response.json()["members"]
    ] == [bob]


@pytest.mark.parametrize(
    "query",
    [
        'filter=displayName eq "engineering"',
        'filter=externalId eq "ext-1"',
        'filter=members[value eq "{ada}"]',
        'filter=members.value eq "{ada}"',
        'filter=displayName sw "Eng" and members pr',
        'filter=meta.resourceType eq "Group" and externalId eq "ext-1"',
        'filter=meta.resourceType ne "User" and displayName co "eer"',
    ],
)
def test_group_filters(scim: Scim, query: str) -> None:
    ada = user(scim, "ada")
    engineering = group(scim, "Engineering", [ada], externalId="ext-1")
    group(scim, "Sales")

    body = scim.get("/Groups?" + query.format(ada=ada)).json()

    assert [g["id"] for g in body["Resources"]] == [engineering["id"]]


@pytest.mark.parametrize(
    ("filter_", "matches"),
    [
        ('members[not (type eq "User")]', []),
        ("members[not (display pr)]", []),
        ("members[not (value pr)]", []),
        ('members[type eq "User"]', ["Engineering"]),
        ('members[type ne "User"]', []),
        ("members[display pr]", ["Engineering"]),
        ('not (members[type eq "User"])', ["Sales"]),
        ('not (meta.resourceType eq "Group")', []),
        ("not (meta.version pr)", []),
    ],
)
def test_terms_true_of_every_member_negate_to_false(
    scim: Scim, filter_: str, matches: list[str]
) -> None:
    group(scim, "Engineering", [user(scim, "ada")])
    group(scim, "Sales")

    body = scim.get("/Groups?" + urlencode({"filter": filter_})).json()

    assert sorted(g["displayName"] for g in body["Resources"]) == matches, body


@pytest.mark.parametrize("filter_", ['members[value co "a0e"]', 'members.value sw "a0e"'])
def test_an_operator_members_value_lacks_is_named_in_its_words(scim: Scim, filter_: str) -> None:
    response = scim.get("/Groups?" + urlencode({"filter": filter_}))

    detail = assert_error(response, 400, "invalidFilter")["detail"]
    assert detail == "members.value supports eq and ne only."


def test_entra_reads_groups_without_members(scim: Scim) -> None:
    ada = user(scim, "ada")
    created = group(scim, "displayName", [ada])

    single = scim.get(f"/Groups/{created['id']}?excludedAttributes=members").json()
    listed = scim.get(
        '/Groups?excludedAttributes=members&filter=displayName eq "displayName"'
    ).json()

    assert "members" not in single and single["displayName"] == "displayName"
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


def test_okta_group_import_pages(scim: Scim) -> None:
    ids = {group(scim, f"Group {i:02}")["id"] for i in range(7)}

    pages = [scim.get(f"/Groups?startIndex={start}&count=3").json() for start in (1, 4, 7)]

    assert [p["itemsPerPage"] for p in pages] == [3, 3, 1]
    assert {g["id"] for p in pages for g in p["Resources"]} == ids


def test_membership_at_scale_is_set_based(scim: Scim) -> None:
    from django.utils import timezone

    now = timezone.now()
    Member.objects.bulk_create(
        [
            Member(
                user_name=f"bulk{i}@acme.test",
                attributes={"userName": f"bulk{i}@acme.test"},
                created_at=now,
                updated_at=now,
            )
            for i in range(10_000)
        ]
    )
    ids = [str(i) for i in Member.objects.values_list("pk", flat=True)]
    created = group(scim, "Everyone")

    # route with credential, lock, id check, 2 batched INSERTs of 5,000, save, ledger
    # (+savepoints)
    with max_queries(11) as added:
        response = patch(
            scim,
            created["id"],
            {"op": "add", "path": "members", "value": [{"value": i} for i in ids]},
        )
    with max_queries(12):
        listed = scim.get("/Groups?excludedAttributes=members").json()
    # The everyday PATCHes are SQL set operations: no load of the 10,000 members.
    with max_queries(12):
        removed = patch(
            scim, created["id"], {"op": "remove", "path": f'members[value eq "{ids[0]}"]'}
        )

    assert response.status_code == removed.status_code == 204, added.statements[-3:]
    assert Membership.objects.filter(group_id=created["id"]).count() == 9_999
    assert (
        listed["Resources"][0]["displayName"] == "Everyone"
        and "members" not in listed["Resources"][0]
    )


def test_group_writes_are_in_the_ledger(scim: Scim) -> None:
    created = group(scim, "Admins")
    scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "admins"})
    patch(scim, created["id"], {"op": "replace", "path": "displayName", "value": "Admins 2"})
    scim.delete(f"/Groups/{created['id']}")

    rows = list(
        ProvisioningEvent.objects.filter(resource_type="Group")
        .order_by("id")
        .values_list("operation", "outcome", "status")
    )

    assert rows == [
        ("create", "succeeded", 201),
        ("create", "failed", 409),
        ("patch", "succeeded", 204),
        ("delete", "succeeded", 204),
    ]


def test_common_attributes_qualified_by_the_group_urn(scim: Scim) -> None:
    engineering = group(scim, "Engineering", externalId="ext-1")
    group(scim, "Sales", externalId="ext-2")

    body = scim.get(
        "/Groups?" + urlencode({"filter": f'{GROUP_SCHEMA}:externalId eq "ext-1"'})
    ).json()

    assert [g["id"] for g in body["Resources"]] == [engineering["id"]]
