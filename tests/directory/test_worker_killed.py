"""A worker killed in the middle of an export (SIGKILL: no goodbye, no acknowledgement): the
export is not lost. Its message goes back to the queue once the visibility timeout passes,
another worker runs it from scratch, and the file holds every row exactly once.

The workers here consume a queue of their own, so the suite's shared worker cannot take the
task, and use a 5-second visibility timeout instead of production's 15 minutes.
"""

from __future__ import annotations

import csv
import datetime as dt
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.exports import export_path
from directory.models import LedgerExport
from directory.tasks import export_ledger
from tests.live import celery_worker, in_thread, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]

QUEUE = "kill-test"
ROWS = 300_000
WORKER = {"CELERY_VISIBILITY_TIMEOUT": "5"}


def wait_for(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_an_export_survives_its_worker_being_killed(django_db_blocker: Any, tmp_path: Path) -> None:
    with live_scim_company(django_db_blocker) as live:
        schema = live.company.schema_name

        def arrange() -> str:
            with django_db_blocker.unblock(), schema_context(schema):
                with connection.cursor() as cursor:
                    # Failed provisioning operations, as many as a big company's bad week.
                    cursor.execute(
                        """
                        INSERT INTO directory_provisioningevent
                            (created_at, operation, resource_type, user_name, external_id,
                             display_name, outcome, status, scim_type, detail, idp,
                             credential, request_id)
                        SELECT now() - make_interval(secs => n), 'create', 'User',
                               'user' || n || '@example.com', '', '', 'failed', 409,
                               'uniqueness', 'userName is taken', 'Okta', 'IdP', 'req-' || n
                        FROM generate_series(1, %s) AS n
                        """,
                        [ROWS],
                    )
                export = LedgerExport.objects.create(
                    requested_by="owner@live.test",
                    criteria={},
                    expires_at=timezone.now() + dt.timedelta(days=1),
                )
                return str(export.pk)

        export_id = in_thread(arrange)

        def state() -> tuple[str, int]:
            with django_db_blocker.unblock(), schema_context(schema):
                export = LedgerExport.objects.get(pk=export_id)
                return export.status, export.rows_written

        for name in ("first", "second"):
            (tmp_path / name).mkdir()

        def queue_export() -> None:
            with django_db_blocker.unblock(), schema_context(schema):
                # After the worker is up: it purges its queue when it starts.
                export_ledger.apply_async(args=[export_id], queue=QUEUE)

        with celery_worker(tmp_path / "first", "-Q", QUEUE, **WORKER) as first:
            in_thread(queue_export)
            wait_for(lambda: in_thread(state)[1] >= 5_000, "the first worker to get going")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        status, written = in_thread(state)
        assert status == LedgerExport.Status.RUNNING and written < ROWS
        # The replacement comes up once the message's visibility timeout has run out (a new
        # worker scans for such messages when it starts, then every few polls).
        time.sleep(int(WORKER["CELERY_VISIBILITY_TIMEOUT"]) + 1)

        with celery_worker(tmp_path / "second", "-Q", QUEUE, **WORKER):
            wait_for(lambda: in_thread(state)[0] == LedgerExport.Status.DONE, "the retry")

        def file_rows() -> list[list[str]]:
            with django_db_blocker.unblock(), schema_context(schema):
                path = export_path(LedgerExport.objects.get(pk=export_id))
            with path.open(newline="", encoding="utf-8") as handle:
                return list(csv.reader(handle))

        rows = in_thread(file_rows)
        final = in_thread(state)

    assert final == (LedgerExport.Status.DONE, ROWS)
    request_ids = [row[-1] for row in rows[1:]]
    assert len(request_ids) == ROWS == len(set(request_ids))
