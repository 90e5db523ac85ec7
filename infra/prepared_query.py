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

The rows are read the way the queryset's iterable reads them, with what that takes worked
out once too: which columns need converting and by what, and, for model instances, which
columns make each model (the queryset's and each `select_related` one), how each instance is
built (`infra/model_rows.ModelInstances`: without `Model.__init__` when nothing observes it)
and where each annotation goes. Django works that out again on every evaluation, which for
one member and its manager was a large share of a SCIM GET's or PUT's Python
(docs/performance.md, issue #21 part 10). Model instances and `values_list` tuples (or flat
values) are read so; a
queryset needing anything more (`prefetch_related`, objects known from a related manager,
`extra` columns past the selected ones, composite keys, `values()` dictionaries,
`select_related` down into a child model) still runs through the queryset, only its
compiling skipped.

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
from django.db.models.query import FlatValuesListIterable, ModelIterable, ValuesListIterable
from django.db.models.sql.compiler import SQLCompiler

from infra.model_rows import ModelInstances

T = TypeVar("T")
Row = tuple[Any, ...] | list[Any]


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
        self.read = _reader(queryset, self.compiler)
        self.current: list[object] = self.params
        if self.read is None:
            # The queryset runs each call: from now on its compiler answers with the SQL
            # compiled above, keeping what that compilation worked out for the results.
            self.compiler.as_sql = self._as_sql

    def _as_sql(self, *args: Any, **kwargs: Any) -> tuple[str, tuple[object, ...]]:
        return self.sql, tuple(self.current)

    def run(self, args: Sequence[object]) -> list[Any]:
        params = list(self.params)
        for (slot, kind), value in zip(self.slots, args, strict=True):
            params[slot] = value if type(value) is kind else kind(value)
        # Prepared on the database too, where the backend offers it (tenants/
        # postgresql_backend): the SQL is constant, its parameters bounded.
        connection = self.compiler.connection
        prepared = getattr(connection, "statements_prepared", nullcontext)
        if self.read is None:
            self.current = params
            queryset = self.queryset._chain()  # type: ignore[attr-defined]
            queryset.query.get_compiler = lambda *a, **k: self.compiler
            with prepared():
                return list(queryset)
        # The connection's kept cursor, where it lends one (`prepared_cursor`).
        with prepared_cursor(self.db) as cursor:
            cursor.execute(self.sql, tuple(params))
            return self.read(cursor.fetchall())


def _reader(
    queryset: QuerySet[Any], compiler: SQLCompiler
) -> Callable[[list[Row]], list[Any]] | None:
    """What turns the fetched rows of `compiler`'s SQL into what `list(queryset)` gives, or
    None when the queryset must read them itself (see the module's docstring)."""
    fields = [expression for expression, _, _ in compiler.select[: compiler.col_count]]
    if (
        queryset._prefetch_related_lookups  # type: ignore[attr-defined]
        or queryset._known_related_objects  # type: ignore[attr-defined]
        or compiler.has_extra_select
        or compiler.has_composite_fields(fields)
    ):
        return None
    converters = _Converters(compiler, fields)
    iterable = queryset._iterable_class
    if iterable is ModelIterable:
        if _descends_to_child(compiler.klass_info):
            return None
        return _Instances(compiler, queryset.db, converters)
    if iterable is ValuesListIterable:
        return lambda rows: [tuple(converters(row)) for row in rows]
    if iterable is FlatValuesListIterable:
        return lambda rows: [converters(row)[0] for row in rows]
    return None


def _descends_to_child(klass_info: dict[str, Any]) -> bool:
    """Whether a `select_related` model takes some of its columns from its parent's (a child
    model reached from its parent), which Django reorders."""
    return any(
        info["from_parent"] or _descends_to_child(info)
        for info in klass_info.get("related_klass_infos", [])
    )


class _Converters:
    """A row with each column's database converters applied, as `SQLCompiler.results_iter`
    applies them, the converters found once."""

    def __init__(self, compiler: SQLCompiler, fields: list[Any]) -> None:
        self.connection = compiler.connection
        # Most columns have none: a row visits only those that do.
        self.columns = [
            (i, converters, expression)
            for i, (converters, expression) in compiler.get_converters(fields).items()
        ]

    def __call__(self, row: Row) -> Row:
        if not self.columns:
            return row
        row = list(row)
        for i, converters, expression in self.columns:
            value = row[i]
            for convert in converters:
                value = convert(value, expression, self.connection)
            row[i] = value
        return row


class _Instances:
    """Model instances from rows, as `ModelIterable` builds them: the queryset's model, the
    models `select_related` joined to it (cached on it, None where the join found no row),
    the annotations as attributes."""

    def __init__(self, compiler: SQLCompiler, db: str, converters: _Converters) -> None:
        self.converters = converters
        self.model = _ModelColumns(compiler.klass_info, compiler.select, db)
        self.annotations = list(compiler.annotation_col_map.items())

    def __call__(self, rows: list[Row]) -> list[Any]:
        found = []
        for fetched in rows:
            row = self.converters(fetched)
            instance = self.model.instance(row)
            for name, i in self.annotations:
                setattr(instance, name, row[i])
            found.append(instance)
        return found


class _ModelColumns:
    """The columns of one model in the row, how they become an instance, and the models
    `select_related` joins to it (Django's `RelatedPopulator`, worked out once)."""

    def __init__(self, klass_info: dict[str, Any], select: list[Any], db: str) -> None:
        model = klass_info["model"]
        positions = klass_info["select_fields"]
        self.columns = slice(positions[0], positions[-1] + 1)
        attnames = [select[i][0].target.attname for i in positions]
        self.instances = ModelInstances(model, attnames)
        self.db = db
        # Where a related row that is not there has NULL (its primary key, or the first
        # column of a composite one).
        self.pk = positions[attnames.index(model._meta.pk_fields[0].attname)]
        self.related = [
            (_ModelColumns(info, select, db), info["local_setter"], info["remote_setter"])
            for info in klass_info.get("related_klass_infos", [])
        ]

    def instance(self, row: Row) -> Any:
        """This model's instance in `row`, with the related ones cached on it."""
        instance = self.instances.build(self.db, row[self.columns])
        for related, local_setter, remote_setter in self.related:
            if row[related.pk] is None:
                local_setter(instance, None)
            else:
                found = related.instance(row)
                local_setter(instance, found)
                remote_setter(found, instance)
        return instance


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
