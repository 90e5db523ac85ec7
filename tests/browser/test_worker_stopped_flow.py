"""The portal while the Celery worker is stopped (SIGSTOP: alive, connected, doing nothing, as
a hung worker is): an export says after a while that the worker has not started it and to
tell support, the page polls less and less often, and when the worker resumes the export
runs and the page shows it ready."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Request, expect

from directory.models import LedgerExport
from tests.browser.test_provisioning_log_flow import sign_in
from tests.live import in_thread, live_scim_company

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]


def test_an_export_no_worker_starts_says_so_and_runs_when_the_worker_is_back(
    live_server_url: str,
    celery_worker_process: Any,
    chromium: Browser,
    django_db_blocker: Any,
) -> None:
    with live_scim_company(django_db_blocker) as live:
        portal = f"{live_server_url}/t/{live.company.slug}"
        page = chromium.new_page()
        sign_in(page, portal)
        page.goto(f"{portal}/log/")
        polls: list[float] = []

        def counted(request: Request) -> None:
            if "/log/exports/" in request.url and request.url.endswith("/"):
                polls.append(time.monotonic())

        os.kill(celery_worker_process.pid, signal.SIGSTOP)
        try:
            page.get_by_role("button", name="Prepare CSV of failed operations").click()
            status = page.locator("#export-list .export-status").first
            expect(status).to_contain_text("Queued")

            def thirty_seconds_on() -> None:
                # The time the worker has kept it waiting, without the test waiting it out.
                with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                    LedgerExport.objects.update(
                        created_at=timezone.now() - dt.timedelta(seconds=45)
                    )

            in_thread(thirty_seconds_on)
            expect(status).to_contain_text(
                "has not started this export after 30 seconds. Tell support to check the "
                "Celery worker",
                timeout=15_000,
            )
            page.on("request", counted)
            time.sleep(10)
        finally:
            os.kill(celery_worker_process.pid, signal.SIGCONT)

        # Every second, as before, would be ten; backing off to 15 s it is one or two.
        assert len(polls) <= 3, polls
        expect(status).to_have_text("Ready (0 rows)", timeout=30_000)
        page.close()
