"""SCIM searches → SQL over Member/MemberValue/Membership: filters, sort, paging. A parsed SCIM
filter becomes a Django `Q` over members, so filtering is SQL that indexes serve, never rows
loaded into Python.

Indexed columns answer the attributes IdPs filter on (userName, externalId, id, active,
names, emails, meta dates); multi-valued attributes go through `MemberValue` with EXISTS;
every other attribute is read from the JSONB resource.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import reduce
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, F, Func, OrderBy, OuterRef, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.db.models.sql.compiler import SQLCompiler

from directory.columns import GROUP_COLUMNS, MEMBER_COLUMNS, Column
from directory.models import Group, Member, Membership, MemberValue
from directory.selectors import (
    GroupRef,
    MemberPage,
    folded,
    member_count,
    member_rows,
    members_after,
    members_named,
    members_page,
)
from scim_protocol import values
from scim_protocol.errors import InvalidCursor, InvalidFilter, InvalidValue
from scim_protocol.filter import And, Comparison, Expr, Not, Or, Present, ValuePath
from scim_protocol.listing import ListParams
from scim_protocol.schema import (
    BOOLEAN,
    COMPLEX,
    GROUP,
    USER,
    Attribute,
    ResolvedAttribute,
)

_ORDERING = {"gt": GreaterThan, "ge": GreaterThanOrEqual, "lt": LessThan, "le": LessThanOrEqual}
_STRING_MATCH = {"co": Contains, "sw": StartsWith, "ew": EndsWith}


def _logical(expr: And | Or | Not, translate: Callable[[Expr], Q]) -> Q:
    """and / or / not, whatever the leaves translate to."""
    if isinstance(expr, And):
        return translate(expr.left) & translate(expr.right)
    if isinstance(expr, Or):
        return translate(expr.left) | translate(expr.right)
    return ~translate(expr.expr)


def users_q(expr: Expr) -> Q:
    """The Q selecting members that match `expr`. Raises InvalidFilter for unknown attributes
    and operators that do not apply to an attribute's type."""
    if isinstance(expr, And | Or | Not):
        return _logical(expr, users_q)
    if isinstance(expr, ValuePath):
        resolved = _resolve(expr.path)
        if not resolved.attribute.multi_valued or resolved.sub_attribute is not None:
            raise InvalidFilter(f'"{expr.path}[…]" needs a multi-valued attribute.')
        return _values_exist(resolved.attribute, _item_q(expr.filter, resolved.attribute))
    if isinstance(expr, Present | Comparison):
        return _term(expr)
    raise InvalidFilter("Unsupported filter expression.")


def user_name_equals(expr: Expr) -> str | None:
    """The value of a filter that is exactly `userName eq "<string>"` (any spelling of the
    path), or None. Every identity provider sends it before creating a user, so it has its
    own prepared query (directory.selectors.members_named) with the same meaning as
    users_q's: case-insensitive equality, with the value trimmed as a write trims it."""
    if not (isinstance(expr, Comparison) and expr.op == "eq" and isinstance(expr.value, str)):
        return None
    resolved = USER.resolve(expr.path)
    if resolved is None or resolved.is_extension or resolved.dotted != "userName":
        return None
    return values.trimmed(expr.value)


def _resolve(path: str) -> ResolvedAttribute:
    resolved = USER.resolve(path)
    if resolved is None:
        raise InvalidFilter(f'Unknown attribute "{path}" in filter.')
    if resolved.attribute.name == "password":
        raise InvalidFilter("password cannot be filtered on.")
    return resolved


