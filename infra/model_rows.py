"""Model instances from rows read with a plain cursor, as the ORM would build them.

`Model.objects.raw()` and a queryset work out a model's column order and each field's
converters from database values (JSON, for instance) again on every call; for the one or two
rows every request reads (its company, its credential) that was a fifth of the Python of an
authenticated empty SCIM request (docs/performance.md). A `ModelRows` works them out once.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model


class ModelRows:
    """The concrete columns of `model` in a fixed order, and instances from rows of them."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.width = len(fields)
        self.column_names = [field.column for field in fields]
        self.attnames = [field.attname for field in fields]
        self.converters = []
        for field in fields:
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            self.converters.append((column, found))

    def columns(self, alias: str) -> str:
        """The select list, each column qualified by the table's `alias` in the statement."""
        return ", ".join(f'{alias}."{name}"' for name in self.column_names)

    def instance(self, row: tuple[Any, ...] | list[Any]) -> Any:
        """The model instance of `row` (values in the order of `columns`), as loaded by the ORM."""
        values = list(row)
        for i, (column, converters) in enumerate(self.converters):
            for convert in converters:
                values[i] = convert(values[i], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)
