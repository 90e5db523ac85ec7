"""Members: the company's users as its identity provider provisioned them. Read-only."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.errors import MemberNotFound
from directory.groups import member_groups
from directory.portal_selectors import member_filter_choices, member_reports, members_for_portal
from directory.selectors import member_get
from scim_protocol.group_resource import user_groups
from scim_protocol.user_resource import user_to_scim
from tenants.links import scim_base_url

# Column headers that sort, in the order shown: (sort key, label).
SORTABLE = {
    "name": "Name",
    "userName": "userName",
    "email": "Email",
    "status": "Status",
    "created": "Created",
}


def _page_number(raw: str | None) -> int:
    try:
        return int(raw or 1)
    except ValueError:
        return 1


@require_GET
@login_required
def members(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "all")
    # Exact stored values: kept as given (a value with spaces around it is a different one).
    department = request.GET.get("department", "")
    title = request.GET.get("title", "")
    page = members_for_portal(
        query,
        state,
        sort=request.GET.get("sort", "created"),
        page=_page_number(request.GET.get("page")),
        department=department,
        title=title,
    )
    return render(
        request,
        "portal/members.html",
        {
            "page": page,
            "query": query,
            "state": state,
            "department": department,
            "title": title,
            "choices": member_filter_choices(),
            # What sort links and the pager carry along, so a filtered list stays filtered.
            "filters": urlencode(
                {"q": query, "state": state, "department": department, "title": title}
            ),
            "company": request.tenant,  # type: ignore[attr-defined]
            "headers": _sort_headers(page.sort),
        },
    )


def _sort_headers(current: str) -> list[dict[str, str]]:
    """Each sortable column's label, the sort its link asks for (the other direction when it
    is the current one) and its aria-sort."""
    headers = []
    for key, label in SORTABLE.items():
        if current == key:
            link, aria = f"-{key}", "ascending"
        elif current == f"-{key}":
            link, aria = key, "descending"
        else:
            link, aria = key, "none"
        headers.append({"key": key, "label": label, "link": link, "aria": aria})
    return headers


@require_GET
@login_required
def member_detail(request: HttpRequest, member_id: str) -> HttpResponse:
    try:
        member = member_get(member_id)
    except MemberNotFound:
        raise Http404("No such member.") from None
    company = request.tenant  # type: ignore[attr-defined]
    base = scim_base_url(request, company)
    roles = member_groups([member.id]).get(member.id, [])
    resource = user_to_scim(
        member, users_url=f"{base}/Users", groups=user_groups(roles, f"{base}/Groups")
    )
    return render(
        request,
        "portal/member_detail.html",
        {
            "member": member,
            "resource": resource,
            "resource_json": json.dumps(resource, indent=2, ensure_ascii=False),
            "reports": member_reports(member),
        },
    )
