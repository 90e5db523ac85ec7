"""Bearer token authentication for the benchmark: `Authorization: Bearer <PEER_TOKEN>` makes the
request a superuser's; anything else leaves request.user unset, and django-scim2's auth-check
(the SCIMAuthCheckMiddleware that wraps its views) answers 401 with its WWW-Authenticate."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from peer_app.models import User

# Not a row in the users table: django-scim2 serves every row of the user model as a SCIM
# User, so a stored admin would be user N+1 in every list and totalResults, breaking the
# seeding contract. django-scim2 only asks request.user.is_authenticated, which any User
# instance answers True, so an unsaved superuser costs no query per request.
BENCH_SUPERUSER = User(username="peer-bench-admin", is_superuser=True, is_staff=True)


class BearerTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.expected = f"Bearer {settings.PEER_TOKEN}".encode()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.META.get("HTTP_AUTHORIZATION", "").encode()
        if hmac.compare_digest(given, self.expected):
            request.user = BENCH_SUPERUSER
        return self.get_response(request)