def _term(term: Present | Comparison) -> Q:
    resolved = _resolve(term.path)
    if resolved.attribute.multi_valued:
        if resolved.attribute.name == "groups":
            raise InvalidFilter(
                "Filtering users by groups is not supported; filter Groups by members."
            )
        sub = resolved.sub_attribute or resolved.attribute.sub("value")
        if sub is None:
            raise InvalidFilter(f'"{term.path}" needs a sub-attribute.')
        inner = _item_term(term, sub) if isinstance(term, Comparison) else _item_present(sub)
        return _values_exist(resolved.attribute, inner)
    if resolved.attribute.name == "meta" and resolved.dotted not in MEMBER_COLUMNS:
        return _meta_term(term, resolved, USER.name)
    column = MEMBER_COLUMNS.get(resolved.dotted) if not resolved.is_extension else None
    if (
        resolved.dotted == "userName"
        and isinstance(term, Comparison)
        and term.op in ("eq", "ne")
        and isinstance(term.value, str)
    ):
        # As a write stores it (scim_protocol.user_input): an IdP's look-up before a create
        # finds the user its earlier create made from the same value.
        term = replace(term, value=values.trimmed(term.value))
    if column is not None:
        return _column_term(term, column)
    if (
        resolved.is_extension
        and resolved.dotted == "manager.value"
        and isinstance(term, Comparison)
    ):
        return _manager_term(term)
    path = _json_path(resolved)
    if isinstance(term, Present):
        return _json_present(path)
    target = resolved.target
    if target.type == COMPLEX:
        raise InvalidFilter(f'"{term.path}" is complex: compare one of its sub-attributes.')
    return _compare(_json_expr(path, target), target, term.op, term.value, nullable=True)


def _column_term(term: Present | Comparison, column: Column) -> Q:
    if isinstance(term, Present):
        if column.kind in ("ci", "exact"):
            return Q(**{f"{column.field}__isnull": False}) & ~Q(**{column.field: ""})
        return Q(**{f"{column.field}__isnull": False})
    if column.kind == "uuid":
        if term.op not in ("eq", "ne"):
            raise InvalidFilter(f"{term.path} supports eq and ne only.")
        parsed = _uuid(term.value)
        match = Q(**{column.field: parsed}) if parsed else Q(pk__in=[])
        return match if term.op == "eq" else ~match
    if column.kind == "datetime" and term.value is not None:
        return _moment_term(column.field, term, term.path)
    attribute = Attribute(
        term.path,  # the client's name for it in messages, not the column's
        type=BOOLEAN if column.kind == "bool" else "string",
        case_exact=column.kind == "exact",
    )
    return _compare(
        F(column.field), attribute, term.op, term.value, nullable=column.field == "external_id"
    )


def _manager_term(term: Comparison) -> Q:
    if term.op not in ("eq", "ne") or not isinstance(term.value, str):
        raise InvalidFilter("manager.value supports eq and ne with a string.")
    parsed = _uuid(term.value)
    # A pending reference (the manager is not provisioned yet): the partial index holds
    # only those, so the condition names it as the index does.
    match = ~Q(manager_ref="") & Q(Exact(Lower("manager_ref"), folded(term.value)))
    if parsed:
        match |= Q(manager_id=parsed)
    return match if term.op == "eq" else ~match


def _compare(
    expression: Any,
    attribute: Attribute,
    op: str,
    value: Any,
    *,
    nullable: bool,
    stored_folded: bool = False,
) -> Q:
    """`expression op value` for an attribute of `attribute`'s type and case-sensitivity.
    Case-insensitive strings compare as the database folds them (`folded`): lower() of the
    column, or the column itself when it is `stored_folded`, with lower() of the literal."""
    if value is None:
        if op == "eq":
            return _absent(expression)
        if op == "ne":
            return ~_absent(expression)
        raise InvalidFilter(f"Only eq and ne compare with null (got {op}).")
    if attribute.type == BOOLEAN:
        if op not in ("eq", "ne"):
            raise InvalidFilter(f"{attribute.name} is a boolean: use eq or ne.")
        flag = _boolean(value, attribute.name)
        return _with_ne(Q(Exact(expression, flag)), op, expression, nullable)
    if not isinstance(value, str):
        raise InvalidFilter(f"{attribute.name} is a string: compare it with a quoted value.")
    if stored_folded or not attribute.case_exact:
        value = folded(value)
        expression = expression if stored_folded else Lower(expression)
    if op in _STRING_MATCH:
        return Q(_STRING_MATCH[op](expression, value))
    return _ordered(expression, op, value, nullable)


def _ordered(expression: Any, op: str, value: Any, nullable: bool) -> Q:
    if op in ("eq", "ne"):
        return _with_ne(Q(Exact(expression, value)), op, expression, nullable)
    if op in _ORDERING:
        return Q(_ORDERING[op](expression, value))
    raise InvalidFilter(f'Operator "{op}" does not apply here.')


def _with_ne(equal: Q, op: str, expression: Any, nullable: bool) -> Q:
    if op == "eq":
        return equal
    # "ne" also matches users that have no value at all.
    return ~equal | _absent(expression) if nullable else ~equal


