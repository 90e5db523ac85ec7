"""django-tenants' PostgreSQL backend, sending `SET search_path` once per company switch
instead of before every query, and checking a kept connection by the request's first read
instead of a `SELECT 1` round trip, and running a transaction that is one statement as that
statement alone, with no BEGIN or COMMIT (`ending_transaction`).

django-tenants re-sends `SET search_path` before each query unless TENANT_LIMIT_SET_CALLS is
on, and with it on still re-sends it after every `set_tenant`, even to the company already
selected: a SCIM request to a company paid a SET before each of its three queries (about a
third of its round trips). Here the setting is on and a `set_tenant` to the company already
selected keeps it (and the content-type cache, which only a change of schema makes wrong).
What makes skipping safe is that the cached value is dropped whenever the database may have
dropped the setting: a SET is transactional, so django-tenants' backend forgets it on
rollback and on rollback to a savepoint, and on close; this one also on connect (a new
session starts at the server default).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.transaction import TransactionManagementError
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from psycopg.pq import Format, TransactionStatus

logger = logging.getLogger(__name__)
T = TypeVar("T")


# Statements whose adapters a cursor keeps (see _PreparingCursor): far more than the
# statements a request runs, and the company routing's read of each company a worker serves.
MAX_KEPT_ADAPTERS = 1024


class _PreparingCursor(ServerBindingCursor):
    """Django's server-binding cursor, telling Django what it ran when psycopg ran a prepared
    statement: psycopg records the query sent (`_query`, which Django's debug cursor and the
    tests' query capture read) only for statements it does not prepare.

    It also keeps psycopg's adapters (its Transformer: the dumper of each parameter type, the
    loader of each column type) per statement. psycopg keeps them for the next execution
    only when it runs the very query it ran last, and builds them again otherwise, through
    Python lookups per parameter and column; the connection's kept cursor runs every
    statement of every request (prepared_cursor), so it built them for each one: a visible
    share of every SCIM request's instructions (docs/performance.md). Handing psycopg the
    statement's own Transformer back is what it does itself for a repeated query. Only with
    DB_PREPARED_STATEMENTS, as this cursor is."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._adapters_of: dict[str, Any] = {}

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        last = getattr(self, "_tx", None)  # none before the first statement
        if last is not None:
            # The last statement's kept adapters let go of its result, as the cursor does (a
            # page can be megabytes); what they learned of each type stays.
            last.set_pgresult(None, set_loaders=False)
        keyed = isinstance(query, str)  # not a psycopg `sql.Composed`
        kept = self._adapters_of.get(query) if keyed else None
        if kept is not None:
            # psycopg compares by identity: an equal statement built anew counts as the same.
            self._tx, self._last_query = kept, query
        result = super().execute(query, params, **kwargs)  # type: ignore[misc]  # psycopg's, not in the stubs
        if kept is None and keyed:
            if len(self._adapters_of) >= MAX_KEPT_ADAPTERS:
                self._adapters_of.clear()
            self._adapters_of[query] = self._tx
        return result

    def _send_query_prepared(self, name: bytes, pgq: Any, **kwargs: Any) -> None:
        super()._send_query_prepared(name, pgq, **kwargs)  # type: ignore[misc]  # psycopg's, untyped in the stubs
        self._query = pgq


class _UtcTimestamptzLoader(psycopg.adapt.Loader):
    """Loads timestamptz with psycopg's own loader (compiled, with psycopg's binary package),
    in the session's TimeZone, which is UTC whenever Django's zone is (Django sets it on
    connecting). Django registers a subclass of psycopg's pure-Python loader, which parses
    with a regular expression and then overwrites the result's zone with its own: many times
    slower on every timestamp read, and a page of users reads hundreds. `timezone` is what
    Django's `create_cursor` compares before registering its own again."""

    timezone = datetime.UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._load = psycopg.adapters.get_loader(oid, Format.TEXT)(oid, context).load  # type: ignore[misc]

    def load(self, data: Any) -> datetime.datetime:
        return self._load(data)


class _Lent:
    """The connection's kept cursor, lent for one `with` block: the block's end gives it
    back instead of closing it."""

    __slots__ = ("_cursor", "_db")

    def __init__(self, db: DatabaseWrapper, cursor: Any) -> None:
        self._db, self._cursor = db, cursor

    def __enter__(self) -> Any:
        self._db._kept_lent = True
        return self._cursor

    def __exit__(self, *exc_info: object) -> None:
        self._db._kept_lent = False


