"""/Users endpoints. Thin: read the request, call one selector or service, serialize."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from directory import services
from directory.columns import MEMBER_COLUMNS
from directory.groups import member_groups
from directory.models import Member
from directory.search import page, sort_expression, user_name_equals, users_q
from directory.selectors import (
    member_count,
    member_get,
    member_rows_named,
    members_page,
    roles_column,
    split_roles,
)
from scim.views_base import (
    ScimView,
    call_context,
    company_of,
    json_body,
    not_modified,
    scim_base,
    search_request,
)
from scim_protocol.group_resource import user_groups
from scim_protocol.listing import ListParams, list_response, parse_list_params
from scim_protocol.patch import validate_patch_request
from scim_protocol.projection import parse_attribute_list, project, wants
from scim_protocol.schema import USER, ResolvedAttribute
from scim_protocol.user_resource import StoredUser, UserRow, etag, user_to_scim

SORT_COLUMNS = {path: column for path, column in MEMBER_COLUMNS.items() if column.kind != "uuid"}
PAGE_ORDER = ("seq",)


def _users_url(request: Request) -> str:
    return scim_base(request) + "/Users"


def _render(
    request: Request,
    members: Sequence[StoredUser],
    attributes: list[ResolvedAttribute],
    excluded: list[ResolvedAttribute],
    roles: Mapping[Any, list[tuple[str, str]]] | None = None,
) -> list[dict[str, Any]]:
    base = scim_base(request)
    if roles is None:
        wanted = wants("groups", attributes, excluded)
        roles = member_groups(m.id for m in members) if wanted else {}
    return [
        project(
            user_to_scim(
                m,
                users_url=f"{base}/Users",
                groups=user_groups(roles.get(m.id, []), f"{base}/Groups"),
            ),
            USER,
            attributes=attributes,
            excluded=excluded,
        )
        for m in members
    ]


def _single(
    request: Request,
    member: Member,
    *,
    status: int = 200,
    roles: list[tuple[str, str]] | None = None,
) -> Response:
    """One User; `roles`, when the caller read them already, saves the groups query."""
    attributes = parse_attribute_list(request.query_params.get("attributes"), USER)
    excluded = parse_attribute_list(request.query_params.get("excludedAttributes"), USER)
    known = None if roles is None else {member.id: roles}
    (shown,) = _render(request, [member], attributes, excluded, known)
    headers = {"ETag": etag(member.version)}
    if status == 201:
        headers["Location"] = f"{_users_url(request)}/{member.id}"
    return Response(shown, status=status, headers=headers)


def _roles_read(member: Member) -> list[tuple[str, str]]:
    """The groups a write service read with the member it changed (`member_get(...,
    with_roles=True)`, under its row lock): a user's write never changes its groups."""
    return split_roles(member.roles)  # type: ignore[attr-defined]


def _rows(
    queryset: QuerySet[Member], roles: dict[Any, list[tuple[str, str]]] | None
) -> list[UserRow]:
    """The page's users as UserRows; with `roles` given, their groups in the same query."""
    if roles is None:
        return [UserRow._make(row) for row in queryset.values_list(*UserRow._fields)]
    return _keeping_roles(
        queryset.annotate(roles=roles_column()).values_list(*UserRow._fields, "roles"), roles
    )


def _keeping_roles(
    fetched: Iterable[Sequence[Any]], roles: dict[Any, list[tuple[str, str]]] | None
) -> list[UserRow]:
    """Rows of UserRow's columns followed by the member's roles: the UserRows, with the
    roles put into `roles` when the response shows groups."""
    rows = []
    for *fields, found in fetched:
        row = UserRow._make(fields)
        rows.append(row)
        if roles is not None:
            roles[row.id] = split_roles(found)
    return rows


def _list(request: Request, params: ListParams) -> Response:
    roles: dict[Any, list[tuple[str, str]]] | None = (
        {} if wants("groups", params.attributes, params.excluded) else None
    )
    if params.filter is None and params.sort_by is None:
        # Every IdP's import: the position index, flat at any depth and company size.
        total, found = members_page(params.start_index, params.count, with_roles=roles is not None)
        members = [UserRow._make(row) for row, _ in found]
        if roles is not None:
            roles.update((row[0], groups) for row, groups in found)
    elif (user_name := _user_name_lookup(params)) is not None:
        members = _keeping_roles(member_rows_named(user_name), roles)
        total = len(members)
    else:
        total, members = _filtered(params, roles)
    resources = _render(request, members, params.attributes, params.excluded, roles or {})
    return Response(list_response(total, params.start_index, resources))


def _user_name_lookup(params: ListParams) -> str | None:
    """The userName of a first-page `filter=userName eq "…"` without sorting: at most one
    user (userName is unique), so it is the whole result."""
    if params.filter is None or params.sort_by is not None:
        return None
    if params.start_index != 1 or params.count < 1:
        return None
    return user_name_equals(params.filter)


def _filtered(
    params: ListParams, roles: dict[Any, list[tuple[str, str]]] | None
) -> tuple[int, list[UserRow]]:
    order = [
        *(
            [sort_expression(params.sort_by, SORT_COLUMNS, params.descending)]
            if params.sort_by
            else []
        ),
        *PAGE_ORDER,
    ]

    def fetch(ids: list[Any]) -> Mapping[Any, UserRow]:
        return {row.id: row for row in _rows(Member.objects.filter(pk__in=ids), roles)}

    return page(
        Member.objects.all(),
        params,
        condition=users_q(params.filter) if params.filter else None,
        order=order,
        fetch=fetch,
        total=member_count if params.filter is None else None,
        fetch_first=lambda first_page: _rows(first_page, roles),
    )


class UsersView(ScimView):
    def get(self, request: Request) -> Response:
        return _list(request, parse_list_params(request.query_params, USER))

    def post(self, request: Request) -> Response:
        member = services.member_create(
            company=company_of(request), payload=json_body(request), context=call_context(request)
        )
        # A new user is in no group yet (`groups` is read-only on a User).
        return _single(request, member, status=201, roles=[])


class UsersSearchView(ScimView):
    def post(self, request: Request) -> Response:
        body = search_request(request)
        return _list(request, parse_list_params(body, USER))


class UserView(ScimView):
    def get(self, request: Request, member_id: str) -> Response:
        member = member_get(member_id, with_roles=True)
        return not_modified(request, member.version) or _single(
            request,
            member,
            roles=split_roles(member.roles),  # type: ignore[attr-defined]
        )

    def put(self, request: Request, member_id: str) -> Response:
        member = services.member_replace(
            company=company_of(request),
            member_id=member_id,
            payload=json_body(request),
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
        )
        return _single(request, member, roles=_roles_read(member))

    def patch(self, request: Request, member_id: str) -> Response:
        member = services.member_patch(
            company=company_of(request),
            member_id=member_id,
            operations=validate_patch_request(json_body(request)),
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
        )
        if "return=minimal" in request.META.get("HTTP_PREFER", "").replace(" ", "").lower():
            return Response(status=204, headers={"ETag": etag(member.version)})
        return _single(request, member, roles=_roles_read(member))

    def delete(self, request: Request, member_id: str) -> Response:
        services.member_delete(
            company=company_of(request),
            member_id=member_id,
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
        )
        return Response(status=204)