def _absent(expression: Any) -> Q:
    return Q(IsNull(expression, True))


def _json_path(resolved: ResolvedAttribute) -> list[str]:
    path = [resolved.attribute.name]
    if resolved.is_extension and resolved.schema is not None:
        path.insert(0, resolved.schema.id)
    if resolved.sub_attribute is not None:
        path.append(resolved.sub_attribute.name)
    return path


def _json_expr(path: list[str], attribute: Attribute) -> Any:
    container: Any = "attributes"
    for key in path[:-1]:
        container = KeyTransform(key, container)
    if attribute.type == BOOLEAN:
        return KeyTransform(path[-1], container)
    return KeyTextTransform(path[-1], container)


def _json_present(path: list[str]) -> Q:
    text = _json_expr(path, Attribute(path[-1]))
    return Q(IsNull(text, False)) & ~Q(Exact(text, ""))


# --- meta: what the server sets, not stored as attributes -----------------------------------

_VERSION_TAG = re.compile(r'(?:W/)?"(\d{1,9})"')
_NOTHING = Q(pk__in=[])
# A condition every row meets, for terms true of every resource. Not Q(): an empty Q adds no
# condition, so its negation (`not (…)`) would match every row too.
_EVERYTHING = Q(pk__isnull=False)


def _meta_term(term: Present | Comparison, resolved: ResolvedAttribute, resource_type: str) -> Q:
    """meta.resourceType is the same for every resource of a type, so a term on it selects
    all or none; meta.version is the ETag of the `version` column (RFC 7644 §3.14)."""
    name = resolved.dotted
    if isinstance(term, Present):
        # Every resource has all three; meta.created and meta.lastModified are columns.
        return (
            _EVERYTHING
            if name in ("meta.resourceType", "meta.version", "meta.location")
            else _NOTHING
        )
    if name == "meta.resourceType":
        return _EVERYTHING if _holds(resource_type, term.op, term.value, name) else _NOTHING
    if name == "meta.version":
        if term.op not in ("eq", "ne"):
            raise InvalidFilter("meta.version supports eq and ne only.")
        tag = _VERSION_TAG.fullmatch(term.value) if isinstance(term.value, str) else None
        # A tag this server never issues matches no resource.
        match = Q(version=int(tag.group(1))) if tag else _NOTHING
        return match if term.op == "eq" else ~match
    raise InvalidFilter(f'"{term.path}" cannot be filtered on; filter on id instead.')


def _holds(actual: str, op: str, value: Any, name: str) -> bool:
    """`actual op value` for a case-exact string known before the query runs."""
    if value is None:
        if op in ("eq", "ne"):
            return op == "ne"
        raise InvalidFilter(f"Only eq and ne compare with null (got {op}).")
    if not isinstance(value, str):
        raise InvalidFilter(f"{name} is a string: compare it with a quoted value.")
    compare: dict[str, Callable[[str, str], bool]] = {
        "eq": operator.eq,
        "ne": operator.ne,
        "co": operator.contains,
        "sw": str.startswith,
        "ew": str.endswith,
        "gt": operator.gt,
        "ge": operator.ge,
        "lt": operator.lt,
        "le": operator.le,
    }
    if op not in compare:
        raise InvalidFilter(f'Operator "{op}" does not apply here.')
    return compare[op](actual, value)


# --- multi-valued attributes ----------------------------------------------------------------


def _values_exist(attribute: Attribute, inner: Q) -> Q:
    return Q(
        Exists(
            MemberValue.objects.filter(member=OuterRef("pk"), attribute=attribute.name).filter(
                inner
            )
        )
    )


def _item_q(expr: Expr, attribute: Attribute) -> Q:
    """A filter inside `attr[…]`, over one value (a MemberValue row)."""
    if isinstance(expr, And | Or | Not):
        return _logical(expr, lambda inner: _item_q(inner, attribute))
    if isinstance(expr, ValuePath):
        raise InvalidFilter("Value paths cannot be nested.")
    sub = attribute.sub(expr.path.rsplit(":", 1)[-1].split(".")[-1])
    if sub is None:
        raise InvalidFilter(f'"{attribute.name}" has no sub-attribute "{expr.path}".')
    if isinstance(expr, Present):
        return _item_present(sub)
    return _item_term(expr, sub)


