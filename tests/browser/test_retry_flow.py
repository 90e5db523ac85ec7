"""Retry from the log in a real browser against a real server: an identity provider's creates
fail on the seat limit, support raises it, the company admin retries one from its log entry,
then all the others of that kind at once; the log links each retry and its failure."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tenants.models import Company
from tests.live import IdP, in_thread, live_scim_company

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]

OWNER_PASSWORD = "Live-Owner-Pass-1"  # tests.live.live_scim_company's owner


def test_an_admin_retries_seat_limit_failures_from_the_log(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:

        def seat_limit(limit: int) -> None:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=live.company.pk).update(seat_limit=limit)

        in_thread(lambda: seat_limit(0))
        idp = IdP.bearer(live_server_url, live)
        for name in ("ann", "bob", "cy"):
            reply = idp.call("POST", "/Users", {"userName": f"{name}@live.test", "password": "pw"})
            assert reply.status == 403
        portal = f"{live_server_url}/t/{live.company.slug}"
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(f"{portal}/log/?outcome=failed")
            page.get_by_label("Email").fill("owner@live.test")
            page.get_by_label("Password").fill(OWNER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{portal}/log/?outcome=failed")
            expect(page.locator("#log tr.failed")).to_have_count(3)

            # Too early: the retry fails again, and says so.
            page.locator("#log tr.failed", has_text="ann@live.test").get_by_role(
                "link", name="Retry…"
            ).click()
            expect(page.locator("#entry-request")).to_contain_text("ann@live.test")
            expect(page.locator("#entry-request")).not_to_contain_text("password")
            page.get_by_role("button", name="Retry this request").click()
            expect(page.locator(".messages")).to_contain_text("failed again (403)")

            # Support raises the limit; the retry succeeds and is listed on the entry.
            in_thread(lambda: seat_limit(10))
            page.get_by_role("button", name="Retry this request").click()
            expect(page.locator(".messages")).to_contain_text("it succeeded this time")
            expect(page.locator("#entry-retries tr.succeeded")).to_have_count(1)
            expect(page.locator("#retry-refusal")).to_contain_text("retried successfully")

            # The others of the same kind, at once.
            page.get_by_role("button", name="Retry all 2 failures of this kind (403)").click()
            expect(page.locator(".messages")).to_contain_text(
                "Retried 2: 2 succeeded, 0 failed again, 0 could not be retried."
            )
            expect(page.locator("#log .retried")).to_have_count(3)
            expect(page.locator("#log .retry-of")).to_have_count(4)
            page.locator("#log tr.succeeded .retry-of").first.click()
            expect(page.locator("#entry-outcome")).to_contain_text("Failed (403)")
        finally:
            context.close()

        found = idp.call("GET", "/Users?filter=userName%20eq%20%22cy%40live.test%22")
        assert found.body["totalResults"] == 1
