"""/Groups endpoints. Members are loaded only when the response carries them, so Entra's
`excludedAttributes=members` on a 50,000-member group costs no member query."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from directory import groups as service
from directory.models import Group
from directory.search import groups_by_cursor, groups_list
from scim.views_base import (
    ScimView,
    call_context,
    cursor_codec,
    json_body,
    not_modified,
    scim_base,
    search_request,
)
from scim_protocol.group_resource import group_to_scim
from scim_protocol.listing import ListParams, list_response, parse_list_params
from scim_protocol.patch import validate_patch_request
from scim_protocol.projection import AttributeList, parse_attribute_list, project, wants
from scim_protocol.schema import GROUP
from scim_protocol.user_resource import etag


def _render(
    request: Request,
    groups: list[Group],
    attributes: AttributeList,
    excluded: AttributeList,
) -> list[dict[str, Any]]:
    base = scim_base(request)
    members = (
        service.group_members(g.id for g in groups)
        if wants("members", GROUP, attributes, excluded)
        else None
    )
    return [
        project(
            group_to_scim(
                group,
                groups_url=f"{base}/Groups",
                users_url=f"{base}/Users",
                members=None if members is None else members.get(group.id, []),
            ),
            GROUP,
            attributes=attributes,
            excluded=excluded,
        )
        for group in groups
    ]


def _single(request: Request, group: Group, *, status: int = 200) -> Response:
    attributes = parse_attribute_list(request.query_params.get("attributes"), GROUP)
    excluded = parse_attribute_list(request.query_params.get("excludedAttributes"), GROUP)
    (resource,) = _render(request, [group], attributes, excluded)
    headers = {"ETag": etag(group.version)}
    if status == 201:
        headers["Location"] = f"{scim_base(request)}/Groups/{group.id}"
    return Response(resource, status=status, headers=headers)


def _list(request: Request, params: ListParams) -> Response:
    if not params.by_cursor:
        total, groups = groups_list(params)
        resources = _render(request, groups, params.attributes, params.excluded)
        return Response(list_response(total, params.start_index, resources))
    total, groups, next_after = groups_by_cursor(params)
    resources = _render(request, groups, params.attributes, params.excluded)
    next_cursor = (
        None if next_after is None else cursor_codec(request).encode(next_after, params.shape)
    )
    return Response(list_response(total, None, resources, next_cursor=next_cursor))


class GroupsView(ScimView):
    def get(self, request: Request) -> Response:
        return _list(request, parse_list_params(request.query_params, GROUP, cursor_codec(request)))

    def post(self, request: Request) -> Response:
        group = service.group_create(payload=json_body(request), context=call_context(request))
        return _single(request, group, status=201)


class GroupsSearchView(ScimView):
    reads_by_post = True

    def post(self, request: Request) -> Response:
        return _list(
            request, parse_list_params(search_request(request), GROUP, cursor_codec(request))
        )


class GroupView(ScimView):
    def get(self, request: Request, group_id: str) -> Response:
        group = service.group_get(group_id)
        return not_modified(request, group.version) or _single(request, group)

    def put(self, request: Request, group_id: str) -> Response:
        group = service.group_replace(
            group_id=group_id,
            payload=json_body(request),
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        )
        return _single(request, group)

    def patch(self, request: Request, group_id: str) -> Response:
        group = service.group_patch(
            group_id=group_id,
            operations=validate_patch_request(json_body(request)),
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        )
        # 204 as Entra prefers; a client that names attributes gets the group (members only
        # when it asks for them).
        if "attributes" in request.query_params or "excludedAttributes" in request.query_params:
            return _single(request, group)
        return Response(status=204, headers={"ETag": etag(group.version)})

    def delete(self, request: Request, group_id: str) -> Response:
        service.group_delete(
            group_id=group_id,
            context=call_context(request),
            if_match=request.META.get("HTTP_IF_MATCH"),
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        )
        return Response(status=204)