def _item_expr(sub: Attribute) -> tuple[Any, bool]:
    """The SQL expression for a sub-attribute of a MemberValue, and whether it is stored
    folded (lower() by the database, directory.services._write_values)."""
    if sub.name == "value" and not sub.case_exact:
        return F("value_lower"), True
    if sub.name == "type":
        return F("type_lower"), True
    if sub.type == BOOLEAN:
        return KeyTransform(sub.name, "item"), False
    return KeyTextTransform(sub.name, "item"), False


def _item_present(sub: Attribute) -> Q:
    expression, _ = _item_expr(sub)
    if sub.type == BOOLEAN:
        return Q(IsNull(expression, False))
    return Q(IsNull(expression, False)) & ~Q(Exact(expression, ""))


def _item_term(term: Comparison, sub: Attribute) -> Q:
    if sub.type == BOOLEAN:
        # A JSON lookup, so the value is compared as jsonb (no `jsonb = boolean` in SQL).
        if term.op not in ("eq", "ne"):
            raise InvalidFilter(f"{sub.name} is a boolean: use eq or ne.")
        if term.value is None:
            present = Q(**{f"item__{sub.name}__isnull": False})
            return ~present if term.op == "eq" else present
        equal = Q(**{f"item__{sub.name}": _boolean(term.value, sub.name)})
        return equal if term.op == "eq" else ~equal | Q(**{f"item__{sub.name}__isnull": True})
    expression, lowered = _item_expr(sub)
    if lowered:
        return _compare(expression, sub, term.op, term.value, nullable=False, stored_folded=True)
    return _compare(expression, sub, term.op, term.value, nullable=True)


# --- literals -------------------------------------------------------------------------------


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidFilter(f"{name} is a boolean: compare it with true or false.")


_MILLISECOND = dt.timedelta(milliseconds=1)
# The seconds' fraction of an ISO 8601 date-time (the date has no "." or ",").
_FRACTION = re.compile(r"\d[.,](\d+)")


def _moment(value: Any, name: str) -> tuple[dt.datetime, bool]:
    """A filter's date-time as (its millisecond, floored; whether it is that millisecond
    exactly). Python keeps six digits of a fraction and drops the rest, so digits past the
    millisecond are read from the text."""
    if not isinstance(value, str):
        raise InvalidFilter(f"{name} is a date: compare it with a quoted ISO 8601 date-time.")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter(
            f'"{value}" is not an ISO 8601 date-time (e.g. 2024-05-13T04:42:34Z).'
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    fraction = _FRACTION.search(value)
    whole = fraction is None or not fraction.group(1)[3:].strip("0")
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000), whole


def _moment_term(field: str, term: Comparison, name: str) -> Q:
    """A term on meta.created or meta.lastModified, compared with the value the server shows:
    the stored microseconds truncated to the millisecond (scim_protocol.user_resource
    .scim_datetime). Compared to the microsecond instead, a delta sync's `lastModified gt
    "<the last value it saw>"` would return that resource again on every run, and `eq` a
    returned value would match nothing. With shown(t) = floor_ms(t), each comparison is a
    range on the stored column, which its index serves."""
    if term.op in _STRING_MATCH:
        raise InvalidFilter(f"{name} is a date: use eq, ne, gt, ge, lt or le.")
    floor, whole = _moment(term.value, name)
    try:
        after_floor = floor + _MILLISECOND
    except OverflowError:  # the last millisecond of year 9999: nothing is stored after it
        after_floor = dt.datetime.max.replace(tzinfo=dt.UTC)
    ceiling = floor if whole else after_floor
    if term.op in ("eq", "ne"):
        # Every shown value is a whole millisecond: a finer one is never equal to one.
        equal = (
            Q(GreaterThanOrEqual(F(field), floor)) & Q(LessThan(F(field), after_floor))
            if whole
            else _NOTHING
        )
        return equal if term.op == "eq" else ~equal
    if term.op == "gt":
        return Q(GreaterThanOrEqual(F(field), after_floor))
    if term.op == "ge":
        return Q(GreaterThanOrEqual(F(field), ceiling))
    if term.op == "lt":
        return Q(LessThan(F(field), ceiling))
    if term.op == "le":
        return Q(LessThan(F(field), after_floor))
    raise InvalidFilter(f'Operator "{term.op}" does not apply here.')


