"""The few constant write statements every SCIM write runs, sent with their values as bind
parameters and prepared once per connection.

Django's PostgreSQL backend binds on the client (psycopg's `ClientCursor`): each value is
quoted into the SQL text in Python, and PostgreSQL lexes, parses, analyses and plans the whole
text again on every call. For a write's own statements (the member row with its searchable
values, the ledger row with the change events) that text carries the stored resource and the
event's rendered resource as escaped literals, and the statements run while the write holds
the company's hot row locks (the seat, the event stream), so every client and server
microsecond there is also time the company's other writers wait. A `bound_cursor()` sends the
values apart from the text (PostgreSQL's extended protocol: nothing is escaped or parsed), and
prepares the statement on the connection at its first use, so later calls send its name and
the values only, and PostgreSQL skips parsing and, once it settled on a generic plan, planning.

Scoped to the statements that run through it: everything else keeps Django's client-side
binding (a global server-side binding made reads slower: their texts differ per call, so
nothing is reused and the extra protocol messages cost more).

Correct across companies: a prepared statement's unqualified table names are resolved by the
`search_path`, and PostgreSQL analyses the statement again when the `search_path` differs from
its last use, so two companies alternating on one connection each write their own schema.

The statements still go through Django's cursor wrapper: `execute_wrapper` hooks, query
capture in tests and error wrapping (IntegrityError with psycopg's diagnostics) see them as
any other. psycopg forgets a connection's prepared statements on every ROLLBACK (and
deallocates them), so a write that fails prepares its statements again the next time.

BOUND_WRITES=0 runs them as every other statement (client-side binding, not prepared), for
measuring what this saves and for a connection pooler that cannot keep prepared statements
(PgBouncer in transaction mode before 1.21); `make test-unbound` runs the suites that reach
them that way.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(psycopg.Cursor[Any]):
    """Binds on the server (psycopg's own cursor; Django's is its client-binding one) and
    prepares every statement it runs.

    Django opens connections with psycopg's automatic preparation off (`prepare_threshold`
    None, so no statement of the rest of the code is counted or prepared); it is lifted for
    this cursor's own statement only."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        pg = self.connection
        kept = pg.prepare_threshold
        pg.prepare_threshold = 0
        try:
            return super().execute(query, params, prepare=True)
        finally:
            pg.prepare_threshold = kept

    def _send_query_prepared(self, name: bytes, pgq: Any, **kwargs: Any) -> None:
        # psycopg keeps the query sent (`_query`) only for statements it does not prepare;
        # Django's debug cursor reads it to record the statement (tests count statements so).
        super()._send_query_prepared(name, pgq, **kwargs)
        self._query = pgq


def bound_cursor() -> CursorWrapper:
    """A cursor of the default connection, wrapped as `connection.cursor()` is, whose
    statements are bound on the server and prepared (see the module docstring); with
    BOUND_WRITES off, `connection.cursor()`. Use as a context manager, for constant SQL only:
    each distinct text becomes a prepared statement of the connection."""
    db = connections[DEFAULT_DB_ALIAS]
    # Django's own cursor first: it connects, checks a kept connection and sends the
    # company's `SET search_path` when it changed (django-tenants), as for any statement,
    # and wraps the cursor (execute_wrapper hooks, query capture, error mapping). Its
    # client-binding cursor is then swapped for one that binds on the server.
    wrapper = db.cursor()
    if settings.BOUND_WRITES:
        wrapper.cursor.close()
        wrapper.cursor = _PreparingCursor(db.connection)
    return wrapper
