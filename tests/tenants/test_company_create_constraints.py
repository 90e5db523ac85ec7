"""A company cloned from the base schema has the same constraint names as the base, so later
migrations that name a constraint work on every company."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from tenants.models import Company
from tenants.schema_clone import restore_constraint_names


def constraints(schema: str) -> set[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, c.conname, c.contype::text FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid WHERE c.connamespace = %s::regnamespace",
            [schema],
        )
        return set(cursor.fetchall())


def test_a_new_company_has_the_base_schemas_constraint_names(acme: Company) -> None:
    base = constraints(settings.TENANT_BASE_SCHEMA)

    assert ("directory_membership", "membership_unique", "u") in base
    assert constraints(acme.schema_name) == base


def test_renaming_back_is_idempotent(acme: Company) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER TABLE "{acme.schema_name}".directory_membership '
            "RENAME CONSTRAINT membership_unique TO directory_membership_group_id_member_id_key"
        )

    renamed = restore_constraint_names(acme.schema_name, settings.TENANT_BASE_SCHEMA)
    again = restore_constraint_names(acme.schema_name, settings.TENANT_BASE_SCHEMA)

    assert (renamed, again) == (1, 0)
    assert constraints(acme.schema_name) == constraints(settings.TENANT_BASE_SCHEMA)