# --- groups ---------------------------------------------------------------------------------


def groups_q(expr: Expr) -> Q:
    """The Q selecting groups that match `expr` (displayName, externalId, id, meta dates, and
    members: `members[value eq "<user id>"]`, `members.value eq …`, `members pr`)."""
    if isinstance(expr, And | Or | Not):
        return _logical(expr, groups_q)
    if isinstance(expr, ValuePath):
        resolved = GROUP.resolve(expr.path)
        if resolved is None or resolved.attribute.name != "members" or resolved.sub_attribute:
            raise InvalidFilter(f'"{expr.path}[…]" is not a multi-valued attribute of Group.')
        return _memberships_exist(_membership_q(expr.filter))
    resolved = GROUP.resolve(expr.path)
    if resolved is None:
        raise InvalidFilter(f'Unknown attribute "{expr.path}" in filter.')
    if resolved.attribute.name == "members":
        sub = resolved.sub_attribute.name if resolved.sub_attribute else "value"
        inner = Present(sub) if isinstance(expr, Present) else Comparison(sub, expr.op, expr.value)
        return _memberships_exist(_membership_q(inner))
    if resolved.attribute.name == "meta" and resolved.dotted not in GROUP_COLUMNS:
        return _meta_term(expr, resolved, GROUP.name)
    column = GROUP_COLUMNS.get(resolved.dotted)
    if column is None:
        raise InvalidFilter(f'Groups cannot be filtered on "{expr.path}".')
    return _column_term(expr, column)


def _memberships_exist(inner: Q) -> Q:
    return Q(Exists(Membership.objects.filter(group=OuterRef("pk")).filter(inner)))


def _membership_q(expr: Expr) -> Q:
    """A filter inside `members[…]`, over one membership row."""
    if isinstance(expr, And | Or | Not):
        return _logical(expr, _membership_q)
    if isinstance(expr, ValuePath):
        raise InvalidFilter("Value paths cannot be nested.")
    name = expr.path.split(".")[-1].lower()
    if name == "value":
        if isinstance(expr, Present):
            return _EVERYTHING
        return _column_term(replace(expr, path="members.value"), Column("member_id", "uuid"))
    if name == "display":
        display = Attribute("display")
        if isinstance(expr, Present):
            return _EVERYTHING  # a member's display falls back to its userName
        return _compare(
            F("member__display_name"), display, expr.op, expr.value, nullable=False
        ) | _compare(F("member__user_name"), display, expr.op, expr.value, nullable=False)
    if name == "type":
        if isinstance(expr, Present):
            return _EVERYTHING
        matches_user = isinstance(expr.value, str) and expr.value.lower() == "user"
        return _EVERYTHING if (expr.op == "eq") == matches_user else _NOTHING
    raise InvalidFilter(f'members has no sub-attribute "{expr.path}" to filter on.')


def sort_expression(
    path: ResolvedAttribute, columns: Mapping[str, Column], descending: bool
) -> OrderBy:
    """ORDER BY for `sortBy`: a column when the attribute has one, else the JSONB value (of a
    multi-valued attribute, the primary value's, else the first's). Case-insensitive
    attributes sort by lower(column), the expression their index holds (RFC 7644 §3.4.2.3
    sorts by the attribute's caseExact). Only externalId of the columns can be NULL; on the
    others NULLS LAST would stop PostgreSQL reading a descending index. Raises InvalidValue
    for meta and groups sub-attributes without a column, which no stored value orders."""
    column = columns.get(path.dotted) if not path.is_extension else None
    if column is not None:
        expression: Any = Lower(column.field) if column.kind == "ci" else F(column.field)
        if column.kind != "exact":
            return expression.desc() if descending else expression.asc()
    elif path.attribute.name in ("meta", "groups"):
        # Not in `attributes` (the server writes them on output): a JSON path would read NULL
        # for every resource and order nothing.
        raise InvalidValue(f"Cannot sort by {path.dotted}: sort by id or meta.created instead.")
    elif path.attribute.multi_valued and path.sub_attribute is not None:
        expression = _PrimaryOrFirst(
            path.attribute.name, path.sub_attribute.name, folded=not path.sub_attribute.case_exact
        )
    else:
        container: Any = "attributes"
        keys = [path.schema.id] if path.is_extension and path.schema else []
        keys += [path.attribute.name] + ([path.sub_attribute.name] if path.sub_attribute else [])
        for key in keys[:-1]:
            container = KeyTransform(key, container)
        expression = Lower(KeyTextTransform(keys[-1], container))
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


