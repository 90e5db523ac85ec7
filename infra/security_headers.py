"""Content-Security-Policy for every HTML page: our own scripts and styles only, no framing.
(Django 5.2 has no CSP setting of its own; the SCIM API answers JSON and needs none.)"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)


def policy_with_form_target(origin: str) -> str:
    """POLICY, also letting forms lead to `origin`: browsers apply form-action to the redirect
    that follows a form post, and an OAuth consent form redirects to the client's origin."""
    return POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and not request.path.startswith(
            "/admin/"
        ):
            response.setdefault("Content-Security-Policy", POLICY)
        return response
