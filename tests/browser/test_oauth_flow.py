"""The OAuth 2.0 connection end to end, as Okta's "Authenticate with Headcount" runs it:
a real gunicorn server, a real HTTP client playing the identity provider (with its own
callback server for the redirect), and a company admin in headless Chromium.

authorize redirect → sign in → Deny (access_denied) → Approve → code exchanged at the token
endpoint → SCIM call succeeds → token refreshed → Disconnect on Access rights → SCIM 401."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django_tenants.utils import schema_context
from oauth2_provider.models import Application
from playwright.sync_api import Browser, Page, expect

from tenants.models import Company
from tests.browser.test_access_rights_flow import _artifacts, sign_in
from tests.conftest import TEST_PASSWORD
from tests.live import IdP, committed_company, in_thread
from tokens.models import Credential, OAuthToken

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]

CLIENT_SECRET = "okta-live-client-secret-0123456789abcdefghijklmnop"


@dataclass
class Callback:
    """The identity provider's redirect URI: a loopback server recording what arrives."""

    url: str
    received: list[dict[str, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def next(self) -> dict[str, str]:
        assert self.arrived.wait(15), "the browser never reached the redirect URI"
        self.arrived.clear()
        return self.received[-1]


@pytest.fixture
def callback() -> Iterator[Callback]:
    holder: dict[str, Callback] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/oauth/callback":  # the browser's favicon request, say
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            query = parse_qs(parts.query)
            holder["cb"].received.append({key: values[0] for key, values in query.items()})
            holder["cb"].arrived.set()
            body = b"<!doctype html><title>IdP</title><p>Back at the identity provider.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["cb"] = Callback(f"http://127.0.0.1:{server.server_address[1]}/oauth/callback")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["cb"]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Scene:
    company: Company
    client_id: str


@pytest.fixture
def scene(django_db_blocker: Any, callback: Callback) -> Iterator[Scene]:
    """A committed company (SCIM on, an owner) and the Okta client support registered."""
    client_id = f"okta-{uuid.uuid4().hex[:8]}"
    company_cm = committed_company(
        scim_enabled=True, admin_email="owner@live.test", admin_password=TEST_PASSWORD
    )

    def arrange() -> Company:
        with django_db_blocker.unblock():
            Application.objects.create(
                name="Okta",
                client_id=client_id,
                client_secret=CLIENT_SECRET,
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris=callback.url,
            )
            return company_cm.__enter__()

    def clean_up() -> None:
        with django_db_blocker.unblock():
            company_cm.__exit__(None, None, None)
            Application.objects.filter(client_id=client_id).delete()

    company = in_thread(arrange)
    try:
        yield Scene(company=company, client_id=client_id)
    finally:
        in_thread(clean_up)


def http_call(
    url: str, method: str = "GET", form: dict[str, str] | None = None, auth: str | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request, redirects not followed, as an identity provider's HTTP client sends it."""
    parts = urlsplit(url)
    headers = {"Accept": "application/json", "User-Agent": "Okta SCIM Client 1.0.0"}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth:
        headers["Authorization"] = auth
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
        response = conn.getresponse()
        raw = response.read()
        content_type = response.getheader("Content-Type") or ""
        parsed = json.loads(raw) if raw and "json" in content_type else raw.decode()
        return response.status, dict(response.getheaders()), parsed
    finally:
        conn.close()


def test_identity_provider_connects_with_oauth_and_is_disconnected(
    live_server_url: str,
    chromium: Browser,
    scene: Scene,
    callback: Callback,
    django_db_blocker: Any,
) -> None:
    slug = scene.company.slug
    oauth = f"{live_server_url}/t/{slug}/oauth"
    client_auth = (
        "Basic " + base64.b64encode(f"{scene.client_id}:{CLIENT_SECRET}".encode()).decode()
    )
    authorize_url = f"{oauth}/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": scene.client_id,
            "redirect_uri": callback.url,
            "scope": "scim",
            "state": "okta-state-1",
        }
    )

    def token(**form: str) -> tuple[int, Any]:
        status, headers, body = http_call(f"{oauth}/token", "POST", form, client_auth)
        assert headers.get("Cache-Control") == "no-store" or status != 200
        return status, body

    def scim(access_token: str) -> int:
        idp = IdP(
            f"{live_server_url}/t/{slug}/scim/v2",
            f"Bearer {access_token}",
            "Okta SCIM Client 1.0.0",
            "application/scim+json",
        )
        return idp.call("GET", "/Users?startIndex=1&count=2").status

    # The IdP discovers the endpoints and sends the admin's browser to authorize; signed out,
    # that is the company's login page.
    status, _, document = http_call(f"{oauth}/.well-known/oauth-authorization-server")
    assert status == 200 and document["authorization_endpoint"] == f"{oauth}/authorize"
    status, headers, _ = http_call(authorize_url)
    assert status == 302 and urlsplit(headers["Location"]).path == f"/t/{slug}/login/"

    context = chromium.new_context()
    try:
        page: Page = context.new_page()
        sign_in(page, authorize_url, "owner@live.test")

        # First the admin denies: the IdP hears access_denied, with its state.
        expect(page.get_by_role("heading", name=f"Connect Okta to {scene.company.name}?"))
        expect(page.locator("#consent-access")).to_contain_text("SCIM provisioning")
        page.get_by_role("button", name="Deny").click()
        denied = callback.next()
        assert denied["error"] == "access_denied" and denied["state"] == "okta-state-1"
        assert "code" not in denied

        # Then approves: a code arrives at the redirect URI.
        page.goto(authorize_url)
        page.get_by_role("button", name="Approve").click()
        approved = callback.next()
        assert approved["state"] == "okta-state-1" and approved["code"]
        expect(page.get_by_text("Back at the identity provider.")).to_be_visible()

        # The IdP exchanges the code and provisions.
        status, tokens = token(
            grant_type="authorization_code", code=approved["code"], redirect_uri=callback.url
        )
        assert status == 200, tokens
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
        assert scim(tokens["access_token"]) == 200

        # A spent code is refused.
        status, again = token(
            grant_type="authorization_code", code=approved["code"], redirect_uri=callback.url
        )
        assert status == 400 and again["error"] == "invalid_grant"

        # The reuse revoked that connection (RFC 6749 §4.1.2); connect again and refresh.
        assert scim(tokens["access_token"]) == 401
        page.goto(authorize_url)
        page.get_by_role("button", name="Approve").click()
        status, tokens = token(
            grant_type="authorization_code", code=callback.next()["code"], redirect_uri=callback.url
        )
        assert status == 200
        status, refreshed = token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert status == 200, refreshed
        assert scim(refreshed["access_token"]) == 200
        assert scim(tokens["access_token"]) == 401

        # The admin disconnects it on Access rights; the next SCIM call is refused.
        page.goto(f"{live_server_url}/t/{slug}/access/")
        row = page.locator('tr[data-oauth-client="Okta"][data-oauth-status="connected"]')
        expect(row).to_contain_text("owner@live.test")
        row.get_by_role("link", name="Disconnect…").click()
        page.get_by_role("button", name="Disconnect").click()
        expect(page.locator(".messages")).to_contain_text("disconnected")
        expect(page.locator('tr[data-oauth-status="connected"]')).to_have_count(0)
        page.screenshot(path=str(_artifacts() / "oauth-connections.png"), full_page=True)
        assert scim(refreshed["access_token"]) == 401
        status, body = token(grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
        assert status == 400 and body["error"] == "invalid_grant"
    finally:
        context.close()

    def stored() -> list[OAuthToken]:
        with django_db_blocker.unblock(), schema_context(scene.company.schema_name):
            assert not Credential.objects.filter(
                kind=Credential.Kind.OAUTH, revoked_at__isnull=True
            ).exists()
            return list(OAuthToken.objects.all())

    rows = in_thread(stored)
    assert rows and all(row.revoked_at is not None for row in rows)
    assert refreshed["access_token"] not in repr([vars(row) for row in rows])