class _PrimaryOrFirst(Func):
    """A sub-attribute of a multi-valued attribute's primary value, else of its first (RFC
    7644 §3.4.2.3), read from the member's own resource, in the order it is returned. No index
    serves it: `sortBy=emails.value` is rare, and sorts every match."""

    output_field = TextField()

    def __init__(self, attribute: str, sub: str, *, folded: bool) -> None:
        super().__init__(F("attributes"))
        self.attribute, self.sub, self.folded = attribute, sub, folded

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.source_expressions[0])
        pick = "lower(v.item ->> %s)" if self.folded else "v.item ->> %s"
        # `column` is the compiled column reference; the names travel as parameters.
        sql = (
            f"(SELECT {pick} FROM jsonb_array_elements("  # noqa: S608
            f"CASE jsonb_typeof({column} -> %s) WHEN 'array' THEN {column} -> %s END"
            ") WITH ORDINALITY AS v(item, n)"
            " ORDER BY v.item -> 'primary' = 'true'::jsonb DESC NULLS LAST, v.n LIMIT 1)"
        )
        return sql, (self.sub, *params, self.attribute, *params, self.attribute)


def page(
    queryset: QuerySet[Any],
    params: ListParams,
    *,
    condition: Q | None,
    order: list[Any],
    fetch: Callable[[list[Any]], Mapping[Any, Any]],
    total: Callable[[], int] | None = None,
    fetch_first: Callable[[QuerySet[Any]], list[Any]] | None = None,
) -> tuple[int, list[Any]]:
    """(totalResults, the page's objects in order), for filtered or sorted lists. The total is
    a database COUNT (skipped when a first page is short); the page is the ids (ordered, from
    an index, OFFSET), then those rows; or, for a first page and a caller that gives
    `fetch_first`, the rows in one query. Unfiltered lists in the default order of a large
    table use a position index instead (`directory.selectors.members_page`). `total`, when
    given, answers totalResults without a COUNT (unfiltered lists: a maintained count)."""
    if condition is not None:
        queryset = queryset.filter(condition)
    if params.start_index == 1 and params.count > 0 and fetch_first is not None:
        # The first page (every IdP's pre-create check, `filter=userName eq …`), read in one
        # query; a short first page is the whole result, so no COUNT is needed either.
        first = fetch_first(queryset.order_by(*order)[: params.count])
        found = len(first) if len(first) < params.count else (total or queryset.count)()
        return found, first
    if params.start_index == 1 and params.count > 0:
        ids = list(queryset.order_by(*order).values_list("pk", flat=True)[: params.count])
        found = len(ids) if len(ids) < params.count else (total or queryset.count)()
    else:
        found = (total or queryset.count)()
        if params.count == 0 or params.start_index > found:
            return found, []
        offset = params.start_index - 1
        ids = list(
            queryset.order_by(*order).values_list("pk", flat=True)[offset : offset + params.count]
        )
    if not ids:
        return found, []
    rows = fetch(ids)
    return found, [rows[pk] for pk in ids if pk in rows]


# --- the two lists ----------------------------------------------------------------------------

# The stable order under any sortBy (and the whole order without one).
MEMBER_PAGE_ORDER = ("seq",)
GROUP_PAGE_ORDER = ("created_at", "id")


def _descending(params: ListParams) -> bool:
    """Whether the list runs in descending order: a sortOrder without a sortBy orders
    nothing (RFC 7644 §3.4.2.3)."""
    return params.sort_by is not None and params.descending


def _ties(fields: tuple[str, ...], params: ListParams) -> list[OrderBy]:
    """The stable order that breaks a sort's ties, in the sort's direction: a descending sort
    then reads its index backwards, tie-break included (`active` descending walks
    member_active_seq from its end), where ties kept ascending would sort the whole group."""
    descending = _descending(params)
    return [F(name).desc() if descending else F(name).asc() for name in fields]


