"""The SCIM PATCH engine (RFC 7644 §3.5.2), with the requests Okta and Entra ID really send."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scim_protocol.errors import (
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
)
from scim_protocol.patch import MAX_OPERATIONS, PATCH_OP, apply_patch, validate_patch_request
from scim_protocol.schema import ENTERPRISE_USER, GROUP, USER, Attribute, ResourceType, Schema

BABS = "2819c223-7f76-453a-919d-413861904646"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"
MANAGER = "26118915-6090-4610-87e4-49d8ca9f808d"


def _user() -> dict[str, Any]:
    return {
        "userName": "bjensen@example.com",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "postalCode": "91608"},
        ],
        ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"},
    }


def _group() -> dict[str, Any]:
    return {
        "displayName": "Tour Guides",
        "members": [
            {
                "value": BABS,
                "display": "Babs Jensen",
                "$ref": f"https://example.com/v2/Users/{BABS}",
            }
        ],
    }


def _patch(
    resource: dict[str, Any], *operations: dict[str, Any], resource_type: ResourceType = USER
) -> dict[str, Any]:
    return apply_patch(resource, list(operations), resource_type)


def _member_ids(group: dict[str, Any]) -> list[str]:
    return [member["value"] for member in group.get("members", [])]


# --- RFC 7644 §3.5.2.1 add --------------------------------------------------------------------


def test_rfc_add_a_member_to_a_group() -> None:
    group = {"displayName": "Tour Guides"}

    result = _patch(
        group,
        {
            "op": "add",
            "path": "members",
            "value": [
                {
                    "display": "Babs Jensen",
                    "$ref": f"https://example.com/v2/Users/{BABS}",
                    "value": BABS,
                }
            ],
        },
        resource_type=GROUP,
    )

    # `display` is kept as the client sent it (our Group schema makes it readWrite).
    assert result["members"] == [
        {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{BABS}", "value": BABS}
    ]


def test_rfc_add_without_a_path_adds_an_email_and_sets_the_nickname() -> None:
    user = _user()

    result = _patch(
        user,
        {
            "op": "add",
            "value": {
                "emails": [{"value": "babs@jensen.net", "type": "home"}],
                "nickname": "Babs",
            },
        },
    )

    assert result["nickName"] == "Babs"
    assert "nickname" not in result
    assert result["emails"] == [*user["emails"], {"value": "babs@jensen.net", "type": "home"}]


# --- RFC 7644 §3.5.2.2 remove -----------------------------------------------------------------


def test_rfc_remove_a_single_member() -> None:
    group = _group()

    result = _patch(
        group, {"op": "remove", "path": f'members[value eq "{BABS}"]'}, resource_type=GROUP
    )

    assert "members" not in result
    assert result["displayName"] == "Tour Guides"


def test_rfc_remove_all_members() -> None:
    group = _group()

    result = _patch(group, {"op": "remove", "path": "members"}, resource_type=GROUP)

    assert result == {"displayName": "Tour Guides"}


def test_rfc_remove_emails_matching_a_compound_filter() -> None:
    user = _user()
    user["emails"].append({"value": "bj@example.com.au", "type": "work"})

    result = _patch(
        user, {"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}
    )

    assert result["emails"] == [
        {"value": "babs@jensen.org", "type": "home"},
        {"value": "bj@example.com.au", "type": "work"},
    ]


def test_rfc_remove_two_members_with_no_space_before_the_value() -> None:
    group = _group()
    group["members"].append({"value": JAMES})
    group["members"].append({"value": "keep"})

    result = _patch(
        group,
        {"op": "remove", "path": f'members[value eq"{BABS}"]'},
        {"op": "remove", "path": f'members[value eq"{JAMES}"]'},
        resource_type=GROUP,
    )

    assert _member_ids(result) == ["keep"]


def test_rfc_remove_all_members_then_add_new_ones() -> None:
    group = _group()

    result = _patch(
        group,
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"value": JAMES}, {"value": "u3"}]},
        resource_type=GROUP,
    )

    assert _member_ids(result) == [JAMES, "u3"]


def test_rfc_remove_a_sub_attribute_of_the_matching_values() -> None:
    user = _user()

    result = _patch(user, {"op": "remove", "path": 'addresses[type eq "work"].postalCode'})

    assert result["addresses"] == [{"type": "work", "streetAddress": "100 Universal City Plaza"}]


# --- RFC 7644 §3.5.2.3 replace ----------------------------------------------------------------


def test_rfc_replace_all_members() -> None:
    group = _group()

    result = _patch(
        group,
        {
            "op": "replace",
            "path": "members",
            "value": [
                {"display": "Babs Jensen", "value": BABS},
                {"display": "James Smith", "value": JAMES},
            ],
        },
        resource_type=GROUP,
    )

    assert result["members"] == [
        {"display": "Babs Jensen", "value": BABS},
        {"display": "James Smith", "value": JAMES},
    ]


def test_rfc_replace_the_work_address() -> None:
    user = _user()
    work = {
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": True,
    }

    result = _patch(user, {"op": "replace", "path": 'addresses[type eq "work"]', "value": work})

    assert result["addresses"] == [work]


def test_rfc_replace_a_sub_attribute_of_the_work_address() -> None:
    user = _user()

    result = _patch(
        user,
        {
            "op": "replace",
            "path": 'addresses[type eq "work"].streetAddress',
            "value": "1010 Broadway Ave",
        },
    )

    assert result["addresses"] == [
        {"type": "work", "streetAddress": "1010 Broadway Ave", "postalCode": "91608"}
    ]


def test_rfc_replace_without_a_path_replaces_emails_and_sets_the_nickname() -> None:
    user = _user()
    emails = [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
        {"value": "b@j.net", "type": "other"},
    ]

    result = _patch(user, {"op": "replace", "value": {"emails": emails, "nickname": "Babs"}})

    assert result["emails"] == emails
    assert result["nickName"] == "Babs"


def test_replace_the_work_email_merges_into_the_matching_value() -> None:
    user = _user()

    result = _patch(
        user,
        {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "new@example.com"}},
    )

    assert result["emails"][0] == {"value": "new@example.com", "type": "work", "primary": True}
    assert result["emails"][1] == user["emails"][1]


def test_replace_with_a_filter_that_matches_nothing_is_no_target() -> None:
    user = _user()

    with pytest.raises(NoTarget) as raised:
        _patch(user, {"op": "replace", "path": 'emails[type eq "other"]', "value": {"value": "x"}})

    assert raised.value.detail


# --- Okta and Entra dialects (idp-flows.md §E) ------------------------------------------------


def test_capitalised_ops_are_accepted() -> None:
    user = _user()

    result = _patch(
        user,
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "REPLACE", "path": "title", "value": "Guide"},
        {"op": "Remove", "path": "displayName"},
    )

    assert result["nickName"] == "Babs"
    assert result["title"] == "Guide"
    assert "displayName" not in result


def test_okta_deactivate_is_a_pathless_replace_of_active() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "value": {"active": False}})

    assert result == {**user, "active": False}


def test_entra_replace_work_email_and_family_name() -> None:
    user = _user()

    result = _patch(
        user,
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "updatedEmail@microsoft.com",
        },
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    )

    assert result["emails"][0] == {
        "value": "updatedEmail@microsoft.com",
        "type": "work",
        "primary": True,
    }
    assert result["name"] == {"givenName": "Barbara", "familyName": "updatedFamilyName"}


def test_entra_work_email_on_a_user_without_one_creates_it() -> None:
    user = {"userName": "x", "emails": [{"value": "home@x.org", "type": "home"}]}

    result = _patch(
        user,
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "work@x.com"},
    )

    assert result["emails"] == [
        {"value": "home@x.org", "type": "home"},
        {"type": "work", "value": "work@x.com"},
    ]


def test_entra_work_email_on_a_user_without_emails_creates_it() -> None:
    user = {"userName": "x"}

    result = _patch(
        user, {"op": "add", "path": 'emails[type eq "work"].value', "value": "work@x.com"}
    )

    assert result["emails"] == [{"type": "work", "value": "work@x.com"}]


def test_sub_attribute_path_with_a_non_equality_filter_and_no_match_is_no_target() -> None:
    user = {"userName": "x"}

    with pytest.raises(NoTarget):
        _patch(
            user,
            {
                "op": "replace",
                "path": 'emails[type eq "work" or type eq "home"].value',
                "value": "a@b.c",
            },
        )


def test_entra_pathless_replace_with_dotted_and_urn_keys() -> None:
    user = _user()

    result = _patch(
        user,
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE_USER}:employeeNumber": "Aklq",
                "urn:ietf:params:scim:schemas:core:2.0:User:userName": "kkom@example.com",
            },
        },
    )

    assert result["displayName"] == "Bjfe"
    assert result["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert result[ENTERPRISE_USER] == {"employeeNumber": "Aklq", "department": "Tour Operations"}
    assert result["userName"] == "kkom@example.com"


def test_pathless_key_may_be_a_value_path() -> None:
    user = {"userName": "x"}

    result = _patch(
        user, {"op": "replace", "value": {'emails[type eq "work"].value': "work@x.com"}}
    )

    assert result["emails"] == [{"type": "work", "value": "work@x.com"}]


def test_sub_attribute_path_creates_the_complex_attribute() -> None:
    user = {"userName": "x"}

    result = _patch(user, {"op": "replace", "path": "manager.value", "value": MANAGER})

    assert result[ENTERPRISE_USER] == {"manager": {"value": MANAGER}}


def test_pathless_value_with_an_extension_object() -> None:
    user = {"userName": "x"}

    result = _patch(
        user,
        {"op": "add", "value": {ENTERPRISE_USER: {"costCenter": "4130", "Division": "Theme"}}},
    )

    assert result[ENTERPRISE_USER] == {"costCenter": "4130", "division": "Theme"}


def test_entra_replace_extension_attribute_by_urn_path() -> None:
    user = _user()

    result = _patch(
        user,
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "42"},
    )

    assert result[ENTERPRISE_USER]["employeeNumber"] == "42"


def test_okta_group_rename_ignores_the_read_only_id() -> None:
    group = _group()

    result = _patch(
        group,
        {
            "op": "replace",
            "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "New"},
        },
        resource_type=GROUP,
    )

    assert result == {**group, "displayName": "New"}
    assert "id" not in result


def test_pathless_keys_for_read_only_and_unknown_attributes_are_ignored() -> None:
    user = _user()

    result = _patch(
        user,
        {
            "op": "replace",
            "value": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "meta": {"created": "04-12-2018 00:00:00", "version": "v1.0"},
                "groups": [],
                "favouriteColour": "teal",
                "urn:example:unknown:1.0:Thing": {"a": 1},
                "title": "Guide",
            },
        },
    )

    assert result == {**user, "title": "Guide"}


def test_entra_adds_several_members_with_null_refs() -> None:
    group = _group()

    result = _patch(
        group,
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": JAMES}, {"value": "u3"}],
        },
        resource_type=GROUP,
    )

    assert result["members"] == [*group["members"], {"value": JAMES}, {"value": "u3"}]


def test_entra_removes_members_listed_in_value() -> None:
    group = _group()
    group["members"] += [{"value": JAMES}, {"value": "u3"}]

    result = _patch(
        group,
        {
            "op": "Remove",
            "path": "members",
            "value": [{"$ref": None, "value": BABS}, {"value": "u3"}],
        },
        resource_type=GROUP,
    )

    assert _member_ids(result) == [JAMES]


def test_okta_membership_update_removes_and_adds_in_one_request() -> None:
    group = _group()

    result = _patch(
        group,
        {"op": "remove", "path": f'members[value eq "{BABS}"]'},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": JAMES, "display": "test.user@okta.local"}],
        },
        {"op": "replace", "value": {"id": "gid", "displayName": "Tour Guides"}},
        resource_type=GROUP,
    )

    assert result == {
        "displayName": "Tour Guides",
        "members": [{"value": JAMES, "display": "test.user@okta.local"}],
    }


def test_entra_manager_as_a_one_element_list_on_path_manager() -> None:
    user = _user()
    ref = f"https://example.com/v2/Users/{MANAGER}"

    result = _patch(
        user, {"op": "Add", "path": "manager", "value": [{"$ref": ref, "value": MANAGER}]}
    )

    assert result[ENTERPRISE_USER]["manager"] == {"$ref": ref, "value": MANAGER}
    assert "manager" not in result


def test_entra_manager_as_a_bare_id_on_the_urn_path() -> None:
    user = {"userName": "x"}

    result = _patch(user, {"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": MANAGER})

    assert result == {"userName": "x", ENTERPRISE_USER: {"manager": {"value": MANAGER}}}


def test_a_new_manager_does_not_keep_the_old_managers_ref_or_name() -> None:
    user = {
        "userName": "x",
        ENTERPRISE_USER: {
            "manager": {"value": "old", "$ref": "https://e/Users/old", "displayName": "Old Boss"}
        },
    }

    result = _patch(user, {"op": "add", "path": "manager", "value": [{"value": MANAGER}]})

    assert result[ENTERPRISE_USER]["manager"] == {"value": MANAGER}


def test_entra_removes_the_manager_with_an_empty_string() -> None:
    user = {"userName": "x", ENTERPRISE_USER: {"manager": {"value": MANAGER}}}

    result = _patch(user, {"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": ""})

    # The extension object is gone too: absent attributes are simply missing.
    assert result == {"userName": "x"}


@pytest.mark.parametrize("cleared", [None, ""])
def test_null_or_empty_string_clears_an_attribute(cleared: str | None) -> None:
    user = _user()

    result = _patch(
        user,
        {"op": "replace", "path": "displayName", "value": cleared},
        {"op": "add", "path": "name.givenName", "value": cleared},
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:department", "value": cleared},
    )

    assert "displayName" not in result
    assert result["name"] == {"familyName": "Jensen"}
    assert result[ENTERPRISE_USER] == {"employeeNumber": "701984"}


def test_null_in_a_pathless_value_clears_the_attribute() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "value": {"displayName": None, "name.givenName": ""}})

    assert "displayName" not in result
    assert result["name"] == {"familyName": "Jensen"}


def test_replace_with_an_empty_list_clears_a_multi_valued_attribute() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "path": "emails", "value": []})

    assert "emails" not in result


def test_add_with_an_empty_list_changes_nothing() -> None:
    user = _user()

    result = _patch(user, {"op": "add", "path": "emails", "value": []})

    assert result == user


def test_clearing_the_work_email_address_removes_that_email() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "path": 'emails[type eq "work"].value', "value": ""})

    assert result["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


def test_clearing_the_last_name_sub_attribute_removes_name() -> None:
    user = {"userName": "x", "name": {"familyName": "Jensen"}}

    result = _patch(user, {"op": "replace", "path": "name.familyName", "value": None})

    assert result == {"userName": "x"}


def test_entra_active_as_a_string_is_placed_as_sent() -> None:
    user = _user()

    result = _patch(user, {"op": "Replace", "path": "active", "value": "False"})

    assert result["active"] == "False"  # the caller normalises "True"/"False"


# --- Paths and values -------------------------------------------------------------------------


def test_paths_are_case_insensitive_and_written_with_canonical_names() -> None:
    user = {"userName": "x"}

    result = _patch(
        user,
        {"op": "add", "path": "NAME.GIVENNAME", "value": "Barbara"},
        {"op": "add", "path": "NICKNAME", "value": "Babs"},
        {
            "op": "add",
            "path": "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:COSTCENTER",
            "value": "1",
        },
        {"op": "add", "path": "Emails", "value": {"VALUE": "a@b.c", "Type": "work"}},
    )

    assert result == {
        "userName": "x",
        "name": {"givenName": "Barbara"},
        "nickName": "Babs",
        ENTERPRISE_USER: {"costCenter": "1"},
        "emails": [{"value": "a@b.c", "type": "work"}],
    }


@pytest.mark.parametrize("op", ["add", "replace", "Replace"])
def test_add_and_replace_on_a_complex_attribute_keep_the_sub_attributes_not_named(op: str) -> None:
    user = _user()

    result = _patch(user, {"op": op, "path": "name", "value": {"givenName": "NewG"}})

    # RFC 7644 §3.5.2.3: "Sub-attributes that are not specified in the value parameter are
    # left unchanged."
    assert result["name"] == {"givenName": "NewG", "familyName": "Jensen"}


def test_pathless_replace_of_a_complex_attribute_keeps_the_sub_attributes_not_named() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "value": {"name": {"familyName": "NewF"}}})

    assert result["name"] == {"givenName": "Barbara", "familyName": "NewF"}


def test_replace_of_the_managers_display_name_keeps_the_manager() -> None:
    manager = {"value": MANAGER, "$ref": f"https://e/Users/{MANAGER}", "displayName": "Old"}
    user = {"userName": "x", ENTERPRISE_USER: {"manager": manager}}

    by_path = _patch(
        user, {"op": "replace", "path": f"{ENTERPRISE_USER}:manager", "value": {"displayName": "X"}}
    )
    pathless = _patch(
        user, {"op": "replace", "value": {ENTERPRISE_USER: {"manager": {"displayName": "X"}}}}
    )

    assert by_path[ENTERPRISE_USER]["manager"] == {**manager, "displayName": "X"}
    assert pathless == by_path


def test_replace_with_a_null_sub_attribute_unassigns_it_and_keeps_the_others() -> None:
    user = {"userName": "x", "name": {"givenName": "G", "familyName": "F", "middleName": "M"}}

    result = _patch(
        user, {"op": "Replace", "path": "name", "value": {"givenName": None, "familyName": "F2"}}
    )

    assert result["name"] == {"familyName": "F2", "middleName": "M"}


def test_replace_unassigning_every_sub_attribute_removes_the_attribute() -> None:
    user = {"userName": "x", "name": {"givenName": "G", "familyName": "F"}}

    result = _patch(
        user, {"op": "replace", "path": "name", "value": {"givenName": None, "familyName": None}}
    )

    assert result == {"userName": "x"}


def _user_with_two_addresses() -> dict[str, Any]:
    home = {"type": "home", "streetAddress": "1 Elm St", "locality": "Burbank"}
    return {**_user(), "addresses": [*_user()["addresses"], home]}


@pytest.mark.parametrize("op", ["add", "replace", "Replace"])
def test_a_null_sub_attribute_in_a_filtered_value_unassigns_it_there_only(op: str) -> None:
    user = _user_with_two_addresses()

    result = _patch(
        user, {"op": op, "path": 'addresses[type eq "work"]', "value": {"streetAddress": None}}
    )

    # As on a singular complex attribute: null is unassigned (RFC 7644 §3.5.2), the
    # sub-attributes not named and the values the filter does not select are kept.
    assert result["addresses"] == [
        {"type": "work", "postalCode": "91608"},
        user["addresses"][1],
    ]


@pytest.mark.parametrize("op", ["add", "replace"])
def test_a_null_sub_attribute_path_of_a_filtered_value_unassigns_it_there_only(op: str) -> None:
    user = _user_with_two_addresses()

    by_sub_path = _patch(
        user, {"op": op, "path": 'addresses[type eq "work"].streetAddress', "value": None}
    )
    by_value = _patch(
        user, {"op": op, "path": 'addresses[type eq "work"]', "value": {"streetAddress": None}}
    )

    assert by_sub_path == by_value
    assert by_sub_path["addresses"][0] == {"type": "work", "postalCode": "91608"}


def test_a_filtered_value_may_unassign_one_sub_attribute_and_set_another() -> None:
    user = _user_with_two_addresses()

    result = _patch(
        user,
        {
            "op": "replace",
            "path": 'addresses[type eq "work"]',
            "value": {"streetAddress": None, "postalcode": "90210", "locality": "Hollywood"},
        },
    )

    assert result["addresses"][0] == {
        "type": "work",
        "postalCode": "90210",
        "locality": "Hollywood",
    }
    assert result["addresses"][1] == user["addresses"][1]


def test_a_filtered_value_with_every_sub_attribute_unassigned_is_dropped() -> None:
    user = _user_with_two_addresses()
    unassigned = {"type": None, "streetAddress": None, "postalCode": None}

    result = _patch(
        user, {"op": "replace", "path": 'addresses[type eq "work"]', "value": unassigned}
    )

    assert result["addresses"] == [user["addresses"][1]]


def test_a_filtered_value_whose_value_is_unassigned_is_dropped() -> None:
    user = _user()

    result = _patch(
        user, {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": None}}
    )

    # As `emails[type eq "work"].value` set to null: an email without an address means nothing.
    assert result["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


def test_a_null_sub_attribute_in_a_filtered_value_matching_nothing_is_no_target() -> None:
    user = _user()

    with pytest.raises(NoTarget):
        _patch(
            user,
            {"op": "replace", "path": 'addresses[type eq "home"]', "value": {"locality": None}},
        )


def test_replace_naming_no_known_sub_attribute_changes_nothing() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "path": "name", "value": {"nickname": "B"}})

    assert result == user


def test_replace_with_a_new_manager_does_not_keep_the_old_managers_ref_or_name() -> None:
    old = {"value": "old", "$ref": "https://e/Users/old", "displayName": "Old Boss"}
    user = {"userName": "x", ENTERPRISE_USER: {"manager": old}}

    result = _patch(user, {"op": "replace", "path": "manager", "value": {"value": MANAGER}})

    assert result[ENTERPRISE_USER]["manager"] == {"value": MANAGER}


def test_add_to_a_singular_attribute_replaces_its_value() -> None:
    user = _user()

    result = _patch(user, {"op": "add", "path": "displayName", "value": "Barbara"})

    assert result["displayName"] == "Barbara"


def test_replace_a_sub_attribute_on_every_value_without_a_filter() -> None:
    user = _user()

    result = _patch(user, {"op": "replace", "path": "emails.type", "value": "other"})

    assert [email["type"] for email in result["emails"]] == ["other", "other"]


def test_remove_the_whole_extension_by_its_urn() -> None:
    user = _user()

    result = _patch(user, {"op": "remove", "path": ENTERPRISE_USER})

    assert ENTERPRISE_USER not in result


def test_a_singular_attribute_given_several_values_is_invalid_value() -> None:
    user = _user()

    with pytest.raises(InvalidValue):
        _patch(user, {"op": "replace", "path": "displayName", "value": ["a", "b"]})


def test_an_object_for_a_simple_attribute_is_invalid_value() -> None:
    user = _user()

    with pytest.raises(InvalidValue):
        _patch(user, {"op": "replace", "path": "title", "value": {"value": "Guide"}})


def test_a_pathless_value_that_is_not_an_object_is_invalid_value() -> None:
    user = _user()

    with pytest.raises(InvalidValue) as raised:
        _patch(user, {"op": "replace", "value": "active"})

    assert raised.value.detail


# --- Primary ----------------------------------------------------------------------------------


def test_adding_a_primary_email_clears_primary_on_the_others() -> None:
    user = _user()

    result = _patch(
        user,
        {"op": "add", "path": "emails", "value": [{"value": "new@x.com", "primary": True}]},
    )

    assert [email.get("primary") for email in result["emails"]] == [False, None, True]


def test_making_the_home_email_primary_clears_the_work_email() -> None:
    user = _user()

    result = _patch(
        user, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}
    )

    assert result["emails"] == [
        {"value": "bjensen@example.com", "type": "work", "primary": False},
        {"value": "babs@jensen.org", "type": "home", "primary": True},
    ]


def test_adding_a_non_primary_email_keeps_the_existing_primary() -> None:
    user = _user()

    result = _patch(user, {"op": "add", "path": "emails", "value": {"value": "n@x.com"}})

    assert result["emails"][0]["primary"] is True


# --- No-ops -----------------------------------------------------------------------------------


def test_adding_an_existing_member_changes_nothing() -> None:
    group = _group()

    result = _patch(
        group, {"op": "add", "path": "members", "value": [{"value": BABS}]}, resource_type=GROUP
    )

    assert result == group


def test_adding_an_existing_email_value_changes_nothing() -> None:
    user = _user()

    result = _patch(
        user,
        {"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "other"}]},
    )

    assert result == user


@pytest.mark.parametrize("op", ["add", "replace"])
def test_an_email_differing_only_in_case_is_the_same_email(op: str) -> None:
    user = {"userName": "x", "emails": [{"value": "user3@ex.com", "type": "work"}]}
    again = [{"value": "USER3@EX.COM", "type": "work"}, {"value": "User3@Ex.Com"}]

    result = _patch(user, {"op": op, "path": "emails", "value": again})

    # add keeps the value there; replace keeps the first of the values it was given
    assert len(result["emails"]) == 1
    assert result == user if op == "add" else result["emails"] == [again[0]]


def test_removing_an_email_by_value_ignores_case() -> None:
    user = _user()

    result = _patch(
        user, {"op": "remove", "path": "emails", "value": [{"value": "BABS@Jensen.ORG"}]}
    )

    assert result["emails"] == [user["emails"][0]]


def test_case_exact_values_differing_in_case_are_different_values() -> None:
    keys = Attribute(
        "keys",
        type="complex",
        multi_valued=True,
        sub_attributes=(Attribute("value", case_exact=True),),
    )
    # A core schema (attributes at the top level) with a caseExact multi-valued attribute: the
    # User and Group schemas have none.
    schema = Schema(GROUP.schema.id, "Group", "", (keys,))
    resource_type = ResourceType("Group", "/Groups", schema)
    thing = {"keys": [{"value": "AbC"}]}

    result = _patch(
        thing,
        {"op": "add", "path": "keys", "value": [{"value": "abc"}, {"value": "AbC"}]},
        resource_type=resource_type,
    )

    assert result["keys"] == [{"value": "AbC"}, {"value": "abc"}]


def test_removing_an_absent_member_changes_nothing() -> None:
    group = _group()

    result = _patch(
        group,
        {"op": "remove", "path": 'members[value eq "nobody"]'},
        {"op": "Remove", "path": "members", "value": [{"value": "nobody"}]},
        resource_type=GROUP,
    )

    assert result == group


def test_removing_an_absent_attribute_changes_nothing() -> None:
    user = {"userName": "x"}

    result = _patch(
        user,
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.middleName"},
        {"op": "remove", "path": f"{ENTERPRISE_USER}:manager"},
        {"op": "remove", "path": 'emails[type eq "work"]'},
    )

    assert result == user


# --- Errors -----------------------------------------------------------------------------------


def test_remove_without_a_path_is_no_target() -> None:
    user = _user()

    with pytest.raises(NoTarget) as raised:
        _patch(user, {"op": "remove"})

    assert raised.value.scim_type == "noTarget"
    assert raised.value.detail


@pytest.mark.parametrize(
    "path",
    [
        "favouriteColour",
        "name.nickname",
        "schemas",
        'emails[colour eq "red"]',
        'emails[type eq "work"].colour',
        'emails[type eq "work"',
        "emails[type xx 1]",
        'title[value eq "x"]',
        'name[givenName eq "x"]',
        "urn:example:unknown:1.0:Thing:x",
    ],
)
def test_bad_paths_are_invalid_path(path: str) -> None:
    user = _user()

    with pytest.raises(InvalidPath) as raised:
        _patch(user, {"op": "replace", "path": path, "value": "x"})

    assert raised.value.scim_type == "invalidPath"
    assert raised.value.detail


@pytest.mark.parametrize(
    ("op", "path"),
    [
        ("replace", "id"),
        ("add", "meta.created"),
        ("remove", "meta"),
        ("add", "groups"),
        ("replace", "groups.display"),
    ],
)
def test_read_only_paths_are_mutability_errors(op: str, path: str) -> None:
    user = _user()

    with pytest.raises(Mutability) as raised:
        _patch(user, {"op": op, "path": path, "value": "x"})

    assert raised.value.scim_type == "mutability"


def test_member_display_can_be_written() -> None:
    group = _group()

    result = _patch(
        group,
        {"op": "replace", "path": f'members[value eq "{BABS}"].display', "value": "x"},
        resource_type=GROUP,
    )

    assert [m["display"] for m in result["members"] if m["value"] == BABS] == ["x"]


def test_immutable_member_value_cannot_be_replaced_or_removed() -> None:
    group = _group()

    with pytest.raises(Mutability):
        _patch(
            group,
            {"op": "replace", "path": f'members[value eq "{BABS}"].value', "value": "other"},
            resource_type=GROUP,
        )
    with pytest.raises(Mutability):
        _patch(
            group,
            {"op": "replace", "path": f'members[value eq "{BABS}"]', "value": {"value": "o"}},
            resource_type=GROUP,
        )
    with pytest.raises(Mutability):
        _patch(
            group,
            {"op": "remove", "path": f'members[value eq "{BABS}"].value'},
            resource_type=GROUP,
        )
    with pytest.raises(Mutability):
        _patch(
            group,
            {"op": "replace", "path": f'members[value eq "{BABS}"]', "value": {"value": None}},
            resource_type=GROUP,
        )


def test_immutable_member_type_may_be_added_when_absent() -> None:
    group = _group()

    result = _patch(
        group,
        {"op": "add", "path": f'members[value eq "{BABS}"].type', "value": "User"},
        resource_type=GROUP,
    )

    assert result["members"][0]["type"] == "User"


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "userName"},
        {"op": "replace", "path": "userName", "value": ""},
        {"op": "replace", "value": {"userName": None}},
    ],
)
def test_a_required_attribute_cannot_be_removed(operation: dict[str, Any]) -> None:
    user = _user()

    with pytest.raises(Mutability):
        _patch(user, operation)


@pytest.mark.parametrize(
    "operation",
    [
        {"path": "title", "value": "x"},
        {"op": "move", "path": "title", "value": "x"},
        {"op": 3, "path": "title", "value": "x"},
        {"op": "add", "path": "title"},
        {"op": "replace"},
    ],
)
def test_bad_operations_are_invalid_syntax(operation: dict[str, Any]) -> None:
    user = _user()

    with pytest.raises(InvalidSyntax) as raised:
        _patch(user, operation)

    assert raised.value.detail


def test_operation_member_names_are_case_insensitive() -> None:
    user = _user()

    result = _patch(user, {"Op": "replace", "Path": "title", "Value": "Guide"})

    assert result["title"] == "Guide"


def test_the_error_detail_names_the_failing_operation() -> None:
    user = _user()

    with pytest.raises(InvalidPath) as raised:
        _patch(
            user,
            {"op": "replace", "path": "title", "value": "Guide"},
            {"op": "replace", "path": "favouriteColour", "value": "teal"},
        )

    assert raised.value.detail.startswith("Operations[1]: ")
    assert "favouriteColour" in raised.value.detail


# --- Atomicity and purity ---------------------------------------------------------------------


def test_a_failing_second_operation_raises_and_leaves_the_input_unchanged() -> None:
    user = _user()
    before = copy.deepcopy(user)

    with pytest.raises(Mutability):
        _patch(
            user,
            {"op": "replace", "path": "name.familyName", "value": "Changed"},
            {"op": "remove", "path": 'emails[type eq "work"]'},
            {"op": "replace", "path": "id", "value": "x"},
        )

    assert user == before


def test_a_successful_patch_does_not_mutate_the_input_or_the_operations() -> None:
    user = _user()
    operations = [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "n@x.com"},
        {"op": "add", "path": "emails", "value": [{"value": "o@x.com", "primary": True}]},
        {"op": "add", "path": "name", "value": {"middleName": "J"}},
        {"op": "replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "1"},
    ]
    before, operations_before = copy.deepcopy(user), copy.deepcopy(operations)

    result = apply_patch(user, operations, USER)
    result["emails"][2]["value"] = "mutated"

    assert user == before
    assert operations == operations_before
    assert result["name"]["middleName"] == "J"


# Every kind of write the engine makes, on a user and on a group: the input must come out as it
# went in, whatever the engine shares with it (it copies only the containers it changes).
_EVERY_KIND_OF_WRITE = [
    (USER, {"op": "replace", "value": {"active": False}}),
    (USER, {"op": "add", "value": {"name": {"middleName": "J"}, "nickName": "Babs"}}),
    (USER, {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"}),
    (USER, {"op": "add", "path": "name", "value": {"honorificPrefix": "Ms"}}),
    (USER, {"op": "replace", "path": "name", "value": {"givenName": "Babs"}}),
    (USER, {"op": "remove", "path": "name.givenName"}),
    (USER, {"op": "remove", "path": "name"}),
    (USER, {"op": "add", "path": "emails", "value": [{"value": "b@x.com", "primary": True}]}),
    (USER, {"op": "replace", "path": "emails", "value": [{"value": "only@x.com"}]}),
    (USER, {"op": "replace", "path": 'emails[type eq "work"].value', "value": "n@x.com"}),
    (USER, {"op": "replace", "path": 'emails[type eq "home"]', "value": {"primary": True}}),
    (USER, {"op": "replace", "path": 'addresses[type eq "work"]', "value": {"postalCode": None}}),
    (USER, {"op": "add", "path": 'phoneNumbers[type eq "work"].value', "value": "555"}),
    (USER, {"op": "remove", "path": 'emails[type eq "home"]'}),
    (USER, {"op": "remove", "path": 'emails[type eq "work"].primary'}),
    (USER, {"op": "remove", "path": "emails", "value": [{"value": "babs@jensen.org"}]}),
    (USER, {"op": "replace", "path": "addresses.postalCode", "value": "90210"}),
    (USER, {"op": "replace", "path": f"{ENTERPRISE_USER}:department", "value": "Sales"}),
    (USER, {"op": "remove", "path": f"{ENTERPRISE_USER}:department"}),
    (USER, {"op": "remove", "path": ENTERPRISE_USER}),
    (USER, {"op": "add", "path": ENTERPRISE_USER, "value": {"division": "West"}}),
    (USER, {"op": "add", "value": {ENTERPRISE_USER: {"manager": {"value": MANAGER}}}}),
    (USER, {"op": "replace", "path": "manager", "value": [{"value": MANAGER}]}),
    (USER, {"op": "replace", "value": {ENTERPRISE_USER: None}}),
    (USER, {"op": "replace", "path": "displayName", "value": None}),
    (GROUP, {"op": "add", "path": "members", "value": [{"value": JAMES}]}),
    (GROUP, {"op": "remove", "path": f'members[value eq "{BABS}"]'}),
    (GROUP, {"op": "remove", "path": "members", "value": [{"value": BABS}]}),
    (GROUP, {"op": "replace", "path": "members", "value": [{"value": JAMES}]}),
    (GROUP, {"op": "replace", "value": {"displayName": "Guides", "id": "x"}}),
]


@pytest.mark.parametrize(("resource_type", "operation"), _EVERY_KIND_OF_WRITE)
def test_no_kind_of_write_changes_the_input(
    resource_type: ResourceType, operation: dict[str, Any]
) -> None:
    resource = _user() if resource_type is USER else _group()
    before = copy.deepcopy(resource)
    expected = apply_patch(copy.deepcopy(resource), [operation], resource_type)

    result = apply_patch(resource, [operation, copy.deepcopy(operation)], resource_type)

    assert resource == before
    assert result == apply_patch(expected, [operation], resource_type)


def test_the_result_shares_no_value_with_the_operations() -> None:
    operations: list[dict[str, Any]] = [
        {"op": "add", "path": "name", "value": {"middleName": ["J"]}},
        {"op": "add", "value": {ENTERPRISE_USER: {"manager": {"value": MANAGER}}}},
        {"op": "add", "path": "emails", "value": [{"value": "b@x.com", "display": {"a": 1}}]},
    ]

    result = apply_patch(_user(), operations, USER)
    operations[0]["value"]["middleName"].append("K")
    operations[1]["value"][ENTERPRISE_USER]["manager"]["value"] = "changed"
    operations[2]["value"][0]["display"]["a"] = 2

    assert result["name"]["middleName"] == ["J"]
    assert result[ENTERPRISE_USER]["manager"] == {"value": MANAGER}
    assert result["emails"][-1]["display"] == {"a": 1}


# --- validate_patch_request -------------------------------------------------------------------


def _body(operations: Any, schemas: Any = (PATCH_OP,), key: str = "Operations") -> dict[str, Any]:
    return {"schemas": list(schemas), key: operations}


def test_validate_returns_the_operations() -> None:
    body = _body([{"op": "replace", "value": {"active": False}}])

    result = validate_patch_request(body)

    assert result == [{"op": "replace", "value": {"active": False}}]


def test_validate_accepts_lowercase_operations_and_any_case_schema() -> None:
    body = _body([{"op": "add", "path": "title", "value": "x"}], [PATCH_OP.upper()], "operations")

    result = validate_patch_request(body)

    assert len(result) == 1


def test_validate_accepts_exactly_the_maximum_number_of_operations() -> None:
    body = _body([{"op": "remove", "path": "title"}] * MAX_OPERATIONS)

    result = validate_patch_request(body)

    assert len(result) == MAX_OPERATIONS


def test_validate_rejects_too_many_operations() -> None:
    body = _body([{"op": "remove", "path": "title"}] * (MAX_OPERATIONS + 1))

    with pytest.raises(PayloadTooLarge) as raised:
        validate_patch_request(body)

    assert "at most 1,000 operations" in raised.value.detail


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="null"),
        pytest.param([{"op": "add"}], id="a list"),
        pytest.param("test", id="a string"),
        pytest.param({"Operations": [{"op": "add"}]}, id="no schemas"),
        pytest.param(_body([{"op": "add"}], schemas=()), id="empty schemas"),
        pytest.param(_body([{"op": "add"}], schemas=["urn:x"]), id="wrong schema"),
        pytest.param({"schemas": PATCH_OP, "Operations": [{"op": "add"}]}, id="schemas a string"),
        pytest.param({"schemas": [PATCH_OP]}, id="no operations"),
        pytest.param(_body([]), id="empty operations"),
        pytest.param(_body({"op": "add"}), id="operations an object"),
        pytest.param(_body(["add"]), id="operation a string"),
    ],
)
def test_validate_rejects_a_bad_envelope(body: Any) -> None:
    with pytest.raises(InvalidSyntax) as raised:
        validate_patch_request(body)

    assert raised.value.scim_type == "invalidSyntax"
    assert raised.value.detail


class _CountedValue(str):
    """A member id that counts the comparisons made with it."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        type(self).comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_large_groups_patch_in_linear_comparisons() -> None:
    # Okta pushes groups of tens of thousands: member ids compared pairwise (a list scan per
    # value) would be 10^8 comparisons here; looked up by hash, about one per removed value.
    def members(prefix: str, count: int) -> list[dict[str, str]]:
        return [{"value": _CountedValue(f"{prefix}{n}")} for n in range(count)]

    group = {"displayName": "Everyone", "members": members("u", 10_000)}
    operations = [
        {"op": "replace", "path": "members", "value": members("v", 10_000)},
        *({"op": "add", "path": "members", "value": [{"value": f"w{n}"}]} for n in range(500)),
        {"op": "remove", "path": "members", "value": members("v", 5_000)},
    ]
    _CountedValue.comparisons = 0

    result = apply_patch(group, operations, GROUP)

    assert len(result["members"]) == 5_500
    assert _CountedValue.comparisons <= 2 * 15_500
