"""Members: the company's users as its identity provider provisioned them. Read-only."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.groups import member_groups
from directory.models import Member
from directory.portal_selectors import member_reports, members_for_portal
from directory.selectors import parse_member_id
from provisioning_ui.links import scim_base_url
from scim.group_resource import user_groups
from scim.user_resource import user_to_scim

PAGE_SIZE = 50


@require_GET
@login_required
def members(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "all")
    page = Paginator(members_for_portal(query, state), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/members.html",
        {"page": page, "query": query, "state": state, "company": request.tenant},  # type: ignore[attr-defined]
    )


@require_GET
@login_required
def member_detail(request: HttpRequest, member_id: str) -> HttpResponse:
    parsed = parse_member_id(member_id)
    member = Member.objects.select_related("manager").filter(pk=parsed).first() if parsed else None
    if member is None:
        raise Http404("No such member.")
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
