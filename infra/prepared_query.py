"""Querysets compiled to SQL once per process, for the few statements every SCIM request runs.

Django turns a queryset into SQL again on every evaluation: ~0.3 ms of Python for the
credential lookup or a user with its groups on the benchmark machine, as much as the
database takes to answer them. A `PreparedQuery` builds its queryset once, from sample
arguments, compiles it, and then runs that SQL with each call's arguments through the same
compiler, so rows come back exactly as the queryset would return them (model instances,
`select_related`, annotations, `values_list` tuples, field converters).

Build the whole queryset in the function given (filters, ordering, slicing): the result is
evaluated as is, never chained. Each argument must reach the SQL unchanged, as a parameter
(pass it already lowered, parsed as a UUID, and so on): the first call checks that every
sample argument appears exactly once among the compiled parameters and refuses the query
otherwise, rather than run SQL whose parameters it cannot place. Anything else the builder
computes is frozen at the first call: never build with a value that changes (the time now,
a setting read at runtime); pass it as an argument.

PREPARED_QUERIES=0 switches them off: each call builds and runs its queryset as Django would
(`make test-unprepared` runs the suites that reach them that way).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet

T = TypeVar("T")


class _Compiled:
    def __init__(self, queryset: QuerySet[Any], samples: Sequence[object]) -> None:
        self.queryset = queryset
        self.db = queryset.db
        self.compiler = queryset.query.get_compiler(queryset.db)
        self.sql, params = self.compiler.as_sql()
        self.params = list(params)
        # Where each argument goes, and the type Django gave it there (integers reach the
        # driver wrapped, as psycopg's Int4 or Int8, to fix their SQL type).
        self.slots: list[tuple[int, type]] = []
        for sample in samples:
            slots = [
                i
                for i, param in enumerate(self.params)
                if isinstance(param, type(sample)) and param == sample
            ]
            if len(slots) != 1:
                raise ImproperlyConfigured(
                    f"Prepared query: the argument {sample!r} is {len(slots)} of the compiled "
                    "parameters, not exactly one; it must reach the SQL unchanged."
                )
            self.slots.append((slots[0], type(self.params[slots[0]])))
        # From now on the compiler answers with the SQL compiled above; it keeps what that
        # compilation worked out (columns, converters, related populators) for the results.
        self.compiler.as_sql = self._as_sql
        self.current: list[object] = self.params

    def _as_sql(self, *args: Any, **kwargs: Any) -> tuple[str, tuple[object, ...]]:
        return self.sql, tuple(self.current)

    def run(self, args: Sequence[object]) -> list[Any]:
        params = list(self.params)
        for (slot, kind), value in zip(self.slots, args, strict=True):
            params[slot] = value if type(value) is kind else kind(value)
        self.current = params
        queryset = self.queryset._chain()  # type: ignore[attr-defined]
        queryset.query.get_compiler = lambda *a, **k: self.compiler
        # Prepared on the database too, where the backend offers it (tenants/
        # postgresql_backend): the SQL is constant, its parameters bounded.
        prepared = getattr(self.compiler.connection, "statements_prepared", nullcontext)
        with prepared():
            return list(queryset)


class PreparedQuery(Generic[T]):
    """`PreparedQuery(build, samples)(*args)` is `list(build(*args))`, compiled once.

    `samples` are arguments of the types the real ones will have, and distinct from any
    constant in the query (so each is found exactly once among the compiled parameters)."""

    def __init__(self, build: Callable[..., QuerySet[Any]], samples: Sequence[object]) -> None:
        self.build = build
        self.samples = tuple(samples)
        # A compiler holds its connection (one per thread) and the current call's parameters.
        self._local = threading.local()

    def __call__(self, *args: object) -> list[T]:
        if not settings.PREPARED_QUERIES:
            # Plain Django, for the suite's second run and for measuring what this saves.
            return list(self.build(*args))
        compiled: _Compiled | None = getattr(self._local, "compiled", None)
        # A compiler holds the connection wrapper it was compiled on. `connections[alias]`
        # can be another object later in the same thread (a test harness swapping
        # connections, a live-server thread sharing the test's): compile again on the
        # current one rather than run on a wrapper that may be closed or in another database.
        if compiled is None or compiled.compiler.connection is not connections[compiled.db]:
            compiled = self._local.compiled = _Compiled(self.build(*self.samples), self.samples)
        return compiled.run(args)


def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> AbstractContextManager[CursorWrapper]:
    """A cursor, for a `with` block, whose statements are bound on the server and prepared
    once they repeat (tenants/postgresql_backend `prepared_cursor`, DB_PREPARED_STATEMENTS:
    the connection lends the same open cursor to block after block); a plain cursor on a
    backend without it. For constant SQL with a bounded number of parameters (lists go as
    one array parameter): what a write runs on every request. Read what a statement returned
    inside the block: the next block may run its own statement on the same cursor."""
    connection = connections[using]
    opener: Callable[[], AbstractContextManager[CursorWrapper]] = getattr(
        connection, "prepared_cursor", connection.cursor
    )
    return opener()


def statements_prepared(using: str = DEFAULT_DB_ALIAS) -> AbstractContextManager[None]:
    """While open, the cursors of `using` bind on the server and prepare repeated statements
    (as `prepared_cursor`): for a queryset whose SQL is the same on every call."""
    opener = getattr(connections[using], "statements_prepared", nullcontext)
    return opener()
