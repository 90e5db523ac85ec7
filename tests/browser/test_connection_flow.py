"""A company's IT admin watches and understands the connection, in Chromium against a real
gunicorn server: Not connected yet → Healthy (Okta named) → Credentials rejected (the refused
request in the log with its request id) → a seat-limit failure explained → Test connection
passing, then failing while SCIM is switched off."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from tenants.models import Company
from tests.browser.test_provisioning_log_flow import sign_in
from tests.live import IdP, in_thread, live_scim_company
from tokens.models import Credential
from tokens.services import credential_revoke, token_issue

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]
OKTA = "Okta SCIM Client 1.0.0"
# Successes reach the Overview through each server process's counter, sent every few
# seconds (infra/usage.py): reload until then.
SETTLE_SECONDS = 20


def overview_says(page: Page, portal: str, text: str) -> None:
    page.goto(f"{portal}/")
    state = page.locator("#connection-state")
    for _ in range(SETTLE_SECONDS * 2):
        if text in state.inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(state).to_contain_text(text)


def test_the_admin_watches_the_connection_turn_healthy_rejected_and_tests_it(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        company = live.company
        portal = f"{live_server_url}/t/{company.slug}"
        page = chromium.new_context().new_page()
        sign_in(page, portal)

        expect(page.locator("#connection-state")).to_contain_text("Not connected yet")

        # The identity provider's first calls, as Okta makes them.
        okta = IdP.bearer(live_server_url, live, OKTA)
        assert okta.call("GET", "/ServiceProviderConfig").status == 200
        assert okta.call("GET", '/Users?filter=userName%20eq%20"ada@live.test"').status == 200
        assert okta.call("POST", "/Users", {"userName": "ada@live.test"}).status == 201
        # "Healthy" shows at the first request; the caller's name arrives with the success
        # counts, a few seconds later.
        overview_says(page, portal, "Okta is calling")
        expect(page.locator("#connection-state")).to_contain_text("Healthy")
        expect(page.locator("#connection-idp")).to_have_text("Okta")

        def revoke() -> None:
            with django_db_blocker.unblock(), schema_context(company.schema_name):
                token = Credential.objects.get(name="IdP")
                credential_revoke(credential_id=str(token.pk), actor="tests")

        in_thread(revoke)
        refused = okta.call("GET", "/Users?count=1")
        assert refused.status == 401
        overview_says(page, portal, "Credentials rejected")
        expect(page.locator("#refused-credential")).to_contain_text("revoked")

        page.get_by_role("link", name="See the refused requests").click()
        expect(page.locator("#refused-list")).to_contain_text(refused.headers["X-Request-ID"])
        page.locator("#refused-list").get_by_role("link", name="Revoked credential (401)").click()
        expect(page.locator("#diagnosis")).to_contain_text("Generate a new token")

        # A seat-limit failure, with a new token, explained in its log entry.
        def full_with_new_token() -> str:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=company.pk).update(seat_limit=1)
                with schema_context(company.schema_name):
                    return token_issue(company=company, name="Okta 2", actor="tests").secret

        secret = in_thread(full_with_new_token)
        base = f"{live_server_url}/t/{company.slug}/scim/v2"
        okta2 = IdP(base, f"Bearer {secret}", OKTA, "application/scim+json")
        assert okta2.call("POST", "/Users", {"userName": "bob@live.test"}).status == 403
        page.goto(f"{portal}/log/?outcome=failed")
        page.locator("#log").get_by_role("link", name="Failed (403)").click()
        expect(page.locator("#diagnosis")).to_contain_text("Seat limit reached")
        expect(page.locator("#fix")).to_contain_text("ask Headcount support to raise")

        page.goto(f"{portal}/")
        expect(page.locator("#seat-warning")).to_contain_text("Seat limit reached")
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#scorecard-verdict")).to_contain_text("Passed")
        expect(page.locator("#scorecard tbody tr.succeeded")).to_have_count(6)

        def switch_off() -> None:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=company.pk).update(scim_enabled=False)

        in_thread(switch_off)
        page.get_by_role("button", name="Test again").click()
        expect(page.locator("#scorecard-verdict")).to_contain_text("Failed")
        expect(page.locator("#scorecard")).to_contain_text("403")
        expect(page.locator("#scorecard")).to_contain_text(
            "Only Headcount support can switch SCIM provisioning on"
        )
        page.goto(f"{portal}/")
        expect(page.locator("#connection-state")).to_contain_text("SCIM switched off")
