"""An export that expires while its page polls it: the poller says so, and when, instead of
stopping without a word."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from directory.models import LedgerExport
from tests.browser.test_provisioning_log_flow import sign_in
from tests.live import in_thread, live_scim_company

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]


def test_the_poller_says_an_export_expired_and_stops(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        schema = live.company.schema_name

        def queued() -> None:
            # A row no message was sent for: it stays queued while the page polls it.
            with django_db_blocker.unblock(), schema_context(schema):
                LedgerExport.objects.create(
                    requested_by="owner@live.test",
                    criteria={"outcome": "failed"},
                    expires_at=timezone.now() + dt.timedelta(hours=1),
                )

        def expire() -> None:
            with django_db_blocker.unblock(), schema_context(schema):
                LedgerExport.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))

        in_thread(queued)
        page = chromium.new_page()
        sign_in(page, f"{live_server_url}/t/{live.company.slug}")
        page.goto(f"{live_server_url}/t/{live.company.slug}/log/")
        status = page.locator("#export-list .export-status").first
        expect(status).to_contain_text("Queued")

        in_thread(expire)

        expect(status).to_contain_text("This export expired on", timeout=15_000)
        expect(status).to_contain_text("Prepare a new one from the provisioning log.")
        page.close()
