"""Production settings: Django's deployment checklist is clean, and behind TLS the portal
sends HSTS and secure cookies (the server started with the environment production uses)."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.live import ROOT, gunicorn_server, live_scim_company, process_env

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3Jq9v-production-like-secret-with-enough-entropy-0123456789abcdefXYZ",
    "SECURE_PROXY": "true",
    "ALLOWED_HOSTS": "127.0.0.1,headcount.example.com",
    "OAUTH_ALLOW_HTTP_REDIRECTS": "0",
}


def test_the_deployment_checklist_is_clean_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            key: value
            for key, value in process_env(**PRODUCTION).items()
            # Set by the browser tests for this process; never in a deployment.
            if key != "DJANGO_ALLOW_ASYNC_UNSAFE"
        },
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _get(base: str, path: str, **headers: str) -> http.client.HTTPResponse:
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=15)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.live
@pytest.mark.django_db
def test_behind_tls_the_portal_sends_hsts_and_secure_cookies(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    with (
        gunicorn_server(tmp_path, **PRODUCTION) as base,
        live_scim_company(django_db_blocker) as live,
    ):
        login = f"/t/{live.company.slug}/login/"
        secure = _get(base, login, **{"X-Forwarded-Proto": "https"})
        plain = _get(base, login)
        health = _get(base, "/healthz")

    assert secure.status == 200
    assert secure.getheader("Strict-Transport-Security") == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert "frame-ancestors 'none'" in (secure.getheader("Content-Security-Policy") or "")
    cookie = secure.getheader("Set-Cookie") or ""
    assert cookie.startswith(f"hc_session_{live.company.slug}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", f"Path=/t/{live.company.slug}/"):
        assert attribute in cookie
    # Plain HTTP is sent to HTTPS, except the load balancer's health check.
    assert plain.status == 301
    assert plain.getheader("Location") == f"https://{urlsplit(base).netloc}{login}"
    assert health.status == 200
