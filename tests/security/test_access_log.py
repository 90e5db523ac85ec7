"""A token sent in the URL is refused and never written to a log. RFC 6750 allows
`?access_token=`, but URLs end up in access logs, proxies and browser history: the SCIM API
refuses it with a 401 that says to use the Authorization header, and the access log (gunicorn)
and our own request logging (runserver's `django.server`) redact secrets in query strings."""

from __future__ import annotations

import http.client
import io
import logging
import secrets as random_secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from config.access_log import redact
from tests.live import gunicorn_server

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def test_a_token_in_the_query_string_is_refused_with_advice(acme: Any, scim: Any) -> None:
    alone = Client().get(f"/t/acme/scim/v2/Users?access_token={scim.token}")
    # The right header does not make the leaked URL acceptable.
    beside_the_header = scim.get(f"/Users?access_token={scim.token}")
    header_only = scim.get("/Users")

    for response in (alone, beside_the_header):
        body = response.json()
        assert response.status_code == 401
        assert body["schemas"] == [SCIM_ERROR]
        assert body["status"] == "401"
        assert "Authorization header" in body["detail"]
        assert scim.token not in body["detail"]
    assert header_only.status_code == 200


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        (
            "GET /t/acme/scim/v2/Users?access_token=hct_s3cr3t&count=10 HTTP/1.1",
            "/t/acme/scim/v2/Users?access_token=[redacted]&count=10",
            "s3cr3t",
        ),
        ("/t/a/oauth/authorize?code=abc123&state=xyz", "state=xyz", "abc123"),
        ("?client_secret=pw1;refresh_token=rt2", "client_secret=[redacted]", "pw1"),
        ("?refresh_token=rt2&password=pw3", "refresh_token=[redacted]", "pw3"),
        ("?q=hco_leakedvalue1234", "q=hco_[redacted]", "leakedvalue1234"),
        ("/t/a/members/?q=smith&page=2", "/t/a/members/?q=smith&page=2", "[redacted]"),
    ],
)
def test_redact_keeps_the_url_and_drops_secret_values(line: str, kept: str, gone: str) -> None:
    redacted = redact(line)

    assert kept in redacted
    assert gone not in redacted


def test_our_own_request_logging_redacts_query_strings(settings: Any) -> None:
    # runserver logs each request line through `django.server` (make run).
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(_configured_filter(settings))
    logger = logging.getLogger("django.server")
    logger.addHandler(handler)
    try:
        logger.warning(
            '"%s" %s %s', "GET /t/acme/scim/v2/Users?access_token=hct_xyz HTTP/1.1", 401, 5
        )
    finally:
        logger.removeHandler(handler)

    assert "hct_xyz" not in stream.getvalue()
    assert "access_token=[redacted]" in stream.getvalue()


def _configured_filter(settings: Any) -> logging.Filter:
    """The filter the console handler of settings.LOGGING carries (every log line goes there)."""
    filters = settings.LOGGING["handlers"]["console"]["filters"]
    spec = settings.LOGGING["filters"][filters[0]]
    module, _, name = spec["()"].rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)()


@pytest.mark.live
@pytest.mark.django_db
def test_the_access_log_never_holds_a_secret_from_the_url(tmp_path: Path) -> None:
    token = "hct_" + random_secrets.token_urlsafe(30)
    code = random_secrets.token_hex(16)
    with gunicorn_server(tmp_path, GUNICORN_CMD_ARGS="--access-logfile -") as base:
        url = urlsplit(base)
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=15)
        connection.request("GET", f"/t/acme/scim/v2/Users?access_token={token}&count=1")
        response = connection.getresponse()
        body = response.read().decode()
        connection.request("GET", f"/t/acme/oauth/authorize?client_id=okta&code={code}")
        connection.getresponse().read()
        connection.close()

    log = (tmp_path / "gunicorn.log").read_text()
    assert response.status == 401
    assert "Authorization header" in body
    assert "/t/acme/scim/v2/Users?access_token=[redacted]&count=1" in log
    assert "/t/acme/oauth/authorize?client_id=okta&code=[redacted]" in log
    assert token not in log and token[4:] not in log
    assert code not in log
