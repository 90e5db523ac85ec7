"""/Users endpoints. Thin: read the request, call one selector or service, serialize."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from directory import services
from directory.groups import member_groups
from directory.models import Member
from directory.search import members_list
from directory.selectors import member_get_with_roles
from scim.views_base import (
    ScimView,
    call_context,
    company_of,
    cursor_codec,
    json_body,
    not_modified,
    scim_base,
    search_request,
)
from scim_protocol.group_resource import Ref, user_groups
from scim_protocol.listing import ListParams, list_response, parse_list_params
from scim_protocol.patch import validate_patch_request
from scim_protocol.projection import AttributeList, parse_attribute_list, project, wants
from scim_protocol.schema import USER
from scim_protocol.user_resource import StoredUser, etag, user_to_scim


def _render(
    base: str,
    members: Sequence[StoredUser],
    attributes: AttributeList,
    excluded: AttributeList,
    roles: Mapping[Any, Sequence[Ref]] | None = None,
) -> list[dict[str, Any]]:
    """The members as User resources; `base` is the company's SCIM base URL (scim_base: read
    once per response, as it is not free)."""
    if roles is None:
        wanted = wants("groups", USER, attributes, excluded)
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
    roles: Sequence[Ref] | None = None,
) -> Response:
    """One User; `roles`, when the caller read them already, saves the groups query."""
    attributes = parse_attribute_list(request.query_params.get("attributes"), USER)
    excluded = parse_attribute_list(request.query_params.get("excludedAttributes"), USER)
    known = None if roles is None else {member.id: roles}
    base = scim_base(request)
    (shown,) = _render(base, [member], attributes, excluded, known)
    headers = {"ETag": etag(member.version)}
    if status == 201:
        headers["Location"] = f"{base}/Users/{member.id}"
    return Response(shown, status=status, headers=headers)


def _list(request: Request, params: ListParams) -> Response:
    found = members_list(
        params, with_roles=wants("groups", USER, params.attributes, params.excluded)
    )
    resources = _render(
        scim_base(request), found.rows, params.attributes, params.excluded, found.roles
    )
    if not params.by_cursor:
        return Response(list_response(found.total, params.start_index, resources))
    next_cursor = (
        None
        if found.next_after is None
        else cursor_codec(request).encode(found.next_after, params.shape)
    )
    return Response(list_response(found.total, None, resources, next_cursor=next_cursor))


class UsersView(ScimView):
    def get(self, request: Request) -> Response:
        return _list(request, parse_list_params(request.query_params, USER, cursor_codec(request)))

    def post(self, request: Request) -> Response:
        member = services.member_create(
            company=company_of(request), payload=json_body(request), context=call_context(request)
        )
        # A new user is in no group yet (`groups` is read-only on a User).
        return _single(request, member, status=201, roles=[])


class UsersSearchView(ScimView):
    reads_by_post = True

    def post(self, request: Request) -> Response:
        body = search_request(request)
        return _list(request, parse_list_params(body, USER, cursor_codec(request)))


class UserView(ScimView):
    def get(self, request: Request, member_id: str) -> Response:
        found = member_get_with_roles(member_id)
        return not_modified(request, found.member.version) or _single(
            request, found.member, roles=found.roles
        )

    def put(self, request: Request, member_id: str) -> Response:
        found = services.member_replace(
            company=company_of(request),
            member_id=member_id,
            payload=json_body(request),
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        )
        return _single(request, found.member, roles=found.roles)

    def patch(self, request: Request, member_id: str) -> Response:
        found = services.member_patch(
            company=company_of(request),
            member_id=member_id,
            operations=validate_patch_request(json_body(request)),
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        )
        if "return=minimal" in request.META.get("HTTP_PREFER", "").replace(" ", "").lower():
            return Response(status=204, headers={"ETag": etag(found.member.version)})
        return _single(request, found.member, roles=found.roles)

    def delete(self, request: Request, member_id: str) -> Response:
        services.member_delete(
            company=company_of(request),
            member_id=member_id,
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        )
        return Response(status=204)
