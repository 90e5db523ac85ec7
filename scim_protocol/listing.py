"""List requests (RFC 7644 §3.4.2, §3.4.3): parameters, paging, the ListResponse envelope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_protocol.cursor import CursorCodec
from scim_protocol.errors import InvalidCursor, InvalidFilter, InvalidValue
from scim_protocol.filter import Comparison, Expr, parse_filter
from scim_protocol.json_input import unstorable
from scim_protocol.projection import NOTHING_NAMED, AttributeList, parse_attribute_list
from scim_protocol.schema import COMPLEX, ResolvedAttribute, ResourceType

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
    attributes: AttributeList = NOTHING_NAMED
    excluded: AttributeList = NOTHING_NAMED
    # Cursor paging (RFC 9865): `after` is None for index paging (startIndex), else the
    # position the client's cursor carries ([] for an empty cursor: the first page). `shape`
    # names the query a cursor belongs to (resource type, filter, sort).
    after: list[Any] | None = None
    shape: str = ""

    @property
    def by_cursor(self) -> bool:
        return self.after is not None


def _integer(raw: Any, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InvalidValue(f"{name} must be an integer.")
    if isinstance(raw, float) and raw.is_integer():
        # A JSON number in a SearchRequest body: `1e2` and `100.0` are the integer 100.
        return int(raw)
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


def parse_list_params(
    source: Mapping[str, Any],
    resource_type: ResourceType,
    cursors: CursorCodec | None = None,
) -> ListParams:
    """Read list parameters from a query string or a SearchRequest body. Parameter names are
    matched case-insensitively. A `cursor` parameter (RFC 9865; empty for the first page) is
    read with `cursors`. Raises InvalidFilter, InvalidValue, InvalidCursor or ExpiredCursor."""
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
        if sort_by is None or sort_by.target.type == COMPLEX or sort_by.target.is_secret:
            # A complex attribute has no single value to order by, a password none to read.
            raise InvalidValue(f'Cannot sort by "{values["sortby"]}".')
    order = str(values.get("sortorder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise InvalidValue('sortOrder is "ascending" or "descending".')
    parsed = _storable(parse_filter(raw_filter)) if raw_filter and raw_filter.strip() else None
    shape = "|".join(
        [
            resource_type.name,
            repr(parsed),
            sort_by.dotted if sort_by else "",
            order if sort_by else "",
        ]
    )
    after = None
    if "cursor" in values:
        if start != 1:
            raise InvalidValue("Page with startIndex or with cursor, not both.")
        after = _cursor_position(values["cursor"], shape, cursors)
    return ListParams(
        start_index=max(start, 1),
        count=count,
        filter=parsed,
        sort_by=sort_by,
        descending=order == "descending",
        attributes=parse_attribute_list(_paths(values.get("attributes")), resource_type),
        excluded=parse_attribute_list(_paths(values.get("excludedattributes")), resource_type),
        after=after,
        shape=shape,
    )


def _cursor_position(raw: Any, shape: str, cursors: CursorCodec | None) -> list[Any]:
    """The position a `cursor` parameter names: [] for an empty (or null) one, the first
    page."""
    if raw is None or raw == "":
        return []
    if not isinstance(raw, str) or cursors is None:
        raise InvalidCursor("cursor is a string: empty for the first page, else a nextCursor.")
    return cursors.decode(raw, shape)


def list_response(
    total: int,
    start_index: int | None,
    resources: list[dict[str, Any]],
    *,
    next_cursor: str | None = None,
) -> dict[str, Any]:
    """The ListResponse. A cursor page (RFC 9865) has no startIndex (`start_index` None) and
    carries nextCursor unless it is the last page."""
    response: dict[str, Any] = {"schemas": [LIST_RESPONSE], "totalResults": total}
    if start_index is not None:
        response["startIndex"] = start_index
    response["itemsPerPage"] = len(resources)
    if next_cursor is not None:
        response["nextCursor"] = next_cursor
    response["Resources"] = resources
    return response
