"""Company-admin portal pages. Thin: read the company from the request, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from provisioning_ui.links import scim_base_url


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    company = request.tenant  # type: ignore[attr-defined]
    return render(
        request,
        "portal/dashboard.html",
        {"company": company, "scim_base_url": scim_base_url(request, company)},
    )
