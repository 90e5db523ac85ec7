"""Absolute URLs that company admins paste into their identity provider or get by email."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from tenants.models import Company


def site_origin(request: HttpRequest) -> str:
    """Scheme and host of the site as people outside reach it, for links sent by email or
    copied to a customer: PUBLIC_BASE_URL when set, otherwise the request's own."""
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


def scim_base_url(request: HttpRequest | None, company: Company) -> str:
    """The SCIM base URL of `company`, absolute. PUBLIC_BASE_URL wins when set (behind a proxy
    the request's host may be an internal name); otherwise the request's own origin."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + company.scim_base_path
    if request is None:
        return company.scim_base_path
    return request.build_absolute_uri(company.scim_base_path)
