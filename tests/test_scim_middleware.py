"""SCIM requests run the SCIM API's own middleware chain (config/handlers.py): no sessions,
CSRF, signed-in user, messages or sign-in throttling, everything else as before; the portal
keeps the full chain. Checked through the WSGI application gunicorn serves, both ways of the
SCIM_OWN_MIDDLEWARE switch."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django_tenants.utils import schema_context

from config.handlers import ByPath, is_scim_request_path, wsgi_application
from directory.models import RequestTally
from tenants.models import Company
from tests.scim_client import Scim
from tests.served_client import ServedClient

# What every SCIM answer carried before it had a chain of its own, besides its body.
SCIM_RESPONSE_HEADERS = {
    "Content-Type": "application/scim+json; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@pytest.mark.parametrize(
    ("path", "scim"),
    [
        ("/t/acme/scim/v2", True),
        ("/t/acme/scim/v2/", True),
        ("/t/acme/scim/v2/Users/0f8e", True),
        ("/t/acme/scim/v2/No/Such/Endpoint", True),
        ("/t/ac%FFme/scim/v2/Users", True),
        ("/t/acme/scim/v2Users", False),  # the portal's URLconf answers it (a 404 page)
        ("/t/acme/scim/", False),
        ("/t/acme/", False),
        ("/t/acme/access/tokens/", False),
        ("/t//scim/v2/Users", False),
        ("/scim/v2/Users", False),
        ("/admin/", False),
        ("/static/portal.css", False),
    ],
)
def test_scim_paths_are_those_the_tenant_urlconf_sends_to_the_scim_api(
    path: str, scim: bool
) -> None:
    assert is_scim_request_path(path) is scim


def test_a_scim_request_skips_the_session_middleware_and_a_portal_request_runs_it(
    scim: Scim,
) -> None:
    served = ServedClient()

    scim_response = served.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}")
    portal_response = served.get("/t/acme/login/")

    assert scim_response.status_code == 200
    assert not hasattr(scim_response.wsgi_request, "session")
    assert not hasattr(scim_response.wsgi_request, "_messages")
    assert portal_response.status_code == 200
    assert hasattr(portal_response.wsgi_request, "session")
    assert "hc_session_acme" in portal_response.cookies  # the CSRF secret lives in it


def test_with_the_switch_off_scim_requests_run_the_full_chain(scim: Scim, settings: Any) -> None:
    settings.SCIM_OWN_MIDDLEWARE = False

    response = ServedClient().get(
        "/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}"
    )

    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    assert not isinstance(wsgi_application(), ByPath)


@contextmanager
def _in_test_transaction() -> Iterator[None]:
    # As Django's test client does: the handler must not close the connection that holds
    # the test's transaction when the request starts or finishes.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call(
    application: Callable[..., Any], path: str, query: str = "", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One request through a WSGI application, as gunicorn's sync worker makes it."""
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> Any:
        answer["status"], answer["headers"] = int(status.split()[0]), response_headers
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    with _in_test_transaction():
        result = application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
    headers_seen: dict[str, str] = {}
    for name, value in answer["headers"]:
        headers_seen[name] = headers_seen[name] + "\n" + value if name in headers_seen else value
    return answer["status"], headers_seen, body


@pytest.mark.parametrize("own_chain", [True, False])
def test_scim_answers_keep_their_headers_either_way(
    scim: Scim, settings: Any, own_chain: bool
) -> None:
    settings.SCIM_OWN_MIDDLEWARE = own_chain
    application = wsgi_application()

    status, headers, body = _call(
        application,
        "/t/acme/scim/v2/Users",
        "count=1",
        authorization=f"Bearer {scim.token}",
        x_request_id="idp-request-00001",
    )

    assert status == 200
    assert headers["X-Request-ID"] == "idp-request-00001"
    assert {name: headers.get(name) for name in SCIM_RESPONSE_HEADERS} == SCIM_RESPONSE_HEADERS
    assert headers["Content-Length"] == str(len(body))
    assert "Set-Cookie" not in headers
    # Sessions marked every SCIM answer `Vary: Cookie` (the CSRF check read the session);
    # a Bearer API's answer does not vary by cookie.
    assert ("Cookie" in headers.get("Vary", "")) is not own_chain


def test_portal_pages_keep_the_full_chain(scim: Scim) -> None:
    application = wsgi_application()

    status, headers, body = _call(application, "/t/acme/login/")

    assert status == 200
    assert "hc_session_acme=" in headers["Set-Cookie"]
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Frame-Options"] == "DENY"
    assert b"csrfmiddlewaretoken" in body


def test_scim_refusals_at_the_edge_are_still_answered_and_counted(
    scim: Scim, acme: Company
) -> None:
    application = wsgi_application()

    status, headers, body = _call(
        application,
        "/t/acme/scim/v2/Users",
        "filter=userName%20eq%20%22a%00b%22",
        authorization=f"Bearer {scim.token}",
    )

    assert status == 400
    assert b'"scimType":"invalidValue"' in body.replace(b" ", b"")
    assert headers["X-Request-ID"]
    with schema_context(acme.schema_name):
        assert RequestTally.objects.filter(status=400).exists()
