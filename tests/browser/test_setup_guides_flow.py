"""A company admin follows the Okta guide and the Entra guide in a real browser against a real
server: open the guide from the Overview, copy the SCIM URL, generate the token right there,
copy it (and hear "Copied"), let the identity provider's connection test call with it, reload
(the secret is gone); then every portal page at 390 px wide, without horizontal scrolling."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live import IdP, LiveCompany, live_scim_company

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]
OWNER_PASSWORD = "Live-Owner-Pass-1"
PHONE = {"width": 390, "height": 844}
PORTAL_PAGES = [
    "/",
    "/members/",
    "/groups/",
    "/log/",
    "/log/?outcome=failed",
    "/activity/",
    "/access/",
    "/setup/okta/",
    "/setup/entra/",
    "/setup/other/",
]
# (guide link on the Overview, heading, the field that takes the SCIM base URL, token name)
GUIDES = {
    "okta": ("Okta", "Connect Okta", "SCIM connector base URL", "Okta"),
    "entra": ("Microsoft Entra ID", "Connect Microsoft Entra ID", "Tenant URL", "Entra ID"),
}


def sign_in(page: Page, portal: str) -> None:
    page.goto(f"{portal}/login/")
    page.get_by_label("Email").fill("owner@live.test")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Company menu")).to_be_visible()


def copy_and_read(page: Page, button: Any) -> str:
    page.evaluate("document.getElementById('announcer').textContent = ''")
    button.click()
    expect(page.locator("#announcer")).to_have_text("Copied")
    return str(page.evaluate("navigator.clipboard.readText()"))


def connection_test(server: str, live: LiveCompany, slug: str, token: str) -> list[int]:
    """What the IdP's own button sends (idp-flows O1 / E1), with the token just generated."""
    idp = IdP(f"{server}/t/{live.company.slug}/scim/v2", f"Bearer {token}", "x", None)
    if slug == "okta":
        calls = ["/Users?startIndex=1&count=2", "/Groups?startIndex=1&count=100"]
    else:
        missing = urllib.parse.quote(f'userName eq "{uuid.uuid4()}"')
        calls = [f"/Users?filter={missing}"]
    replies = [idp.call("GET", path) for path in calls]
    if slug == "entra" and replies[0].status == 200:
        assert replies[0].body["totalResults"] == 0
    return [reply.status for reply in replies]


@pytest.mark.parametrize("slug", list(GUIDES))
def test_admin_follows_the_guide_and_connects(
    slug: str, live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    link, heading, url_field, token_name = GUIDES[slug]
    with live_scim_company(django_db_blocker) as live:
        portal = f"{live_server_url}/t/{live.company.slug}"
        context = chromium.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server_url)
        page = context.new_page()
        try:
            sign_in(page, portal)
            page.locator("#setup-guides").get_by_role("link", name=link, exact=True).click()
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()

            # The SCIM URL, copied from the row the IdP's screen names.
            row = page.locator(f'tr[data-field="{url_field}"]').first
            copied_url = copy_and_read(page, row.get_by_role("button"))
            assert copied_url == f"{portal}/scim/v2"

            # The token, generated in the guide's own step and copied from the reveal.
            expect(page.locator("#token-form").get_by_label("Name")).to_have_value(token_name)
            page.locator("#token-form").get_by_role("button", name="Generate token").click()
            expect(page).to_have_url(f"{portal}/setup/{slug}/#reveal")
            reveal = page.locator(".reveal")
            expect(reveal).to_contain_text("Copy it now — you won't see it again.")
            shown = page.locator("#revealed-secret").inner_text().strip()
            token = copy_and_read(page, reveal.get_by_role("button", name="Copy"))
            assert token == shown and token.startswith("hct_")

            assert all(
                status == 200 for status in connection_test(live_server_url, live, slug, token)
            )
            assert connection_test(live_server_url, live, slug, token + "x")[0] == 401

            # A reload neither shows the secret again nor makes another token.
            page.reload()
            assert token not in page.content()
            expect(page.locator(".reveal")).to_have_count(0)
            page.goto(f"{portal}/access/")
            expect(page.locator(f'tr[data-token-name="{token_name}"]')).to_have_count(1)
        finally:
            context.close()


def overflow(page: Page) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def test_every_portal_page_fits_a_390_px_phone(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta SCIM Client 1.0.0")
        long_name = "a.very.long.user.name.that.does.not.wrap.easily@subsidiary.example.com"
        created = idp.call("POST", "/Users", {"userName": long_name, "title": "Engineer"})
        assert created.status == 201
        assert idp.call("POST", "/Users", {"userName": long_name}).status == 409
        group = idp.call(
            "POST",
            "/Groups",
            {"displayName": "Engineering", "members": [{"value": created.body["id"]}]},
        )
        assert group.status == 201
        portal = f"{live_server_url}/t/{live.company.slug}"
        context = chromium.new_context(viewport=PHONE)
        page = context.new_page()
        try:
            wide = {}
            for path in ("/login/", "/password-reset/"):
                page.goto(portal + path)
                if overflow(page) > PHONE["width"]:
                    wide[path] = overflow(page)
            sign_in(page, portal)
            details = [f"/members/{created.body['id']}/", f"/groups/{group.body['id']}/"]
            for path in PORTAL_PAGES + details:
                page.goto(portal + path)
                if overflow(page) > PHONE["width"]:
                    wide[path] = overflow(page)
            # A log entry's detail page, reached from the failures.
            page.goto(f"{portal}/log/?outcome=failed")
            page.locator("#log tbody tr.failed a").first.click()
            page.wait_for_url(f"{portal}/log/*/")
            if overflow(page) > PHONE["width"]:
                wide[page.url] = overflow(page)
            assert wide == {}
            # The skip link is the first stop of the keyboard and lands on the content.
            page.goto(f"{portal}/")
            page.keyboard.press("Tab")
            expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
            page.keyboard.press("Enter")
            expect(page.locator("main")).to_be_focused()
        finally:
            context.close()


# Where an element's text is drawn, and the viewport's width.
TEXT_BOX = """element => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const box = range.getBoundingClientRect();
    return {left: box.left, right: box.right, width: window.innerWidth};
}"""


def test_the_overviews_per_credential_title_is_readable_on_a_phone(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        portal = f"{live_server_url}/t/{live.company.slug}"
        context = chromium.new_context(viewport=PHONE)
        page = context.new_page()
        try:
            sign_in(page, portal)
            page.goto(f"{portal}/")
            title = page.get_by_text("Per credential", exact=True)
            expect(title).to_be_visible()
            box = title.evaluate(TEXT_BOX)
            assert box["left"] >= 0 and box["right"] <= box["width"], box
            # The table it titles still scrolls inside itself, not the page.
            assert overflow(page) <= PHONE["width"]
            expect(page.locator("#connection-credentials")).to_have_accessible_name(
                "Per credential"
            )
        finally:
            context.close()
