"""The SCIM API's requests run only the middleware they rely on.

Django builds one middleware chain per handler, from settings.MIDDLEWARE. The portal and
the support admin need all of it. A SCIM request is answered by csrf-exempt DRF views that
authenticate its Authorization header themselves: it reads no session, no signed-in user
and no messages, and never signs anyone in through django-axes, so that middleware only
costs it time (and a `Vary: Cookie` its answer does not vary by). A process therefore holds
two handlers, and its WSGI or ASGI entry gives each request to one of them by its path:

- a SCIM path (one the tenant URLconf sends to scim.urls: `/t/<slug>/scim/v2` and below)
  to a handler whose chain is settings.SCIM_MIDDLEWARE (MIDDLEWARE less
  PORTAL_ONLY_MIDDLEWARE: request id, security headers, the request edge and its tally,
  company routing, Content-Length and X-Frame-Options are all still there);
- every other path to Django's own handler, with settings.MIDDLEWARE.

settings.MIDDLEWARE stays the full list, so Django's, the admin's and django-axes' checks
see what they expect. SCIM_OWN_MIDDLEWARE=0 serves every request with the full chain.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler

# Matched against PATH_INFO as the server gives it (bytes as Latin-1 text): "/" and the ASCII
# around it are the same bytes whatever the slug holds, so this decides as Django's resolver
# does on the decoded path. Anything that does not match runs the full chain, as before.
SCIM_PATH = re.compile(r"/t/[^/]+/scim/v2(?:/|$)")


def is_scim_request_path(path_info: str) -> bool:
    """Whether the tenant URLconf sends `path_info` to the SCIM API (config/urls_tenant.py)."""
    return SCIM_PATH.match(path_info) is not None


class ScimMiddlewareMixin:
    """For a Django handler class: its middleware chain is settings.SCIM_MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django reads the chain from settings.MIDDLEWARE and nothing else, so the SCIM list
        # stands in for it while this handler builds its chain: once, at start-up, before
        # the process serves anything (config/wsgi.py, config/asgi.py), so no other handler
        # is building its own chain meanwhile.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.SCIM_MIDDLEWARE
        try:
            super().load_middleware(is_async)  # type: ignore[misc]
        finally:
            settings.MIDDLEWARE = full


class ScimWSGIHandler(ScimMiddlewareMixin, WSGIHandler):
    pass


class ScimASGIHandler(ScimMiddlewareMixin, ASGIHandler):
    pass


class ByPath:
    """Calls the SCIM handler for a SCIM path, the full one for any other. Takes a WSGI
    environ and whatever the handlers take after it (start_response; nothing for Django's
    test client handler)."""

    def __init__(self, *, scim: Callable[..., Any], full: Callable[..., Any]) -> None:
        self.scim, self.full = scim, full

    def __call__(self, environ: dict[str, Any], *args: Any) -> Any:
        if is_scim_request_path(environ.get("PATH_INFO", "")):
            return self.scim(environ, *args)
        return self.full(environ, *args)


def wsgi_application() -> Callable[..., Any]:
    """What gunicorn serves (config/wsgi.py)."""
    if not settings.SCIM_OWN_MIDDLEWARE:
        return WSGIHandler()
    return ByPath(scim=ScimWSGIHandler(), full=WSGIHandler())


def asgi_application() -> Callable[..., Awaitable[None]]:
    """The same choice for an ASGI server (config/asgi.py)."""
    full = ASGIHandler()
    if not settings.SCIM_OWN_MIDDLEWARE:
        return full
    scim = ScimASGIHandler()

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        is_scim = scope["type"] == "http" and is_scim_request_path(scope.get("path", ""))
        await (scim if is_scim else full)(scope, receive, send)

    return application
