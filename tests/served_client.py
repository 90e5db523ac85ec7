"""Django's test client serving each request with the middleware chain gunicorn gives it
(config/handlers.py): SCIM paths through the SCIM API's own chain, the rest through the full
one. The `client` fixture is one of these, so SCIM tests exercise what production runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import Client
from django.test.client import ClientHandler

from config.handlers import ByPath, ScimMiddlewareMixin


class ScimClientHandler(ScimMiddlewareMixin, ClientHandler):
    pass


class ServedClient(Client):
    def __init__(self, enforce_csrf_checks: bool = False, **defaults: Any) -> None:
        super().__init__(enforce_csrf_checks, **defaults)
        if settings.SCIM_OWN_MIDDLEWARE:
            scim = ScimClientHandler(enforce_csrf_checks)
            # Now rather than at the first request, as the WSGI entry does: the chain is
            # built while settings.MIDDLEWARE names the SCIM list (config/handlers.py).
            scim.load_middleware()
            self.handler = ByPath(scim=scim, full=self.handler)  # type: ignore[assignment]
