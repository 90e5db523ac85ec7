""" "Retry all failures of this kind" with more failures than a request should replay: they
are retried by a real Celery worker (not eager), which reports how many succeeded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.models import User
from directory.models import Member, ProvisioningEvent, RetryBatch
from directory.retry import BULK_INLINE, RetryBatchRunning, ledger_retry_kind
from tenants.models import Company
from tests.live import IdP, in_thread, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]

FAILURES = BULK_INLINE + 5


def worker_log(base: Path) -> str:
    """This session's worker's log (conftest's celery_worker_process writes it under the
    session's temporary folder): never another pytest run's on the same machine."""
    logs = sorted(base.glob("worker*/worker.log"))
    return logs[-1].read_text() if logs else ""


def test_many_seat_limit_failures_are_retried_in_the_worker(
    live_server_url: str,
    celery_worker_process: Any,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.getbasetemp()
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live)

        def full() -> None:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=live.company.pk).update(seat_limit=0)

        in_thread(full)
        for i in range(FAILURES):
            assert idp.call("POST", "/Users", {"userName": f"w{i}@live.test"}).status == 403

        def raise_and_retry() -> tuple[int, Any]:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=live.company.pk).update(seat_limit=FAILURES - 2)
                company = Company.objects.get(pk=live.company.pk)
                with schema_context(company.schema_name), transaction.atomic():
                    owner = User.objects.get(email="owner@live.test")
                    return ledger_retry_kind(
                        company=company, status=403, scim_type="", actor=owner.email
                    )

        chosen, report = in_thread(raise_and_retry)
        assert (chosen, report) == (FAILURES, None)
        # Clicked again while the worker is at it: refused, nothing replayed twice.
        with pytest.raises(RetryBatchRunning):
            in_thread(raise_and_retry)

        def retried() -> tuple[int, int]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                retries = ProvisioningEvent.objects.filter(retry_of__isnull=False)
                return retries.count(), Member.objects.count()

        deadline = time.monotonic() + 90
        while in_thread(retried)[0] < FAILURES:
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not retry in time:\n{worker_log(base)[-3000:]}")
            time.sleep(0.2)
        report_line = f"{{'succeeded': {FAILURES - 2}, 'failed': 2, 'refused': 0}}"
        deadline = time.monotonic() + 30
        while report_line not in worker_log(base) and time.monotonic() < deadline:
            time.sleep(0.2)

        assert in_thread(retried) == (FAILURES, FAILURES - 2)

        def batch() -> tuple[bool, int, int, int]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                row = RetryBatch.objects.get()
                return row.finished_at is not None, row.succeeded, row.failed, row.refused

        assert in_thread(batch) == (True, FAILURES - 2, 2, 0)
        log = worker_log(base)
        assert report_line in log, log[-3000:]
        assert f"retry of {FAILURES} failed requests at {live.company.name}" in log
        assert "owner@live.test" in log
