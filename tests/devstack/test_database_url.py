"""A DATABASE_URL naming a database nobody created yet, as a newcomer's often does: the dev
stack creates it, or says in one line why it cannot and what to do."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.devstack.test_commands import run


def _server(**overrides: str) -> str:
    """The suite's own PostgreSQL server (local or embedded), with `overrides`."""
    return make_conninfo(os.environ["DATABASE_URL"], **overrides)


def _url(*, user: str, dbname: str) -> str:
    params = conninfo_to_dict(os.environ["DATABASE_URL"])
    return (
        f"postgres://{user}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{dbname}"
    )


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(_server(dbname="postgres"), autocommit=True) as conn:
        conn.execute(statement)


def _exists(name: str) -> bool:
    with psycopg.connect(_server(dbname="postgres")) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        )


@pytest.fixture
def fresh_name() -> Iterator[str]:
    name = f"hc_devstack_{uuid.uuid4().hex[:10]}"
    yield name
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def role_without_createdb() -> Iterator[str]:
    role = f"hc_devstack_{uuid.uuid4().hex[:10]}"
    _admin(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    yield role
    _admin(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_missing_database_is_created(fresh_name: str, tmp_path: Path) -> None:
    user = conninfo_to_dict(os.environ["DATABASE_URL"]).get("user", "postgres")

    result = run(
        ["-m", "devstack.manage", "check"],
        DATABASE_URL=_url(user=user, dbname=fresh_name),
        REDIS_URL=os.environ["REDIS_URL"],
        HEADCOUNT_DATA_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    assert _exists(fresh_name)
    assert "the database was missing: created it" in result.stderr


def test_make_run_without_the_right_to_create_it_says_what_to_do_in_one_line(
    fresh_name: str, role_without_createdb: str, tmp_path: Path
) -> None:
    result = run(
        ["-m", "devstack.run"],
        DATABASE_URL=_url(user=role_without_createdb, dbname=fresh_name),
        HEADCOUNT_DATA_DIR=str(tmp_path),
    )

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f'The database "{fresh_name}" (DATABASE_URL) does not exist' in result.stderr
    assert f"{role_without_createdb} may not create it" in result.stderr
    assert "createdb" in result.stderr and "Traceback" not in result.stderr
    assert not _exists(fresh_name)


def test_a_server_that_does_not_answer_is_one_line_too(tmp_path: Path) -> None:
    result = run(
        ["-m", "devstack.run"],
        DATABASE_URL="postgres://postgres@127.0.0.1:1/headcount",
        HEADCOUNT_DATA_DIR=str(tmp_path),
    )

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "PostgreSQL at 127.0.0.1:1 (DATABASE_URL) cannot be used" in result.stderr
