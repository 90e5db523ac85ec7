"""The one map from SCIM attributes to the indexed columns that store them. Filters and sorts
read it (directory/search.py); writes fill the columns from it (directory/services.py), so an
attribute gains a column in one place (docs/architecture.md, "Where things go")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """A SCIM attribute's own column. `written`: copied from the resource on every write (not
    so for ids and timestamps, which the database or the service sets); `max_length`: cut to
    the column's size when written."""

    field: str
    kind: str  # "ci" (case-insensitive text), "exact" text, "bool", "datetime", "uuid"
    written: bool = True
    max_length: int | None = None


# Attributes stored in their own indexed columns (see directory.models.Member).
MEMBER_COLUMNS: dict[str, Column] = {
    "id": Column("id", "uuid", written=False),
    "externalId": Column("external_id", "exact"),
    "userName": Column("user_name", "ci"),
    "displayName": Column("display_name", "ci", max_length=255),
    "name.givenName": Column("given_name", "ci", max_length=255),
    "name.familyName": Column("family_name", "ci", max_length=255),
    "active": Column("active", "bool"),
    "meta.created": Column("created_at", "datetime", written=False),
    "meta.lastModified": Column("updated_at", "datetime", written=False),
}

# The same for groups (directory.models.Group); group writes set their columns themselves.
GROUP_COLUMNS: dict[str, Column] = {
    "id": Column("id", "uuid"),
    "externalId": Column("external_id", "exact"),
    "displayName": Column("display_name", "ci"),
    "meta.created": Column("created_at", "datetime"),
    "meta.lastModified": Column("updated_at", "datetime"),
}


def _get(resource: dict[str, Any], path: str, default: Any) -> Any:
    *parents, name = path.split(".")
    container: Any = resource
    for parent in parents:
        container = container.get(parent, {})
    return container.get(name, default)


def member_column_values(resource: dict[str, Any]) -> dict[str, Any]:
    """The written columns of a member (field → value) from its canonical resource: userName
    as is (input normalisation bounded it), externalId or NULL, active (true when absent),
    text cut to its column's size."""
    values: dict[str, Any] = {}
    for path, column in MEMBER_COLUMNS.items():
        if not column.written:
            continue
        if column.kind == "exact":
            values[column.field] = _get(resource, path, None) or None
        elif column.kind == "bool":
            values[column.field] = bool(_get(resource, path, True))
        elif column.max_length is not None:
            values[column.field] = str(_get(resource, path, ""))[: column.max_length]
        else:
            values[column.field] = _get(resource, path, None)
    return values
