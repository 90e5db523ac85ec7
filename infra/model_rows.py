"""Model instances from rows read with a plain cursor, as the ORM would build them.

`Model.objects.raw()` and a queryset work out a model's column order and each field's
converters from database values (JSON, for instance) again on every call; for the one or two
rows every request reads (its company, its credential) that was a fifth of the Python of an
authenticated empty SCIM request (docs/performance.md). A `ModelRows` works them out once.

Building the instance is then most of what is left: `Model.from_db` calls `Model.__init__`,
which sends `pre_init` and `post_init` and sets each field through `setattr`. With
PREPARED_QUERIES on, a model that nothing in those steps can change (no receiver of either
signal, no `__init__` or `from_db` of its own, no field whose attribute has a setter of its
own) is built the way unpickling builds one: the values go straight into the instance's
`__dict__`, with the loaded state `from_db` gives it. Anything else, or PREPARED_QUERIES=0,
goes through `from_db`. `ModelInstances` is that step alone, for rows whose values are
already converted (the model rows of a compiled queryset: infra/prepared_query.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init


class ModelRows:
    """The concrete columns of `model` in a fixed order, and instances from rows of them."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.width = len(fields)
        self.column_names = [field.column for field in fields]
        self.attnames = [field.attname for field in fields]
        # Most columns have none: a row visits only those that do.
        self.converters = []
        for i, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if found:
                self.converters.append((i, column, found))
        self._instances = ModelInstances(model, self.attnames)

    def columns(self, alias: str) -> str:
        """The select list, each column qualified by the table's `alias` in the statement."""
        return ", ".join(f'{alias}."{name}"' for name in self.column_names)

    def instance(self, row: tuple[Any, ...] | list[Any]) -> Any:
        """The model instance of `row` (values in the order of `columns`), as loaded by the ORM."""
        values: tuple[Any, ...] | list[Any] = row
        if self.converters:
            values = list(row)
            for i, column, converters in self.converters:
                for convert in converters:
                    values[i] = convert(values[i], column, connection)
        return self._instances.build(DEFAULT_DB_ALIAS, values)  # `connection`'s alias


class ModelInstances:
    """Instances of `model` from the values of its fields `attnames` (database values,
    converted), as `Model.from_db` loads them; plainly (see above) when it may."""

    def __init__(self, model: type[Model], attnames: list[str]) -> None:
        self.model = model
        self.attnames = attnames
        # A partial list (a deferred field) goes through `from_db`, which marks the others.
        every = [field.attname for field in model._meta.concrete_fields]
        self._plain = attnames == every and _built_plainly(model, attnames)

    def build(self, db: str, values: Sequence[Any]) -> Any:
        """The instance of `values`, loaded from the database `db`."""
        model = self.model
        if not self._plain or not settings.PREPARED_QUERIES or _init_listened(model):
            return model.from_db(db, self.attnames, values)
        state = ModelState()
        state.adding = False
        state.db = db
        new = model.__new__(model)
        # In `Model.__init__`'s order: the state first, then the fields.
        new._state = state
        new.__dict__.update(zip(self.attnames, values, strict=True))
        return new


def _init_listened(model: type[Model]) -> bool:
    """Whether a receiver of `pre_init` or `post_init` would see an instance of `model`.
    Usually no receiver of either is connected at all (none of Django's own apps connect one
    for models without image fields): then two list reads answer, where `has_listeners`
    looks the model up in each signal's weak-keyed cache, a weak reference made per call,
    for every instance built."""
    if not pre_init.receivers and not post_init.receivers:
        return False
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


def _built_plainly(model: type[Model], attnames: list[str]) -> bool:
    """Whether `Model.__init__` would only store each value in the instance's `__dict__`
    (signals aside, checked per instance): no `__init__` or `from_db` of the model's own, and
    every field's attribute a plain deferred one (a foreign key's `…_id` setter only drops a
    cached related object, which a new instance has not got)."""
    if model.__init__ is not Model.__init__:
        return False
    if model.from_db.__func__ is not Model.from_db.__func__:  # type: ignore[attr-defined]
        return False
    plain = (DeferredAttribute, ForeignKeyDeferredAttribute)
    return all(type(inspect.getattr_static(model, name, None)) in plain for name in attnames)
