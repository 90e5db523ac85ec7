"""Background jobs no worker has started: the portal says so after WORKER_WAIT_WARN_SECONDS,
from the job's own age (no worker ping), with what to tell support."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import LedgerExport
from tenants.models import Company
from tests.conftest import max_queries
from tests.provisioning_ui.test_access_rights import signed_in

WAITING = "Waiting for the background worker: it has not started this export after 30 seconds."


def queued_export(company: Company, age_seconds: float) -> LedgerExport:
    with schema_context(company.schema_name):
        export = LedgerExport.objects.create(
            requested_by="ada@acme.test",
            criteria={"outcome": "failed"},
            expires_at=timezone.now() + dt.timedelta(hours=1),
        )
        created_at = timezone.now() - dt.timedelta(seconds=age_seconds)
        LedgerExport.objects.filter(pk=export.pk).update(created_at=created_at)
        export.refresh_from_db()
        return export


def test_an_export_queued_past_the_threshold_says_the_worker_has_not_started_it(
    acme: Company,
) -> None:
    browser = signed_in(acme)
    waiting = queued_export(acme, age_seconds=31)
    fresh = queued_export(acme, age_seconds=5)

    with max_queries(4):  # routing, the session, the login, the export: as before
        late = browser.get(f"/t/acme/log/exports/{waiting.pk}/").json()
    early = browser.get(f"/t/acme/log/exports/{fresh.pk}/").json()
    page = browser.get("/t/acme/log/").content.decode()

    assert late["status"] == "queued"
    assert late["waiting_for_worker"].startswith(WAITING)
    assert "Tell support to check the Celery worker" in late["waiting_for_worker"]
    assert early["waiting_for_worker"] is None
    assert page.count(WAITING) == 1  # the waiting one; the fresh one reads "Queued… 0%"
    assert "Queued… 0%" in page


def test_a_running_export_is_not_said_to_wait_for_a_worker(acme: Company) -> None:
    browser = signed_in(acme)
    export = queued_export(acme, age_seconds=600)
    with schema_context(acme.schema_name):
        LedgerExport.objects.filter(pk=export.pk).update(status=LedgerExport.Status.RUNNING)

    data = browser.get(f"/t/acme/log/exports/{export.pk}/").json()

    assert data["waiting_for_worker"] is None
