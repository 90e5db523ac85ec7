"""Groups (roles) as the identity provider pushed them, with their members. Read-only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.errors import GroupNotFound
from directory.groups import group_get
from directory.portal_selectors import group_member_list, groups_with_member_counts

PAGE_SIZE = 50


@require_GET
@login_required
def groups(request: HttpRequest) -> HttpResponse:
    page = Paginator(groups_with_member_counts(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/groups.html", {"page": page})


@require_GET
@login_required
def group_detail(request: HttpRequest, group_id: str) -> HttpResponse:
    try:
        group = group_get(group_id)
    except GroupNotFound:
        raise Http404("No such group.") from None
    page = Paginator(group_member_list(group), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/group_detail.html", {"group": group, "page": page})
