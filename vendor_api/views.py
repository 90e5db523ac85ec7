"""The vendor API (/api/v1/): read-only JSON for the vendor's backend, authenticated with a
vendor API key. Views parse the query, make one call, render."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from directory.cursor_pages import groups_after, members_after
from directory.errors import GroupNotFound, MemberNotFound
from directory.groups import group_get
from directory.selectors import member_get_with_roles
from events.outbox import EventType
from events.selectors import (
    TYPES_SCAN,
    Event,
    EventPage,
    company_events_after,
    company_events_of_types,
    company_stream_head,
    feed_after,
    feed_head,
    feed_of_types,
)
from scim_protocol.group_resource import group_to_scim, user_groups
from scim_protocol.user_resource import user_to_scim
from tenants.links import scim_base_url
from tenants.models import Company
from tenants.selectors import company_for_slug
from vendor_api import serializers as shapes
from vendor_api.authentication import VendorKeyAuthentication
from vendor_api.errors import (
    BadParameter,
    CursorExpired,
    UnknownResource,
    vendor_exception_handler,
)

DEFAULT_LIMIT = 100
MAX_EVENTS = 1000
MAX_ROWS = 200

_ERRORS = {
    status: shapes.ErrorSerializer
    for status in (400, 401, 404, 405, 503)  # 405: the API is read-only; 503: retry
}
_LIMIT = OpenApiParameter("limit", int, description="Page size (default 100).")


class VendorView(APIView):
    authentication_classes = [VendorKeyAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Callable[..., Any]:
        return vendor_exception_handler


def _int(request: Request, name: str, default: int, *, lowest: int, highest: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not lowest <= int(raw) <= highest:
        raise BadParameter(f"`{name}` must be a whole number from {lowest} to {highest}.")
    return int(raw)


def _types(request: Request) -> list[str]:
    """The event types of `types` (comma-separated), each once; none for an empty value."""
    names = (name.strip() for name in ",".join(request.query_params.getlist("types")).split(","))
    wanted = list(dict.fromkeys(name for name in names if name))
    unknown = [name for name in wanted if name not in EventType.ALL]
    if unknown:
        raise BadParameter(
            f"`types` has unknown event types: {', '.join(unknown)}. "
            f"The event types are {', '.join(EventType.ALL)}."
        )
    return wanted


def _company(slug: str) -> Company:
    company = company_for_slug(slug)
    if company is None:
        raise UnknownResource(f"No company {slug!r}.")
    return company


def _event(event: Event, slugs: dict[str, str]) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "company": slugs.get(event.schema_name, ""),
        "seq": event.seq,
        "type": event.type,
        "occurredAt": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "resourceType": event.resource_type,
        "resourceId": None if event.resource_id is None else str(event.resource_id),
        "externalId": event.external_id,
        "userName": event.user_name,
        "displayName": event.display_name,
        "changed": event.changed,
        "data": event.data,
        "requestId": event.request_id,
        "idp": event.idp,
    }


class EventsView(VendorView):
    @extend_schema(
        summary="Change events after a cursor",
        operation_id="events_list",
        description=(
            "Events in order: of all companies by their place in the feed (filled by the "
            "relay within seconds of the change), or of one company (`company`) by its own "
            "`seq`, complete as soon as the change commits. Start with no `after`, then pass "
            "the `next` of each page. A cursor belongs to the query it came from.\n\n"
            "With `types`, a page holds only events of those types, found among at most the "
            f"next {TYPES_SCAN:,} events after `after`; `next` is the place after the last event "
            "looked at, so **a page can hold fewer than `limit` events, or none, while "
            "`hasMore` is true**: keep following `next` until `hasMore` is false. The cursor is "
            "a place in the unfiltered order: the same `next` works with other `types`, or "
            "none."
        ),
        parameters=[
            OpenApiParameter("after", str, description="The `next` of the previous page."),
            _LIMIT,
            OpenApiParameter("company", str, description="Only this company's events (slug)."),
            OpenApiParameter(
                "types",
                str,
                many=True,
                explode=False,
                style="form",
                enum=EventType.ALL,
                description=(
                    "Only events of these types, comma-separated "
                    "(`types=user.deactivated,user.deleted`); empty or absent: every type. "
                    "An unknown type is refused (400)."
                ),
            ),
        ],
        responses={200: shapes.EventPageSerializer, 410: shapes.ErrorSerializer, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        after = _int(request, "after", 0, lowest=0, highest=2**63 - 1)
        limit = _int(request, "limit", DEFAULT_LIMIT, lowest=1, highest=MAX_EVENTS)
        types = _types(request)
        slug = request.query_params.get("company")
        if slug:
            company = _company(slug)
            if types:
                page = company_events_of_types(company.schema_name, after, types, limit)
            else:
                events = company_events_after(company.schema_name, after, limit + 1)
                page = EventPage.of(events, after, limit)
            if after and page.first != after + 1:
                _check_company_cursor(company, after, page.first)
            slugs = {company.schema_name: company.slug}
        else:
            if types:
                page = feed_of_types(after, types, limit)
            else:
                page = EventPage.of(feed_after(after, limit + 1), after, limit)
            if after and page.first is None and after > feed_head():
                raise BadParameter(_PAST_THE_END)
            slugs = dict(
                Company.objects.filter(
                    schema_name__in={event.schema_name for event in page.events}
                ).values_list("schema_name", "slug")
            )
        return Response(
            {
                "events": [_event(event, slugs) for event in page.events],
                "next": str(page.next),
                "hasMore": page.more,
            }
        )


_PAST_THE_END = (
    "`after` is past the newest event: pass the `next` of a page of this same query (a "
    "cursor of all companies means nothing with `company=`, and the reverse)."
)


def _check_company_cursor(company: Company, after: int, first: int | None) -> None:
    """A company's seqs have no gaps (events.outbox), so a page that does not start right
    after the cursor (`first`: the seq of the first event after it, of any type) is either
    past the stream's end or missing what retention dropped."""
    head = company_stream_head(company.schema_name)
    if after > head:
        raise BadParameter(_PAST_THE_END)
    if first is None and after < head:
        # Read after the events: a write may have committed between the two reads. Its
        # event is there now unless retention dropped it.
        events = company_events_after(company.schema_name, after, 1)
        if events and events[0].seq == after + 1:
            return
        first = events[0].seq if events else None
    if first is not None or after < head:
        resume = first - 1 if first is not None else head
        raise CursorExpired(
            "Events after this cursor are older than the retention period and gone: re-read "
            f"the directory (members, groups), then continue with `after={resume}`."
        )


