"""Two-phase rotation as it happens in production, against a real gunicorn server: an identity
provider keeps calling the SCIM API with the old token while a company admin rotates it in a
real browser, the IdP switches to the new token, the admin sees the old one's last use and
confirms; the old token is then refused, and no call of the IdP failed in between."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tests.live import IdP, in_thread, live_scim_company
from tokens.models import Credential

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]

OWNER_PASSWORD = "Live-Owner-Pass-1"  # tests.live.live_scim_company's owner


class BusyIdP(threading.Thread):
    """Calls the SCIM API in a loop (reads and creates, as an import does) with whichever
    token it holds now, recording every status."""

    def __init__(self, idp: IdP):
        super().__init__(daemon=True)
        self.idp = idp
        self.statuses: list[tuple[str, int]] = []
        self.stop = threading.Event()

    def use(self, token: str) -> None:
        self.idp.authorization = f"Bearer {token}"

    def calls_with(self, token: str) -> int:
        return sum(1 for used, _ in self.statuses if used == f"Bearer {token}")

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            token = self.idp.authorization
            if n % 3:
                status = self.idp.call("GET", "/Users?count=5").status
            else:
                status = self.idp.call("POST", "/Users", {"userName": f"u{n}@live.test"}).status
            self.statuses.append((token, status))
            time.sleep(0.05)


def test_rotation_keeps_the_idp_working_across_the_switch(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        portal = f"{live_server_url}/t/{live.company.slug}"
        idp = BusyIdP(IdP.bearer(live_server_url, live))
        idp.start()
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(f"{portal}/access/")
            page.get_by_label("Email").fill("owner@live.test")
            page.get_by_label("Password").fill(OWNER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Access rights")).to_be_visible()

            # Rotate: the successor is shown once, after a redirect.
            page.locator('tr[data-token-name="IdP"]').get_by_role("link", name="Rotate…").click()
            expect(page.get_by_role("heading", name="Rotate “IdP”?")).to_be_visible()
            page.get_by_role("button", name="Rotate").click()
            expect(page.get_by_text("Copy it now — you won't see it again.")).to_be_visible()
            new = page.locator("#revealed-secret").inner_text().strip()
            assert new.startswith("hct_") and new != live.bearer
            expect(page.locator("tr[data-token-retiring]")).to_contain_text("Being replaced")
            page.reload()
            assert new not in page.content()

            # Both work while the IdP is reconfigured; then it switches.
            deadline = time.monotonic() + 30
            while idp.calls_with(live.bearer) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            idp.use(new)
            while idp.calls_with(new) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)

            # The admin sees both tokens' last use, and confirms.
            page.get_by_role("link", name="Confirm: the IdP uses the new token…").click()
            expect(page.locator("#old-last-used")).not_to_have_text("Never")
            expect(page.locator("#new-last-used")).not_to_have_text("Never")
            page.get_by_role("button", name="Confirm and revoke the old token").click()
            expect(page.locator(".messages")).to_contain_text("the old token no longer works")
            expect(page.locator("#credential-activity")).to_contain_text(
                "Rotation confirmed: old token revoked"
            )
            while idp.calls_with(new) < 10 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            idp.stop.set()
            idp.join(20)
            context.close()

        failed = [(token[:19], status) for token, status in idp.statuses if status >= 400]
        assert failed == [] and idp.calls_with(new) >= 10, failed
        old_client = IdP.bearer(live_server_url, live)
        assert old_client.call("GET", "/Users").status == 401
        idp.use(new)
        assert idp.idp.call("GET", "/Users").status == 200

        def trail() -> list[str]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                old = Credential.objects.get(secret_hash__isnull=False, successor__isnull=False)
                return list(
                    old.events.order_by("created_at", "id").values_list("action", flat=True)
                )

        assert in_thread(trail) == ["created", "first_used", "rotated", "rotate_confirmed"]
