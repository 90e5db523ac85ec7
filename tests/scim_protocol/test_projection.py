"""scim_protocol.projection: attributes / excludedAttributes over a resource, no database."""

from __future__ import annotations

from typing import Any

import pytest

from scim_protocol.projection import parse_attribute_list, project, wants
from scim_protocol.schema import CORE_GROUP, CORE_USER, ENTERPRISE_USER, GROUP, USER

RESOURCE: dict[str, Any] = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "id": "1",
    "externalId": "e1",
    "userName": "ada",
    "emails": [{"value": "ada@x.test", "type": "work", "primary": True}, "not an object"],
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    ENTERPRISE_USER: {"department": "R&D"},
    "meta": {"resourceType": "User"},
}


def _project(attributes: str = "", excluded: str = "") -> dict[str, Any]:
    return project(
        RESOURCE,
        USER,
        attributes=parse_attribute_list(attributes, USER),
        excluded=parse_attribute_list(excluded, USER),
    )


def test_nothing_named_is_the_resource_itself() -> None:
    assert _project() is RESOURCE
    assert _project(attributes=" , ") is RESOURCE


@pytest.mark.parametrize("names", ["schemas", "nosuch", "urn:made:up:2.0:Thing", "emails.nosuch"])
def test_names_that_resolve_to_nothing_leave_the_always_returned(names: str) -> None:
    assert _project(attributes=names) == {"schemas": RESOURCE["schemas"], "id": "1"}


def test_a_sub_attribute_of_a_multi_valued_attribute_is_excluded_from_each_value() -> None:
    shown = _project(excluded="EMAILS.Type")

    assert shown["emails"] == [{"value": "ada@x.test", "primary": True}, "not an object"]
    assert RESOURCE["emails"][0]["type"] == "work"  # the stored resource is not changed


def test_schemas_by_urn_in_any_case() -> None:
    assert ENTERPRISE_USER not in _project(excluded=ENTERPRISE_USER.lower())
    assert _project(attributes=ENTERPRISE_USER) == {
        "schemas": RESOURCE["schemas"],
        "id": "1",
        ENTERPRISE_USER: {"department": "R&D"},
    }
    assert _project(excluded=CORE_USER) == {
        "schemas": RESOURCE["schemas"],
        "id": "1",
        ENTERPRISE_USER: {"department": "R&D"},
    }


def test_wants_reads_schemas_and_whole_attributes() -> None:
    def asks(attributes: str, excluded: str) -> bool:
        return wants(
            "members",
            GROUP,
            parse_attribute_list(attributes, GROUP),
            parse_attribute_list(excluded, GROUP),
        )

    assert asks("", "")
    assert not asks("", "members")
    assert asks("", "members.display")
    assert not asks("", CORE_GROUP)
    assert asks(CORE_GROUP, "")
    assert asks("members.value", "")
    assert not asks("displayName", "")
    assert not asks("schemas", "")


@pytest.mark.parametrize(
    ("attributes", "emails"),
    [
        ("emails.value,emails.type", [{"value": "ada@x.test", "type": "work"}]),
        ("emails.type,emails.value", [{"type": "work", "value": "ada@x.test"}]),
        ("emails,emails.value", RESOURCE["emails"]),
        ("emails.value,emails", RESOURCE["emails"]),
        (f"{CORE_USER},emails.value", RESOURCE["emails"]),
    ],
)
def test_sub_attributes_of_one_multi_valued_attribute_add_up(
    attributes: str, emails: list[Any]
) -> None:
    assert _project(attributes=attributes)["emails"] == emails


def test_sub_attributes_of_a_complex_attribute_add_up_and_whole_wins() -> None:
    assert _project(attributes="name.givenName,name.familyName")["name"] == RESOURCE["name"]
    assert _project(attributes="name,name.givenName")["name"] == RESOURCE["name"]
    assert RESOURCE["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