def members_list(params: ListParams, *, with_roles: bool) -> MemberPage:
    """The page of users a SCIM list request asks for, with their groups when `with_roles`.
    Each shape of request takes its cheapest read: the position index for an unfiltered,
    unsorted list (every IdP's import), the prepared userName query for the check before a
    create, else a filtered, sorted page; with a cursor, a range scan after the cursor's key.
    Raises InvalidFilter for a filter it cannot run, InvalidValue for a sort it cannot order
    by or cursors cannot follow, InvalidCursor for a cursor that does not fit the query."""
    if params.by_cursor:
        return _members_by_cursor(params, with_roles=with_roles)
    if params.filter is None and params.sort_by is None:
        # Flat at any depth and company size.
        return members_page(params.start_index, params.count, with_roles=with_roles)
    if (user_name := _user_name_lookup(params)) is not None:
        return members_named(user_name, with_roles=with_roles)
    roles: dict[uuid.UUID, list[GroupRef]] | None = {} if with_roles else None
    order = [
        *(
            [sort_expression(params.sort_by, MEMBER_COLUMNS, params.descending)]
            if params.sort_by
            else []
        ),
        *_ties(MEMBER_PAGE_ORDER, params),
    ]

    def fetch(ids: list[Any]) -> Mapping[Any, Any]:
        return {row.id: row for row in member_rows(Member.objects.filter(pk__in=ids), roles)}

    total, rows = page(
        Member.objects.all(),
        params,
        condition=users_q(params.filter) if params.filter else None,
        order=order,
        fetch=fetch,
        total=member_count if params.filter is None else None,
        fetch_first=lambda first_page: member_rows(first_page, roles),
    )
    return MemberPage(total, rows, roles or {})


def _user_name_lookup(params: ListParams) -> str | None:
    """The userName of a first-page `filter=userName eq "…"` without sorting: at most one
    user (userName is unique), so it is the whole result."""
    if params.filter is None or params.sort_by is not None:
        return None
    if params.start_index != 1 or params.count < 1:
        return None
    return user_name_equals(params.filter)


def groups_list(params: ListParams) -> tuple[int, list[Group]]:
    """(totalResults, the page of groups) a SCIM list request asks for. Raises InvalidValue
    for a sortBy without a column, InvalidFilter for a filter it cannot run."""
    if params.sort_by and params.sort_by.dotted not in GROUP_COLUMNS:
        sortable = ", ".join(GROUP_COLUMNS)
        raise InvalidValue(f"Groups sort by {sortable}; not by {params.sort_by.dotted}.")
    order = (
        [sort_expression(params.sort_by, GROUP_COLUMNS, params.descending)]
        if params.sort_by
        else []
    )
    return page(
        Group.objects.all(),
        params,
        condition=groups_q(params.filter) if params.filter else None,
        order=[*order, *_ties(GROUP_PAGE_ORDER, params)],
        fetch=Group.objects.in_bulk,
    )


# --- cursor paging (RFC 9865) -----------------------------------------------------------------
#
# A cursor holds the sort key of the last resource sent; the next page is the rows after it in
# the list's order (a keyset over an index, never an OFFSET), so a resource that exists
# throughout a sweep is sent exactly once whatever is created or deleted meanwhile. Keys are
# never NULL: attributes that may be absent (externalId, attributes without a column) cannot
# be followed by a cursor and are refused with the attributes that can.

# Column kinds a cursor can carry, with the JSON form they travel in.
_CURSOR_KINDS = ("ci", "bool", "datetime", "uuid")


@dataclass(frozen=True)
class _Key:
    expression: Any
    descending: bool
    kind: str  # "int", "ci", "bool", "datetime", "uuid"


def _cursor_sort_key(params: ListParams, columns: Mapping[str, Column]) -> list[_Key]:
    """The key of `sortBy` for cursor paging (none without sortBy). Raises InvalidValue for an
    attribute that can be absent."""
    if params.sort_by is None:
        return []
    column = None if params.sort_by.is_extension else columns.get(params.sort_by.dotted)
    if column is None or column.kind not in _CURSOR_KINDS:
        usable = ", ".join(path for path, c in columns.items() if c.kind in _CURSOR_KINDS)
        raise InvalidValue(
            f"Cursor paging sorts by {usable}; not by {params.sort_by.dotted}, which a "
            "resource may lack: page that sort with startIndex instead."
        )
    expression = Lower(column.field) if column.kind == "ci" else F(column.field)
    return [_Key(expression, params.descending, column.kind)]


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(values: list[Any], keys: list[_Key]) -> list[Any]:
    """The typed key values of a cursor's position. Raises InvalidCursor when they do not fit
    the keys (a cursor of another version of this code)."""
    if len(values) != len(keys):
        raise InvalidCursor("The cursor does not fit this query: send an empty cursor.")
    typed = []
    for value, key in zip(values, keys, strict=True):
        accepted = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
        }.get(key.kind, isinstance(value, str))
        try:
            if not accepted:
                raise ValueError(value)
            if key.kind == "datetime":
                value = dt.datetime.fromisoformat(value)
            elif key.kind == "uuid":
                value = uuid.UUID(value)
        except ValueError:
            raise InvalidCursor(
                "The cursor does not fit this query: send an empty cursor."
            ) from None
        typed.append(value)
    return typed


