"""sortBy (RFC 7644 §3.4.2.3): every attribute it accepts orders the list; the others are
400 invalidValue, never accepted and ignored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import max_queries
from tests.scim_client import Scim, assert_error, okta_user


def _user(scim: Scim, name: str, **overrides: Any) -> str:
    response = scim.post("/Users", okta_user(f"{name}@okta.local", externalId=name, **overrides))
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


@pytest.fixture
def people(scim: Scim) -> dict[str, str]:
    return {
        # The primary value wins wherever it is in the list.
        "primary_second": _user(
            scim,
            "u1",
            emails=[{"value": "zed@x.test"}, {"value": "Amy@x.test", "primary": True}],
            phoneNumbers=[{"value": "+1 555 0300"}, {"value": "+1 555 0100", "primary": True}],
        ),
        # No primary: the first value.
        "first": _user(
            scim,
            "u2",
            emails=[{"value": "bob@x.test"}, {"value": "aaa@x.test"}],
            phoneNumbers=[{"value": "+1 555 0200"}, {"value": "+1 555 0000"}],
        ),
        "none": _user(scim, "u3", emails=[]),
        "primary_false": _user(
            scim,
            "u4",
            emails=[{"value": "carl@x.test", "primary": False}, {"value": "abe@x.test"}],
            phoneNumbers=[{"value": "+1 555 0400", "primary": False}],
        ),
    }


def _order(scim: Scim, query: str) -> list[str]:
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 200, response.content
    return [resource["id"] for resource in response.json()["Resources"]]


@pytest.mark.parametrize("attribute", ["emails.value", "phoneNumbers.value"])
def test_a_multi_valued_sub_attribute_sorts_by_the_primary_value_else_the_first(
    scim: Scim, people: dict[str, str], attribute: str
) -> None:
    with max_queries(5):
        ascending = _order(scim, f"sortBy={attribute}")
    descending = _order(scim, f"sortBy={attribute}&sortOrder=descending")
    second_page = _order(scim, f"sortBy={attribute}&startIndex=2&count=2")

    expected = ["primary_second", "first", "primary_false"]
    assert ascending == [people[name] for name in [*expected, "none"]]
    # Users without a value come last either way.
    assert descending == [people[name] for name in [*reversed(expected), "none"]]
    assert second_page == [people["first"], people["primary_false"]]


def test_the_sub_attribute_read_is_the_one_named(scim: Scim) -> None:
    home = _user(scim, "h", emails=[{"value": "z@x.test", "type": "Home"}])
    work = _user(scim, "w", emails=[{"value": "a@x.test", "type": "work"}])

    by_type = _order(scim, "sortBy=emails.type")
    by_value = _order(scim, "sortBy=emails.value")

    assert by_type == [home, work]
    assert by_value == [work, home]


def test_sort_by_id(scim: Scim, people: dict[str, str]) -> None:
    groups = [
        scim.post(
            "/Groups",
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name},
        ).json()["id"]
        for name in ("a", "b", "c")
    ]

    users = _order(scim, "sortBy=id")
    users_descending = _order(scim, "sortBy=id&sortOrder=descending")
    listed_groups = scim.get("/Groups?sortBy=id").json()["Resources"]

    assert users == sorted(people.values())
    assert users_descending == sorted(people.values(), reverse=True)
    assert [g["id"] for g in listed_groups] == sorted(groups)


@pytest.mark.parametrize(
    "attribute",
    [
        "name",  # complex
        "emails",  # complex, multi-valued
        "password",  # writeOnly, never returned
        "groups.value",  # not stored with the user
        "meta.version",
        "meta.location",
        "nope",
    ],
)
def test_an_attribute_without_a_sort_order_is_an_invalid_value(
    scim: Scim, people: dict[str, str], attribute: str
) -> None:
    assert_error(scim.get(f"/Users?sortBy={attribute}"), 400, "invalidValue")


def test_a_cursor_follows_a_sort_by_id(scim: Scim, people: dict[str, str]) -> None:
    seen: list[str] = []
    cursor = ""

    for _ in range(3):
        body = scim.get(f"/Users?sortBy=id&sortOrder=descending&count=2&cursor={cursor}").json()
        seen += [resource["id"] for resource in body["Resources"]]
        if "nextCursor" not in body:
            break
        cursor = body["nextCursor"]

    assert seen == sorted(people.values(), reverse=True)
