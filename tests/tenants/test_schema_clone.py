"""A company schema cloned from the base is the base under another name: the same tables,
columns, defaults, indexes, constraints, triggers and functions, and the base's rows."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import Member, MemberBucket
from tenants import schema_clone
from tenants.schema_pool import base_fingerprint

BASE = settings.TENANT_BASE_SCHEMA

_SHAPE = {
    "columns": """
        SELECT t.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE t.relnamespace = %(schema)s::regnamespace AND t.relkind = 'r'
          AND a.attnum > 0 AND NOT a.attisdropped""",
    "indexes": """
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_class i
        WHERE i.relnamespace = %(schema)s::regnamespace AND i.relkind = 'i'""",
    # By kind, columns and referenced table: PostgreSQL deparses a CHECK whose SQL went through
    # a dump differently (the same condition, other casts).
    "constraints": """
        SELECT c.conname, c.contype::text, t.relname, f.relname,
               ARRAY(SELECT a.attname FROM unnest(c.conkey) AS k(n)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)::text
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        LEFT JOIN pg_class f ON f.oid = c.confrelid
        WHERE c.connamespace = %(schema)s::regnamespace""",
    "triggers": """
        SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = %(schema)s::regnamespace AND NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        WHERE p.pronamespace = %(schema)s::regnamespace""",
    "migrations": "SELECT app, name FROM {schema}.django_migrations",
    "permissions": "SELECT codename FROM {schema}.auth_permission",
    # Where each sequence stands (NULL before its first use): a clone that restarted them
    # would hand out ids its copied rows already hold.
    "sequences": """
        SELECT s.relname, pg_sequence_last_value(s.oid)
        FROM pg_class s WHERE s.relnamespace = %(schema)s::regnamespace AND s.relkind = 'S'""",
}


def shape(schema: str) -> dict[str, set[tuple[Any, ...]]]:
    """Everything about `schema` that a clone must reproduce, with its name written as S."""
    found = {}
    with connection.cursor() as cursor:
        for name, query in _SHAPE.items():
            cursor.execute(query.format(schema=f'"{schema}"'), {"schema": schema})
            found[name] = {
                tuple(
                    v.replace(f"{schema}.", "S.").replace(f'"{schema}"', "S")
                    if isinstance(v, str)
                    else v
                    for v in row
                )
                for row in cursor.fetchall()
            }
    return found


def search_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return str(cursor.fetchone()[0])


def test_a_clone_is_the_base_under_another_name(db: None) -> None:
    before = search_path()

    schema_clone.clone_schema(BASE, "clone_check", fingerprint=base_fingerprint())

    cloned, base = shape("clone_check"), shape(BASE)
    assert cloned == base
    assert {"migrations", "permissions"} <= {name for name, rows in cloned.items() if rows}
    # The dump's own `SET search_path = ''` is not replayed on this connection.
    assert search_path() == before
    # Its triggers work in its own schema: the position index counts a new member.
    with schema_context("clone_check"):
        now = timezone.now()
        Member.objects.create(user_name="a@clone.test", created_at=now, updated_at=now)
        assert sum(MemberBucket.objects.values_list("members", flat=True)) == 1


def test_without_pg_dump_the_clone_falls_back_and_is_the_same(
    db: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(schema_clone, "_pg_dump_programs", lambda: [])
    monkeypatch.setattr(schema_clone, "_dumps", {})

    with caplog.at_level(logging.WARNING, logger="tenants.schema_clone"):
        schema_clone.clone_schema(BASE, "clone_fallback", fingerprint=base_fingerprint())

    assert "No pg_dump" in caplog.text
    assert shape("clone_fallback") == shape(BASE)


def test_the_base_name_is_replaced_only_as_a_whole_name() -> None:
    ddl = (
        "CREATE TABLE tenant_base.t (id integer DEFAULT nextval('tenant_base.s'::regclass));\n"
        "COMMENT ON TABLE tenant_base.x_tenant_base IS 'tenant_base_other \"tenant_base\"';"
    )

    assert schema_clone._renamed(ddl, "tenant_base", "co_new") == (
        "CREATE TABLE co_new.t (id integer DEFAULT nextval('co_new.s'::regclass));\n"
        "COMMENT ON TABLE co_new.x_tenant_base IS 'tenant_base_other \"tenant_base\"';"
    )


@pytest.mark.parametrize("name", ['x"; DROP SCHEMA public; --', "Upper", "has space", ""])
def test_only_plain_schema_names_are_written_into_the_ddl(db: None, name: str) -> None:
    with pytest.raises(ValueError, match="plain lower-case"):
        schema_clone.clone_schema(BASE, name, fingerprint=base_fingerprint())
