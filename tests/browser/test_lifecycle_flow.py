"""The seat waitlist and the deprovisioning brake as a company owner meets them in the portal:
dropping someone from the waitlist, and releasing a tripped brake so the identity provider's
retries go through. Real server, real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tenants.models import Company
from tests.browser.test_provisioning_log_flow import sign_in
from tests.live import IdP, in_thread, live_scim_company
from tests.scim_client import PATCH_OP

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]
DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


def test_owner_drops_from_the_waitlist_and_releases_the_brake(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        company_id = live.company.pk

        def settings(**fields: Any) -> None:
            def update() -> None:
                with django_db_blocker.unblock():
                    Company.objects.filter(pk=company_id).update(**fields)

            in_thread(update)

        idp = IdP.bearer(live_server_url, live, "Okta SCIM Client 1.0.0")
        settings(seat_limit=2, deprovision_brake_minimum=1, deprovision_brake_percent=1)
        first = idp.call("POST", "/Users", {"userName": "first@live.test"}).body["id"]
        second = idp.call("POST", "/Users", {"userName": "second@live.test"}).body["id"]
        for name in ("wait1@live.test", "wait2@live.test"):
            assert idp.call("POST", "/Users", {"userName": name}).status == 403
        portal = f"{live_server_url}/t/{live.company.slug}"
        page = chromium.new_page()
        sign_in(page, portal)

        waitlist = page.locator("#waitlist")
        expect(waitlist).to_contain_text("2 people could not be created")
        waitlist.get_by_role("button", name="Drop wait1@live.test from the waitlist").click()

        expect(page.locator(".messages")).to_contain_text("wait1@live.test was dropped")
        expect(page.locator("#waitlist-entries tbody tr")).to_have_count(1)
        expect(page.locator("#waitlist")).to_contain_text("wait2@live.test")

        # One deactivation is allowed (it gives wait2 the seat); the next is held.
        assert idp.call("PATCH", f"/Users/{first}", DEACTIVATE).status == 200
        held = idp.call("PATCH", f"/Users/{second}", DEACTIVATE)
        assert held.status == 503 and held.headers.get("Retry-After")
        page.goto(f"{portal}/")

        paused = page.locator("#deprovisioning-paused")
        expect(paused).to_contain_text("Deprovisioning paused")
        expect(paused.locator("#held-requests")).to_contain_text("second@live.test")
        expect(page.locator("#waitlist")).to_have_count(0)  # wait2 got the freed seat
        paused.get_by_role("button", name="Release the brake").click()

        expect(page.locator(".messages")).to_contain_text("Deprovisioning released")
        expect(page.locator("#deprovisioning-paused")).to_have_count(0)
        assert idp.call("PATCH", f"/Users/{second}", DEACTIVATE).status == 200
        page.close()
