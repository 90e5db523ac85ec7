"""Filters on meta.created / meta.lastModified compare with the value the server shows (to the
millisecond, truncated), not with the microseconds it stores (RFC 7644 §3.4.2.2)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest

from directory.models import Group, Member
from tests.conftest import max_queries
from tests.scim_client import Scim, assert_error, okta_user

STORED = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
SHOWN = "2026-01-02T03:04:05.123Z"


def _ids(scim: Scim, endpoint: str, filter_: str) -> set[str]:
    response = scim.get(f"/{endpoint}?filter={quote(filter_)}")
    assert response.status_code == 200, response.content
    return {resource["id"] for resource in response.json()["Resources"]}


@pytest.fixture
def user(scim: Scim) -> str:
    created = scim.post("/Users", okta_user()).json()
    Member.objects.filter(pk=created["id"]).update(created_at=STORED, updated_at=STORED)
    return str(created["id"])


@pytest.fixture
def group(scim: Scim) -> str:
    created = scim.post(
        "/Groups",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"},
    ).json()
    Group.objects.filter(pk=created["id"]).update(created_at=STORED, updated_at=STORED)
    return str(created["id"])


def test_the_shown_value_is_the_stored_one_truncated(scim: Scim, user: str, group: str) -> None:
    shown_user = scim.get(f"/Users/{user}").json()["meta"]
    shown_group = scim.get(f"/Groups/{group}").json()["meta"]

    assert shown_user["created"] == shown_user["lastModified"] == SHOWN
    assert shown_group["created"] == shown_group["lastModified"] == SHOWN


# (operator, value, whether the resource shown at SHOWN matches)
CASES = [
    ("gt", SHOWN, False),  # a delta sync's "since the last one I saw"
    ("ge", SHOWN, True),
    ("eq", SHOWN, True),
    ("ne", SHOWN, False),
    ("le", SHOWN, True),
    ("lt", SHOWN, False),
    ("eq", "2026-01-02T03:04:05.123000Z", True),
    ("eq", "2026-01-02T04:04:05.123+01:00", True),
    ("eq", "2026-01-02T03:04:05.1234Z", False),  # not a whole millisecond: never shown
    ("ne", "2026-01-02T03:04:05.1234Z", True),
    ("gt", "2026-01-02T03:04:05.1229Z", True),
    ("gt", "2026-01-02T03:04:05.1239Z", False),
    ("ge", "2026-01-02T03:04:05.1229Z", True),
    ("ge", "2026-01-02T03:04:05.1231Z", False),
    ("ge", "2026-01-02T03:04:05.1230000001Z", False),  # past Python's six digits
    ("lt", "2026-01-02T03:04:05.1231Z", True),
    ("lt", "2026-01-02T03:04:05.123Z", False),
    ("le", "2026-01-02T03:04:05.1229Z", False),
    ("le", "2026-01-02T03:04:05.1239Z", True),
    ("gt", "2026-01-02T03:04:05Z", True),
    ("lt", "2026-01-02T03:04:06Z", True),
]


@pytest.mark.parametrize("attribute", ["meta.created", "meta.lastModified"])
@pytest.mark.parametrize(("op", "value", "matches"), CASES)
def test_users_compare_with_the_shown_millisecond(
    scim: Scim, user: str, attribute: str, op: str, value: str, matches: bool
) -> None:
    found = _ids(scim, "Users", f'{attribute} {op} "{value}"')

    assert found == ({user} if matches else set())


@pytest.mark.parametrize("attribute", ["meta.created", "meta.lastModified"])
@pytest.mark.parametrize(("op", "value", "matches"), CASES)
def test_groups_compare_with_the_shown_millisecond(
    scim: Scim, group: str, attribute: str, op: str, value: str, matches: bool
) -> None:
    found = _ids(scim, "Groups", f'{attribute} {op} "{value}"')

    assert found == ({group} if matches else set())


def test_a_delta_sync_does_not_get_its_last_resource_again(scim: Scim) -> None:
    first = scim.post("/Users", okta_user("a@okta.local")).json()
    last_seen = first["meta"]["lastModified"]

    again = _ids(scim, "Users", f'meta.lastModified gt "{last_seen}"')

    assert first["id"] not in again


def test_a_date_filter_is_one_query_on_the_column(scim: Scim, user: str) -> None:
    with max_queries(5) as queries:
        found = _ids(scim, "Users", f'meta.lastModified gt "{SHOWN}"')

    assert found == set()
    (page,) = [sql for sql in queries.statements if "directory_member" in sql and "LIMIT" in sql]
    assert '"updated_at" >=' in page


def test_a_string_operator_on_a_date_is_refused(scim: Scim, user: str) -> None:
    text = 'meta.created sw "2026"'

    response = scim.get(f"/Users?filter={quote(text)}")

    assert_error(response, 400, "invalidFilter")


@pytest.mark.parametrize(
    ("op", "matches"), [("eq", False), ("gt", False), ("le", True), ("lt", True), ("ne", True)]
)
def test_the_last_millisecond_of_the_calendar_is_a_date_like_any_other(
    scim: Scim, user: str, op: str, matches: bool
) -> None:
    found = _ids(scim, "Users", f'meta.lastModified {op} "9999-12-31T23:59:59.999Z"')

    assert found == ({user} if matches else set())
