"""A background "retry all failures of this kind" in a real browser, with the real Celery
worker: the notice on the log follows the batch from queued to what came of it, without a
reload, and its link shows the retried rows."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from directory.models import ProvisioningEvent
from directory.retry import BULK_INLINE
from tests.browser.test_provisioning_log_flow import sign_in
from tests.directory.test_retry_batches import seat_failures
from tests.live import live_scim_company, on_own_connection

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]

FAILURES = BULK_INLINE + 5  # past what is retried in the request: a Celery task


def test_the_retry_notice_follows_the_batch_to_its_end_without_a_reload(
    live_server_url: str,
    celery_worker_process: Any,
    chromium: Browser,
    django_db_blocker: Any,
) -> None:
    with live_scim_company(django_db_blocker) as live:

        def failed() -> int:
            seat_failures(live.company, FAILURES)
            with schema_context(live.company.schema_name):
                newest = ProvisioningEvent.objects.latest("created_at").pk
            connection.set_schema_to_public()
            return newest

        newest = on_own_connection(django_db_blocker, failed)
        portal = f"{live_server_url}/t/{live.company.slug}"
        page = chromium.new_page()
        try:
            sign_in(page, portal)
            page.goto(f"{portal}/log/{newest}/")
            # Held until the notice has shown the batch queued: else a quick worker could
            # finish before the log renders, and there would be nothing to follow.
            os.kill(celery_worker_process.pid, signal.SIGSTOP)
            try:
                page.get_by_role(
                    "button", name=f"Retry all {FAILURES} failures of this kind (403)"
                ).click()
                notice = page.locator(".retry-batch")
                expect(notice).to_contain_text("queued, it starts in a moment.")
                # Not a live region itself: its counts change at every poll.
                assert notice.get_attribute("role") is None
                page.evaluate("window.notReloaded = true")
            finally:
                os.kill(celery_worker_process.pid, signal.SIGCONT)

            notice = page.locator(".retry-batch")
            expect(notice).to_contain_text(
                f"Retry done: {FAILURES} tried, {FAILURES} succeeded, 0 failed again.",
                timeout=15_000,
            )
            assert page.evaluate("window.notReloaded") is True
            # The end is read out once, through the page's announcer.
            expect(page.locator("#announcer")).to_contain_text(
                f"Retry done: {FAILURES} tried, {FAILURES} succeeded"
            )
            notice.get_by_role("link", name="Reload the log").click()
            expect(page.locator("#log .retried")).to_have_count(FAILURES)
            expect(page.locator(".retry-batch")).to_have_count(0)
        finally:
            page.close()
