"""The SCIM error response for answers given before or outside the SCIM views (routing,
the request edge, handler500); the body is the protocol's own (scim_protocol.errors)."""

from __future__ import annotations

from django.http import JsonResponse

from scim_protocol.errors import error_body


def is_scim_path(path: str) -> bool:
    """Whether `path` is on a company's SCIM API, whose clients expect SCIM error bodies."""
    return "/scim/v2" in path


def scim_error_response(status: int, detail: str, scim_type: str | None = None) -> JsonResponse:
    """A SCIM Error (RFC 7644 §3.12) for answers given outside the SCIM views."""
    return JsonResponse(
        error_body(status, detail, scim_type), status=status, content_type="application/scim+json"
    )