class Ending:
    """What `ending_transaction` lends its block: `alone` says whether the statement runs as
    its own transaction; call `wrote_nothing()` when it wrote nothing, so that statements may
    still follow it (they run in a transaction of their own: reads, say, to explain why)."""

    __slots__ = ("alone", "final")

    def __init__(self, alone: bool) -> None:
        self.alone, self.final = alone, True

    def wrote_nothing(self) -> None:
        self.final = False


class DatabaseWrapper(TenantDatabaseWrapper):
    search_path_set_schemas: list[str] | None
    tenant: Any
    health_check_done: bool
    _binding_on_server = False
    # prepared_cursor's: the cursor kept open (a Django CursorWrapper), and whether a `with`
    # block has it now.
    _kept_cursor: Any = None
    _kept_lent = False
    # ending_transaction's: the transaction's statement committed on its own, until Django
    # ends the atomic block (commit or rollback) or the connection closes.
    _ended_alone = False

    @contextmanager
    def ending_transaction(self) -> Iterator[Ending]:
        """Around the last statement of a transaction, in the atomic block that is the
        transaction. When that block has sent nothing yet (the outermost block, no
        savepoint, no statement run in it, so psycopg has not sent its BEGIN), the statement
        runs as a transaction of its own: no BEGIN before it, no COMMIT after it, and the
        locks it takes are released by its own commit instead of being held while the
        COMMIT travels from the worker (two round trips of a SCIM create, whose locks every
        other write of the company waits for). PostgreSQL makes one statement atomic by
        itself: a failure leaves nothing of it. Otherwise (statements already ran in the
        transaction, a savepoint, DB_ONE_STATEMENT_TRANSACTIONS off) the statement runs in
        the transaction as any other.

        Nothing may run after the statement in that block: it would begin a new transaction,
        which the statement's would not be part of, so opening or borrowing a cursor there
        raises TransactionManagementError (the statement itself is committed by then; a
        cursor already open is not watched). `Ending.wrote_nothing()` lifts that for a
        statement that wrote nothing."""
        ending = Ending(self._untouched())
        if not ending.alone:
            yield ending
            return
        with self._in_autocommit():
            yield ending
        self._ended_alone = ending.final

    @contextmanager
    def outside_transaction(self) -> Iterator[bool]:
        """Reads that come before a transaction's writes, run outside it: when the atomic
        block that is the transaction has sent nothing yet (as `ending_transaction`
        requires), the block's statements run on their own, with no BEGIN, and the
        transaction is still untouched after it, so its one write may still run alone. For
        reads that take no lock (an optimistic update reads the row, then writes it only if
        its version is still the one read). Yields whether they run outside; otherwise (or
        with DB_ONE_STATEMENT_TRANSACTIONS off) they run in the transaction."""
        if not self._untouched():
            yield False
            return
        with self._in_autocommit():
            yield True

    def _untouched(self) -> bool:
        """In the outermost atomic block, no savepoint, and nothing sent in it yet."""
        connection = self.connection
        return bool(
            settings.DB_ONE_STATEMENT_TRANSACTIONS
            and connection is not None
            and len(self.atomic_blocks) == 1
            and not self.savepoint_ids
            and not self.get_autocommit()
            and connection.info.transaction_status == TransactionStatus.IDLE
        )

    @contextmanager
    def _in_autocommit(self) -> Iterator[None]:
        # psycopg's own switch, under Django's atomic block: psycopg sends no BEGIN for the
        # statements in between, and Django's COMMIT at the block's end finds no transaction
        # open and sends nothing.
        connection = self.connection
        connection.autocommit = True
        try:
            yield
        finally:
            if not connection.closed:
                connection.autocommit = False

    def _refuse_after_ending(self) -> None:
        if self._ended_alone:
            raise TransactionManagementError(
                "A statement ran after the one that was its transaction "
                "(ending_transaction): it would not be part of that transaction."
            )

    def commit(self) -> None:
        self._ended_alone = False
        super().commit()

    def rollback(self) -> None:
        self._ended_alone = False
        super().rollback()

    @contextmanager
    def statements_prepared(self) -> Iterator[None]:
        """Cursors opened inside send their statement's parameters apart from its text
        (server-side binding), so the connection prepares a statement once it has run it
        `prepare_threshold` times (DB_PREPARED_STATEMENTS): PostgreSQL then neither parses
        nor plans it again, which was most of what it spent on a SCIM request's statements.

        Only for the statements every request repeats, with a bounded number of parameters
        (the protocol carries at most 65,535; lists go as one array parameter): the
        routing read, the compiled queries (infra/prepared_query.py), the write statements.
        Everything else keeps Django's client-side binding, which has no such limit.
        Correct across companies: PostgreSQL plans a prepared statement again when the
        `search_path` differs from the one it was planned under."""
        if not settings.DB_PREPARED_STATEMENTS:
            yield
            return
        already, self._binding_on_server = self._binding_on_server, True
        try:
            yield
        finally:
            self._binding_on_server = already

    def prepared_cursor(self) -> Any:
        """A cursor binding on the server, as `statements_prepared` opens them, for a `with`
        block. The connection keeps one open and lends it again: opening and closing a cursor
        through Django (health check, search path, wrappers, psycopg's adapters) cost as much
        Python as running a prepared statement on it, and a SCIM write runs several.

        The kept cursor is lent only when nothing observes cursors: a fresh one (closed at
        the block's end) while Django records queries (DEBUG, a test's query capture), while
        the kept one is lent already (a block inside another's), and with
        DB_PREPARED_STATEMENTS off. Each lending checks the connection as opening a cursor
        does: the health check due, the same connection (else a new kept cursor), the
        company's search path (django-tenants sends it again after a change of company or
        a rollback)."""
        self._refuse_after_ending()
        if not settings.DB_PREPARED_STATEMENTS or self.queries_logged or self._kept_lent:
            with self.statements_prepared():
                return self.cursor()
        self.close_if_health_check_failed()
        kept = self._kept_cursor
        if kept is None or kept.cursor.closed or kept.cursor.connection is not self.connection:
            with self.statements_prepared():
                kept = self._kept_cursor = self.cursor()
        else:
            self._handle_search_path(kept)
        return _Lent(self, kept)

    def create_cursor(self, name: str | None = None) -> Any:
        self._refuse_after_ending()
        if not self._binding_on_server or name:
            return super().create_cursor(name)
        factory = self.connection.cursor_factory
        self.connection.cursor_factory = _PreparingCursor
        try:
            return super().create_cursor(name)
        finally:
            self.connection.cursor_factory = factory

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        if (
            self.search_path_set_schemas is not None
            and self.tenant is not None
            and tenant.schema_name == self.schema_name
            and include_public == self.include_public_schema
        ):
            # The same schema as the connection's (every request of an identity provider
            # after its first): only the tenant object is new. The search path, the
            # settings' schema and the content types stay right.
            self.tenant = tenant
            return
        already = self.search_path_set_schemas
        super().set_tenant(tenant, include_public)
        if already is not None and already == self._get_cursor_search_paths():
            self.search_path_set_schemas = already

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.search_path_set_schemas = None
        self._kept_cursor = None
        self._ended_alone = False
        connection = super().get_new_connection(conn_params)
        if self.timezone == datetime.UTC:
            connection.adapters.register_loader("timestamptz", _UtcTimestamptzLoader)
        return connection

    def _configure_connection(self, connection: Any) -> bool:
        """Django's set-up of a new connection, and this process's statement timeout
        (DB_STATEMENT_TIMEOUT_SECONDS): one `SET` per connection, which the connection keeps
        for its life, rather than one per request or transaction."""
        commit = bool(super()._configure_connection(connection))
        seconds = settings.DB_STATEMENT_TIMEOUT_SECONDS
        if seconds > 0:
            connection.execute(f"SET statement_timeout = {max(1, round(seconds * 1000))}")
            commit = True
        return commit

    def first_read(self, read: Callable[[], T]) -> T:
        """`read()`, the first statement of a web request, checking the kept connection on
        the way instead of the health check's `SELECT 1` round trip (CONN_HEALTH_CHECKS).

        A connection kept between requests may have died meanwhile (PostgreSQL restarted,
        failed over, or ended the backend). Django's health check finds out with a `SELECT 1`
        before the request's first statement, on every request; here the first statement
        itself finds out: if it fails because the connection is gone (psycopg marks it
        closed), it runs once more on a new connection. Safe because nothing else ran on the
        connection in this request (Django resets `health_check_done` at each request's start
        and end) and outside a transaction: `read` must be a read.

        Raises what `read` raises otherwise, and whatever the second attempt raises (a
        database that is really away: a 503, infra/db_errors.py). With
        DB_HEALTH_CHECK_BY_FIRST_READ off, or CONN_HEALTH_CHECKS off, it is plain `read()`
        (Django's own check, or none)."""
        if (
            self.connection is None  # a new connection will be made: nothing to check
            or not self.health_check_enabled
            or self.health_check_done
            or self.in_atomic_block
            or not settings.DB_HEALTH_CHECK_BY_FIRST_READ
        ):
            return read()
        self.health_check_done = True
        try:
            return read()
        except (OperationalError, InterfaceError):
            if self.connection is not None and not self.connection.closed:
                raise  # the connection is alive: the statement itself failed
            logger.info("database: a kept connection was gone; the request used a new one")
            self.close()
        return read()
