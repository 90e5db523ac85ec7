"""attributes / excludedAttributes (RFC 7644 §3.4.2.5, §3.10) as clients send them: sub-
attributes of multi-valued attributes, whole schemas by URN, names that resolve to nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import max_queries
from tests.scim_client import Scim, okta_user

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def user(scim: Scim) -> dict[str, Any]:
    response = scim.post(
        "/Users",
        okta_user(
            schemas=[CORE_USER, ENTERPRISE],
            phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
            **{ENTERPRISE: {"department": "R&D", "costCenter": "7"}},
        ),
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


@pytest.fixture
def group(scim: Scim, user: dict[str, Any]) -> dict[str, Any]:
    response = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Sales",
            "members": [{"value": user["id"]}],
        },
    )
    assert response.status_code == 201, response.content
    return dict(scim.get(f"/Groups/{response.json()['id']}").json())


def _user_with(scim: Scim, user: dict[str, Any], query: str) -> dict[str, Any]:
    single = scim.get(f"/Users/{user['id']}?{query}")
    listed = scim.get(f"/Users?{query}")
    assert single.status_code == listed.status_code == 200, single.content
    assert listed.json()["Resources"] == [single.json()]
    return dict(single.json())


def test_excluding_a_sub_attribute_of_a_multi_valued_attribute(
    scim: Scim, user: dict[str, Any]
) -> None:
    shown = _user_with(scim, user, "excludedAttributes=emails.type,phoneNumbers.type")

    assert shown["emails"] == [{"primary": True, "value": "test.user@okta.local"}]
    assert shown["phoneNumbers"] == [{"value": "+1 555 0100"}]
    assert shown["userName"] == user["userName"]


def test_excluding_the_display_of_group_members(scim: Scim, group: dict[str, Any]) -> None:
    single = scim.get(f"/Groups/{group['id']}?excludedAttributes=members.display").json()
    listed = scim.get("/Groups?excludedAttributes=members.display").json()["Resources"]

    expected = [{k: v for k, v in m.items() if k != "display"} for m in group["members"]]
    assert single["members"] == expected and listed[0]["members"] == expected
    assert single["displayName"] == "Sales"


def test_excluding_members_still_reads_no_member(scim: Scim, group: dict[str, Any]) -> None:
    with max_queries(3) as without_members:
        scim.get(f"/Groups/{group['id']}?excludedAttributes=members")
    with max_queries(4) as with_members:
        scim.get(f"/Groups/{group['id']}?excludedAttributes=members.display")

    assert not any("directory_membership" in sql for sql in without_members.statements)
    assert any("directory_membership" in sql for sql in with_members.statements)


def test_excluding_an_extension_by_its_urn(scim: Scim, user: dict[str, Any]) -> None:
    shown = _user_with(scim, user, f"excludedAttributes={ENTERPRISE}")

    assert ENTERPRISE not in shown
    assert shown["userName"] == user["userName"] and shown["meta"] == user["meta"]


def test_asking_for_an_extension_by_its_urn(scim: Scim, user: dict[str, Any]) -> None:
    shown = _user_with(scim, user, f"attributes={ENTERPRISE}")

    assert shown == {
        "schemas": user["schemas"],
        "id": user["id"],
        ENTERPRISE: {"department": "R&D", "costCenter": "7"},
    }


def test_asking_for_the_core_schema_by_its_urn(scim: Scim, user: dict[str, Any]) -> None:
    shown = _user_with(scim, user, f"attributes={CORE_USER}")

    assert shown == {key: value for key, value in user.items() if key != ENTERPRISE}


@pytest.mark.parametrize("names", ["schemas", "nosuch", "schemas,nosuch,emails.nosuch"])
def test_asking_only_for_names_that_resolve_to_nothing_returns_id_and_schemas(
    scim: Scim, user: dict[str, Any], group: dict[str, Any], names: str
) -> None:
    shown_user = _user_with(scim, user, f"attributes={names}")
    shown_group = scim.get(f"/Groups/{group['id']}?attributes={names}").json()

    assert shown_user == {"schemas": user["schemas"], "id": user["id"]}
    assert shown_group == {"schemas": group["schemas"], "id": group["id"]}


def test_an_empty_attributes_parameter_asks_for_nothing_in_particular(
    scim: Scim, user: dict[str, Any]
) -> None:
    assert _user_with(scim, user, "attributes=") == user
