"""Fill the bare app's table from a seeded benchmark company: the same rows, so the same
size and the same lookups (bench_seed's contract), in the `bench_bare` schema."""

from __future__ import annotations

import psycopg
from psycopg import sql

SCHEMA = "bench_bare"


def seed(database_url: str, company_slug: str) -> int:
    """Replace `bench_bare.bare_user` with the members of `company_slug`; return the count.

    Raises LookupError when no such company exists."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT schema_name FROM public.tenants_company WHERE slug = %s", [company_slug]
        ).fetchone()
        if row is None:
            raise LookupError(f"no company {company_slug!r} to copy users from")
        schema, table = sql.Identifier(SCHEMA), sql.Identifier(SCHEMA, "bare_user")
        with connection.transaction():
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            connection.execute(
                sql.SQL("CREATE TABLE {} AS SELECT id, user_name, attributes FROM {}").format(
                    table, sql.Identifier(row[0], "directory_member")
                )
            )
            connection.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(table))
            connection.execute(
                sql.SQL("CREATE INDEX bare_user_user_name_ci ON {} (lower(user_name))").format(
                    table
                )
            )
        # Settled like bench_seed's tables (hint bits, visibility map, statistics).
        connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(table))
        count = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        return int(count[0]) if count else 0
