"""Session cookies scoped per company.

Every company is served from one host, so a plain `sessionid` cookie would be shared by all
of them (and by the support admin). Each company gets its own cookie name and path instead:
the browser only sends `/t/acme/`'s cookie to `/t/acme/…`, and a cookie of one company is
never read by another. CSRF tokens live in the session (CSRF_USE_SESSIONS), so they follow.
"""

from __future__ import annotations

from http.cookies import Morsel
from typing import NamedTuple

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse


class CookieScope(NamedTuple):
    name: str
    path: str


def session_cookie_scope(request: HttpRequest) -> CookieScope:
    subfolder = getattr(getattr(request, "tenant", None), "domain_subfolder", None)
    if subfolder:
        return CookieScope(
            f"hc_session_{subfolder}", f"/{settings.TENANT_SUBFOLDER_PREFIX}/{subfolder}/"
        )
    return CookieScope(settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_PATH)


class CompanySessionMiddleware(SessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        session_key = request.COOKIES.get(session_cookie_scope(request).name)
        request.session = self.SessionStore(session_key)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        scope = session_cookie_scope(request)
        if scope.name != settings.SESSION_COOKIE_NAME:
            # Django's own code reads the global cookie name; show it ours (and never the
            # support site's `/`-wide cookie, which the browser also sends here).
            if scope.name in request.COOKIES:
                request.COOKIES[settings.SESSION_COOKIE_NAME] = request.COOKIES[scope.name]
            else:
                request.COOKIES.pop(settings.SESSION_COOKIE_NAME, None)
        response = super().process_response(request, response)
        if scope.name == settings.SESSION_COOKIE_NAME:
            return response
        morsel = response.cookies.pop(settings.SESSION_COOKIE_NAME, None)
        if morsel is not None:
            scoped: Morsel[str] = Morsel()
            scoped.set(scope.name, morsel.value, morsel.coded_value)
            scoped.update(morsel)
            scoped["path"] = scope.path
            response.cookies[scope.name] = scoped
        return response
