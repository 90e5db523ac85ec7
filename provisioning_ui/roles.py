"""Groups (roles) as the identity provider pushed them, with their members. Read-only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.errors import GroupNotFound
from directory.groups import group_get
from directory.models import Group, Member

PAGE_SIZE = 50


@require_GET
@login_required
def groups(request: HttpRequest) -> HttpResponse:
    # One GROUP BY query for all counts on the page.
    queryset = Group.objects.annotate(member_count=Count("memberships")).order_by("display_name")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/groups.html", {"page": page})


@require_GET
@login_required
def group_detail(request: HttpRequest, group_id: str) -> HttpResponse:
    try:
        group = group_get(group_id)
    except GroupNotFound:
        raise Http404("No such group.") from None
    members = (
        Member.objects.filter(memberships__group=group)
        .order_by("user_name")
        .only("id", "user_name", "display_name", "active")
    )
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/group_detail.html", {"group": group, "page": page})
