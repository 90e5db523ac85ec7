"""The one attribute → column map: what a member's indexed columns hold after a write."""

from __future__ import annotations

from directory.columns import MEMBER_COLUMNS, member_column_values


def test_a_full_resource_fills_every_written_column() -> None:
    resource = {
        "userName": "Ada@Example.com",
        "externalId": "00u1",
        "active": False,
        "displayName": "Ada Lovelace",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
    }

    values = member_column_values(resource)

    assert values == {
        "user_name": "Ada@Example.com",
        "external_id": "00u1",
        "active": False,
        "display_name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
    }


def test_a_minimal_resource_is_active_with_empty_names_and_no_external_id() -> None:
    values = member_column_values({"userName": "ada"})

    assert values == {
        "user_name": "ada",
        "external_id": None,
        "active": True,
        "display_name": "",
        "given_name": "",
        "family_name": "",
    }


def test_names_longer_than_their_columns_are_cut_to_fit() -> None:
    long = "x" * 300
    resource = {
        "userName": "ada",
        "displayName": long,
        "name": {"givenName": long, "familyName": long},
    }

    values = member_column_values(resource)

    assert values["display_name"] == values["given_name"] == values["family_name"] == "x" * 255


def test_ids_and_timestamps_are_never_written_from_the_resource() -> None:
    resource = {"userName": "ada", "id": "forged", "meta": {"created": "1970-01-01T00:00:00Z"}}

    values = member_column_values(resource)

    assert not {"id", "created_at", "updated_at"} & set(values)
    assert {column.field for column in MEMBER_COLUMNS.values() if not column.written} == {
        "id",
        "created_at",
        "updated_at",
    }
