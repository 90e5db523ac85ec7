"""The whole Access rights story in a real browser against a real server:
sign in, see the notice while SCIM is off, support switches it on, generate a token, copy it,
call the SCIM API with it, revoke it, call again, reload: the secret is gone for good."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from tenants.models import Company
from tests.conftest import TEST_PASSWORD
from tests.live import committed_company, in_thread
from tokens.models import Credential

# django_db (not transactional: a flush would empty the shared tables) makes pytest-django set
# up the test database even when only these tests run; the data they need is committed by
# other threads, outside the test's transaction.
pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]


def scim_status(url: str, token: str | None) -> int:
    request = urllib.request.Request(url, headers={"Accept": "application/scim+json"})  # noqa: S310
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@dataclass
class Scene:
    company: Company
    support_email: str


@pytest.fixture
def scene(django_db_blocker: Any) -> Iterator[Scene]:
    """A committed company with SCIM off and its owner, and a support superuser. Playwright's
    event loop runs in this thread, so database work happens in another one."""
    support_email = f"support-{uuid.uuid4().hex[:6]}@vendor.test"
    company_cm = committed_company(
        scim_enabled=False, admin_email="owner@live.test", admin_password=TEST_PASSWORD
    )

    def arrange() -> Company:
        with django_db_blocker.unblock():
            User.objects.create_superuser(support_email, TEST_PASSWORD)
            return company_cm.__enter__()

    def clean_up() -> None:
        with django_db_blocker.unblock():
            company_cm.__exit__(None, None, None)
            with schema_context("public"):
                User.objects.filter(email=support_email).delete()

    company = in_thread(arrange)
    try:
        yield Scene(company=company, support_email=support_email)
    finally:
        in_thread(clean_up)


def test_company_admin_generates_uses_and_revokes_a_token(
    live_server_url: str, chromium: Browser, scene: Scene, django_db_blocker: Any
) -> None:
    company, support_email = scene.company, scene.support_email
    portal = f"{live_server_url}/t/{company.slug}"
    scim_url = f"{portal}/scim/v2/ServiceProviderConfig"
    admin_context = chromium.new_context()
    support_context = chromium.new_context()
    try:
        admin_context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=live_server_url
        )
        page = admin_context.new_page()

        # The company admin signs in; SCIM is not active yet.
        sign_in(page, f"{portal}/access/", "owner@live.test")
        expect(page.get_by_role("heading", name="Access rights")).to_be_visible()
        expect(page.locator("#scim-inactive")).to_contain_text("Contact support to activate it.")
        expect(page.get_by_role("button", name="Generate token")).to_be_disabled()
        expect(page.locator("#scim-base-url")).to_have_text(f"{portal}/scim/v2")

        # Support switches SCIM on in the Django admin.
        support_page = support_context.new_page()
        support_page.goto(f"{live_server_url}/admin/login/")
        support_page.get_by_label("Email address").fill(support_email)
        support_page.get_by_label("Password").fill(TEST_PASSWORD)
        support_page.get_by_role("button", name="Log in").click()
        support_page.goto(f"{live_server_url}/admin/tenants/company/?q={company.slug}")
        support_page.get_by_role("link", name=company.name).click()
        support_page.get_by_label("SCIM provisioning").check()
        support_page.get_by_role("button", name="Save", exact=True).click()
        expect(support_page.locator(".messagelist")).to_contain_text("was changed successfully")

        # The admin reloads, generates a token and copies it.
        page.reload()
        expect(page.locator("#scim-inactive")).to_have_count(0)
        page.locator("#token-form").get_by_label("Name").fill("Okta production")
        page.locator("#token-form").get_by_label("Note").fill("US org")
        page.get_by_role("button", name="Generate token").click()
        expect(page.get_by_text("Copy it now — you won't see it again.")).to_be_visible()
        shown = page.locator("#revealed-secret").inner_text().strip()
        page.locator(".reveal").get_by_role("button", name="Copy").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == shown and shown.startswith("hct_")

        # The identity provider calls SCIM with it.
        assert scim_status(scim_url, None) == 401
        assert scim_status(scim_url, copied) == 200

        # Revoke, with confirmation; the very next call is refused.
        page.goto(f"{portal}/access/")
        page.locator('tr[data-token-name="Okta production"]').get_by_role(
            "link", name="Revoke…"
        ).click()
        page.get_by_role("button", name="Revoke").click()
        expect(page.locator(".messages")).to_contain_text("revoked. It no longer works.")
        expect(page.locator('tr[data-token-name="Okta production"]')).to_contain_text("Revoked")
        assert scim_status(scim_url, copied) == 401

        # Reloading or going back never shows the secret again.
        page.reload()
        assert copied not in page.content()
        page.screenshot(path=str(_artifacts() / "access-rights.png"), full_page=True)
        page.go_back()
        assert copied not in page.content()
    finally:
        admin_context.close()
        support_context.close()

    def stored_credential() -> Credential:
        with django_db_blocker.unblock(), schema_context(company.schema_name):
            return Credential.objects.get(name="Okta production")

    stored = in_thread(stored_credential)
    assert stored.status == Credential.Status.REVOKED
    assert copied not in str(vars(stored))


def _artifacts():  # type: ignore[no-untyped-def]
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ".data" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
