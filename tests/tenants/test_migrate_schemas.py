"""A no-op `migrate_schemas` visits no company schema; one missing a migration is migrated."""

import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from tenants.migration_executor import up_to_date
from tenants.models import Company


def _run(template: str, schema: str, app: str, name: str) -> bool:
    with connection.cursor() as cursor:
        table = sql.Identifier(schema, "django_migrations")
        cursor.execute(sql.SQL(template).format(table).as_string(cursor.connection), [app, name])
        return cursor.rowcount > 0


def _forget(schema: str, app: str, name: str) -> None:
    _run("DELETE FROM {} WHERE app = %s AND name = %s", schema, app, name)


def _recorded(schema: str, app: str, name: str) -> bool:
    return _run("SELECT 1 FROM {} WHERE app = %s AND name = %s", schema, app, name)


def _latest(app: str) -> str:
    """The app's last migration: the one that can be forgotten without leaving a later one
    recorded before its dependency."""
    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(app)
    return leaf[1]


def test_only_a_schema_missing_a_migration_is_migrated(
    acme: Company, outsider: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    # tenants' migrations create nothing in a company schema (a shared app): applying one
    # there again only records it.
    latest = _latest("tenants")
    _forget(outsider.schema_name, "tenants", latest)
    assert up_to_date([acme.schema_name, outsider.schema_name]) == {acme.schema_name}

    call_command("migrate_schemas", interactive=False, verbosity=1)

    out = capsys.readouterr().out
    assert "schemas already up to date: skipped." in out
    assert f"standard:{outsider.schema_name}]" in out
    assert f"standard:{acme.schema_name}]" not in out
    assert _recorded(outsider.schema_name, "tenants", latest)


def test_naming_an_app_visits_every_schema(
    acme: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("migrate_schemas", "tenants", interactive=False, verbosity=1)

    out = capsys.readouterr().out
    assert "already up to date" not in out
    assert f"standard:{acme.schema_name}]" in out


def test_a_schema_without_its_migrations_table_is_not_called_current_quietly(
    acme: Company, caplog: pytest.LogCaptureFixture
) -> None:
    # What every fresh database has: a schema with nothing migrated yet.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA new_for_test")

    with caplog.at_level(logging.DEBUG, logger="tenants.migration_executor"):
        current = up_to_date([acme.schema_name, "new_for_test", "missing_for_test"])

    assert current == {acme.schema_name}
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_a_migrations_table_that_cannot_be_read_is_a_warning(
    acme: Company, caplog: pytest.LogCaptureFixture
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA broken_for_test")
        cursor.execute("CREATE TABLE broken_for_test.django_migrations (id integer)")

    with caplog.at_level(logging.DEBUG, logger="tenants.migration_executor"):
        assert up_to_date([acme.schema_name, "broken_for_test"]) == set()

    (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Could not tell which schemas are up to date" in warning.getMessage()
    # The failed lookup left the connection usable.
    assert up_to_date([acme.schema_name]) == {acme.schema_name}