def _after(keys: list[_Key], values: list[Any]) -> Q:
    """Rows after `values` in the order of `keys`: (k1 > v1) or (k1 = v1 and k2 > v2) …, with
    < for descending keys."""
    terms = []
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        beyond = LessThan if key.descending else GreaterThan
        terms.append(equal & Q(beyond(key.expression, value)))
        equal &= Q(Exact(key.expression, value))
    return reduce(operator.or_, terms)


def _keyset(
    queryset: QuerySet[Any], keys: list[_Key], after: list[Any], count: int
) -> tuple[list[Any], list[Any] | None]:
    """The pks of the `count` rows after `after` (JSON, [] for the first page) in the order of
    `keys`, and the position the next page starts after (None on the last page)."""
    if after:
        queryset = queryset.filter(_after(keys, _from_json(after, keys)))
    names = [f"cursor_key_{i}" for i in range(len(keys))]
    order = [key.expression.desc() if key.descending else key.expression.asc() for key in keys]
    found = list(
        queryset.annotate(**dict(zip(names, (k.expression for k in keys), strict=True)))
        .order_by(*order)
        .values_list("pk", *names)[: count + 1]
    )
    next_after = [_to_json(v) for v in found[count - 1][1:]] if len(found) > count else None
    return [row[0] for row in found[:count]], next_after


def _members_by_cursor(params: ListParams, *, with_roles: bool) -> MemberPage:
    seq = _Key(F("seq"), _descending(params), "int")
    if params.filter is None and params.sort_by is None:
        (after,) = _from_json(params.after, [seq]) if params.after else (None,)
        return members_after(after, params.count, with_roles=with_roles)
    keys = [*_cursor_sort_key(params, MEMBER_COLUMNS), seq]
    matching = Member.objects.all()
    if params.filter is not None:
        matching = matching.filter(users_q(params.filter))
    if params.count <= 0:
        return MemberPage(member_count() if params.filter is None else matching.count(), [], {})
    ids, next_after = _keyset(matching, keys, params.after or [], params.count)
    roles: dict[uuid.UUID, list[GroupRef]] | None = {} if with_roles else None
    fetched = (
        {r.id: r for r in member_rows(Member.objects.filter(pk__in=ids), roles)} if ids else {}
    )
    if params.filter is None:
        total = member_count()
    elif not params.after and next_after is None:
        total = len(ids)  # the whole result fits the first page
    else:
        total = matching.count()
    return MemberPage(total, [fetched[pk] for pk in ids if pk in fetched], roles or {}, next_after)


def groups_by_cursor(params: ListParams) -> tuple[int, list[Group], list[Any] | None]:
    """(totalResults, the page of groups after the cursor's position, where the next page
    starts or None on the last page), for a cursor list request. Raises InvalidValue for a
    sort cursors cannot follow, InvalidFilter, InvalidCursor."""
    keys = [
        *_cursor_sort_key(params, GROUP_COLUMNS),
        _Key(F("created_at"), _descending(params), "datetime"),
        _Key(F("id"), _descending(params), "uuid"),
    ]
    matching = Group.objects.all()
    if params.filter is not None:
        matching = matching.filter(groups_q(params.filter))
    if params.count <= 0:
        return matching.count(), [], None
    ids, next_after = _keyset(matching, keys, params.after or [], params.count)
    total = len(ids) if not params.after and next_after is None else matching.count()
    fetched = Group.objects.in_bulk(ids) if ids else {}
    return total, [fetched[pk] for pk in ids if pk in fetched], next_after
