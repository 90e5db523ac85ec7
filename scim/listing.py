"""List requests (RFC 7644 §3.4.2, §3.4.3): parameters, paging, the ListResponse envelope."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, OrderBy, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Lower

from scim.filter_query import Column
from scim_protocol.errors import InvalidFilter, InvalidValue
from scim_protocol.filter import Comparison, Expr, parse_filter
from scim_protocol.json_input import unstorable
from scim_protocol.projection import parse_attribute_list
from scim_protocol.schema import ResolvedAttribute, ResourceType

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
DEFAULT_COUNT = 100
# Resources per page, advertised as ServiceProviderConfig filter.maxResults; a larger count is
# answered with this many (RFC 7644 §3.4.2.4 lets the server return fewer). With
# user_input.MAX_RESOURCE_BYTES it bounds the largest page of users.
MAX_COUNT = 1000


@dataclass(frozen=True)
class ListParams:
    start_index: int = 1
    count: int = DEFAULT_COUNT
    filter: Expr | None = None
    sort_by: ResolvedAttribute | None = None
    descending: bool = False
    attributes: list[ResolvedAttribute] = field(default_factory=list)
    excluded: list[ResolvedAttribute] = field(default_factory=list)


def _integer(raw: Any, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InvalidValue(f"{name} must be an integer.")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise InvalidValue(f'{name} must be an integer; got "{raw}".') from None


def _paths(raw: Any) -> str | None:
    if isinstance(raw, list):
        return ",".join(str(item) for item in raw)
    return None if raw is None else str(raw)


def _storable(expr: Expr) -> Expr:
    """Refuse a filter whose string literals (after JSON unescaping) hold characters the
    database cannot compare: NUL or unpaired surrogates."""
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Comparison) and isinstance(node.value, str) and unstorable(node.value):
            raise InvalidFilter("A filter value holds a NUL character or an unpaired surrogate.")
        stack.extend(
            getattr(node, name)
            for name in ("left", "right", "expr", "filter")
            if hasattr(node, name)
        )
    return expr


def parse_list_params(source: Mapping[str, Any], resource_type: ResourceType) -> ListParams:
    """Read list parameters from a query string or a SearchRequest body. Parameter names are
    matched case-insensitively. Raises InvalidFilter or InvalidValue."""
    values = {str(key).lower(): value for key, value in source.items()}
    for name in ("filter", "sortby", "sortorder", "attributes", "excludedattributes"):
        if isinstance(values.get(name), str) and unstorable(values[name]):
            error = InvalidFilter if name == "filter" else InvalidValue
            raise error(f"{name} holds a NUL character or an unpaired surrogate.")
    start = _integer(values.get("startindex"), "startIndex") or 1
    count = _integer(values.get("count"), "count")
    count = DEFAULT_COUNT if count is None else min(max(count, 0), MAX_COUNT)
    raw_filter = values.get("filter")
    if raw_filter is not None and not isinstance(raw_filter, str):
        raise InvalidValue("filter must be a string.")
    sort_by = None
    if values.get("sortby"):
        sort_by = resource_type.resolve(str(values["sortby"]))
        if sort_by is None or (sort_by.target.multi_valued and sort_by.sub_attribute is None):
            raise InvalidValue(f'Cannot sort by "{values["sortby"]}".')
    order = str(values.get("sortorder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise InvalidValue('sortOrder is "ascending" or "descending".')
    return ListParams(
        start_index=max(start, 1),
        count=count,
        filter=_storable(parse_filter(raw_filter)) if raw_filter and raw_filter.strip() else None,
        sort_by=sort_by,
        descending=order == "descending",
        attributes=parse_attribute_list(_paths(values.get("attributes")), resource_type),
        excluded=parse_attribute_list(_paths(values.get("excludedattributes")), resource_type),
    )


def sort_expression(
    path: ResolvedAttribute, columns: Mapping[str, Column], descending: bool
) -> OrderBy:
    """ORDER BY for `sortBy`: a column when the attribute has one, else the JSONB value.
    Case-insensitive attributes sort by lower(column), the expression their index holds (RFC
    7644 §3.4.2.3 sorts by the attribute's caseExact). Only externalId of the columns can be
    NULL; on the others NULLS LAST would stop PostgreSQL reading a descending index."""
    column = columns.get(path.dotted) if not path.is_extension else None
    if column is not None:
        expression: Any = Lower(column.field) if column.kind == "ci" else F(column.field)
        if column.kind != "exact":
            return expression.desc() if descending else expression.asc()
    else:
        container: Any = "attributes"
        keys = [path.schema.id] if path.is_extension and path.schema else []
        keys += [path.attribute.name] + ([path.sub_attribute.name] if path.sub_attribute else [])
        for key in keys[:-1]:
            container = KeyTransform(key, container)
        expression = Lower(KeyTextTransform(keys[-1], container))
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


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


def list_response(total: int, start_index: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
