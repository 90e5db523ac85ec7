"""Exports in a real Celery worker (not eager) when things go wrong around it: a file that
cannot be written ends the export as failed, with a sentence for the admin and a log line for
support, instead of leaving it "Running" until it expires."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.exports import STORAGE_ERROR
from directory.models import LedgerExport
from directory.tasks import EXPORT_WRITE_RETRIES, export_ledger
from tests.live import in_thread, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]


def worker_log(base: Path) -> str:
    """This session's shared worker's log (conftest's celery_worker_process)."""
    logs = sorted(base.glob("worker*/worker.log"))
    return logs[-1].read_text() if logs else ""


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_an_export_whose_file_cannot_be_written_fails_after_its_last_retry(
    celery_worker_process: Any,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with live_scim_company(django_db_blocker) as live:
        schema = live.company.schema_name
        # A file where the company's export folder should be: every attempt's mkdir fails.
        blocker = Path(settings.EXPORT_ROOT) / schema
        blocker.write_text("not a folder")

        def arrange() -> str:
            with django_db_blocker.unblock(), schema_context(schema):
                export = LedgerExport.objects.create(
                    requested_by="owner@live.test",
                    criteria={},
                    expires_at=timezone.now() + dt.timedelta(hours=1),
                )
                # The message of the last attempt, as the fifth retry sends it: the earlier
                # ones only wait (1 + 2 + 4 + 8 + 16 s) before failing the same way.
                export_ledger.apply_async(args=[str(export.pk)], retries=EXPORT_WRITE_RETRIES)
                return str(export.pk)

        export_id = in_thread(arrange)

        def export() -> LedgerExport:
            with django_db_blocker.unblock(), schema_context(schema):
                return LedgerExport.objects.get(pk=export_id)

        try:
            wait_for(lambda: in_thread(export).status == LedgerExport.Status.FAILED, "failure")
        finally:
            blocker.unlink()
        failed = in_thread(export)

    assert failed.error == STORAGE_ERROR
    log = worker_log(tmp_path_factory.getbasetemp())
    assert f"Export {export_id} of {schema} could not be written" in log
    assert "Check that EXPORT_ROOT" in log