def _company_row(company: Company) -> dict[str, Any]:
    return {
        "slug": company.slug,
        "name": company.name,
        "status": company.status,
        "scimEnabled": company.scim_enabled,
        "seatsUsed": company.seats_used,
        "seatLimit": company.seat_limit,
    }


class CompaniesView(VendorView):
    @extend_schema(
        summary="Companies, by slug",
        operation_id="companies_list",
        parameters=[OpenApiParameter("after", str, description="The last slug seen."), _LIMIT],
        responses={200: shapes.CompanyPageSerializer, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        limit = _int(request, "limit", DEFAULT_LIMIT, lowest=1, highest=MAX_ROWS)
        after = request.query_params.get("after", "")
        rows = list(
            Company.objects.customers().filter(slug__gt=after).order_by("slug")[: limit + 1]
        )
        page = rows[:limit]
        return Response(
            {
                "companies": [_company_row(company) for company in page],
                "next": page[-1].slug if page else after,
                "hasMore": len(rows) > limit,
            }
        )


def _urls(company: Company) -> tuple[str, str]:
    base = scim_base_url(None, company)
    return f"{base}/Users", f"{base}/Groups"


class MembersView(VendorView):
    @extend_schema(
        summary="A company's members with their groups (roles), cursor-paged",
        operation_id="members_list",
        parameters=[
            OpenApiParameter("after", str, description="The `next` of the last page."),
            _LIMIT,
        ],
        responses={200: shapes.MemberPageSerializer, **_ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        company = _company(slug)
        after = _int(request, "after", 0, lowest=0, highest=2**63 - 1)
        limit = _int(request, "limit", DEFAULT_LIMIT, lowest=1, highest=MAX_ROWS)
        users_url, groups_url = _urls(company)
        with schema_context(company.schema_name):
            page = members_after(after, limit + 1)
        rows = page.rows[:limit]
        members = [
            user_to_scim(
                row,
                users_url=users_url,
                groups=user_groups(page.roles.get(row.id, []), groups_url),
            )
            for row in rows
        ]
        return Response(
            {
                "members": members,
                "next": str(page.seqs[len(rows) - 1]) if rows else str(after),
                "hasMore": len(page.rows) > limit,
            }
        )


class MemberView(VendorView):
    @extend_schema(
        summary="One member with its groups (roles)",
        operation_id="member_get",
        responses={200: shapes.ResourceSerializer, **_ERRORS},
    )
    def get(self, request: Request, slug: str, member_id: str) -> Response:
        company = _company(slug)
        users_url, groups_url = _urls(company)
        try:
            with schema_context(company.schema_name):
                found = member_get_with_roles(member_id)
        except MemberNotFound as error:
            raise UnknownResource(str(error.detail)) from None
        return Response(
            user_to_scim(
                found.member, users_url=users_url, groups=user_groups(found.roles, groups_url)
            )
        )


def _group(group: Any, company: Company) -> dict[str, Any]:
    users_url, groups_url = _urls(company)
    return group_to_scim(group, groups_url=groups_url, users_url=users_url, members=None)


class GroupsView(VendorView):
    @extend_schema(
        summary="A company's groups (roles), cursor-paged, without their members",
        operation_id="groups_list",
        parameters=[
            OpenApiParameter("after", str, description="The `next` of the last page."),
            _LIMIT,
        ],
        responses={200: shapes.GroupPageSerializer, **_ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        company = _company(slug)
        raw = request.query_params.get("after") or None
        after = None
        if raw is not None:
            try:
                after = uuid.UUID(raw)
            except ValueError:
                raise BadParameter("`after` must be the `next` of the previous page.") from None
        limit = _int(request, "limit", DEFAULT_LIMIT, lowest=1, highest=MAX_ROWS)
        with schema_context(company.schema_name):
            groups = groups_after(after, limit + 1)
        page = groups[:limit]
        return Response(
            {
                "groups": [_group(group, company) for group in page],
                "next": str(page[-1].id) if page else (raw or ""),
                "hasMore": len(groups) > limit,
            }
        )


class GroupView(VendorView):
    @extend_schema(
        summary="One group (role), without its members",
        operation_id="group_get",
        responses={200: shapes.ResourceSerializer, **_ERRORS},
    )
    def get(self, request: Request, slug: str, group_id: str) -> Response:
        company = _company(slug)
        try:
            with schema_context(company.schema_name):
                group = group_get(group_id)
        except GroupNotFound as error:
            raise UnknownResource(str(error.detail)) from None
        return Response(_group(group, company))


# Redoc renders with inline styles and a web worker from a blob: URL; everything else stays
# as strict as the rest of the site (scripts from our own static files only).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)


class DocsView(SpectacularRedocView):
    """The OpenAPI schema rendered by Redoc, from our own static files (drf-spectacular-sidecar)."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_POLICY
        return response
