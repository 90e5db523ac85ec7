"""Celery tasks of the directory. They run in the schema of the company that queued them
(tenant-schemas-celery stamps it on the message); the periodic ones visit every company."""

from __future__ import annotations

from collections import Counter
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection

from directory import exports, traffic
from directory.retry import (
    ledger_retry_many,
    retry_batch_finish,
    retry_batch_progress,
    retry_batch_start,
    retry_report_send,
)
from directory.seat_check import company_seat_check
from tenants.models import Company
from tenants.periodic import for_each_company

EXPORT_WRITE_RETRIES = 5


@shared_task(
    name="directory.tasks.export_ledger",
    bind=True,
    acks_late=True,
    max_retries=EXPORT_WRITE_RETRIES,
)
def export_ledger(self: Any, export_id: str) -> int:
    """Write an export's CSV. Idempotent: a redelivered message (worker killed mid-export)
    rewrites the file from scratch. A file error (the folder unwritable, the disk full) is
    tried again with a growing delay, EXPORT_WRITE_RETRIES times; then the export is failed,
    so the portal stops waiting for it and says so."""
    try:
        return exports.export_run(export_id).rows_written
    except OSError as error:
        if self.request.retries < EXPORT_WRITE_RETRIES:
            # A network volume's hiccup passes; what does not is reported below.
            raise self.retry(exc=error, countdown=2**self.request.retries) from error
        exports.export_fail_storage(export_id, error)
        return 0
    except Exception as error:
        exports.export_fail(export_id, f"The export failed: {type(error).__name__}. Try again.")
        raise


@shared_task(name="directory.tasks.ledger_purge_all")
def ledger_purge_all() -> int:
    """Retention: drop ledger rows older than LEDGER_RETENTION_DAYS in every company."""
    days = settings.LEDGER_RETENTION_DAYS
    return sum(for_each_company(lambda _company: exports.ledger_purge(days)))


@shared_task(name="directory.tasks.request_tallies_purge_all")
def request_tallies_purge_all() -> int:
    """Retention: drop refused/failed request tallies older than REQUEST_TALLY_RETENTION_DAYS
    in every company."""
    days = settings.REQUEST_TALLY_RETENTION_DAYS
    return sum(for_each_company(lambda _company: traffic.tallies_purge(days)))


@shared_task(name="directory.tasks.exports_purge_all")
def exports_purge_all() -> dict[str, int]:
    """Expire old exports and re-queue stuck ones, in every company."""
    totals: Counter[str] = Counter()
    for counts in for_each_company(lambda _company: exports.exports_maintain()):
        totals.update(counts)
    return {"expired": 0, "requeued": 0, **totals}


# The name is the one beat rows and queued messages know from before the task moved here.
@shared_task(name="tenants.tasks.seat_check_all")
def seat_check_all() -> dict[str, int]:
    """Run the seat check for every company; returns how many are at each level."""
    return dict(Counter(for_each_company(company_seat_check)))


@shared_task(name="directory.tasks.ledger_retry_batch", acks_late=True)
def ledger_retry_batch(
    event_ids: list[int], actor: str, batch_id: str | None = None
) -> dict[str, int]:
    """ "Retry all failures of this kind" when there are many (directory/retry.py), in the
    schema of the company that queued it; e-mails the report to `actor`. A redelivered
    message retries nothing twice: a row retried successfully is refused the second time.
    `batch_id` names its RetryBatch (messages queued before there were any carry none):
    progress goes there, and a batch finished or replaced meanwhile is not run."""
    company = Company.objects.get(schema_name=connection.schema_name)  # type: ignore[attr-defined]
    if batch_id is not None and not retry_batch_start(batch_id):
        return {}
    try:
        report = ledger_retry_many(
            company=company,
            event_ids=event_ids,
            actor=actor,
            progress=(lambda counts: retry_batch_progress(batch_id, counts)) if batch_id else None,
        )
    except Exception:
        # An unfinished batch would refuse every later click of its kind.
        if batch_id is not None:
            retry_batch_finish(batch_id, None)
        raise
    if batch_id is not None:
        retry_batch_finish(batch_id, report)
    retry_report_send(company, actor, report)
    return report.as_dict()


@shared_task(name="directory.tasks.waitlist_drain")
def waitlist_drain_task(schema_name: str) -> int:
    """Provision the waiting people that fit but were not provisioned in the transaction that
    freed their seats (more than one batch); queues itself again while more fit."""
    from django_tenants.utils import schema_context

    from directory.services import waitlist_drain_now
    from tenants.models import Company

    company = Company.objects.get(schema_name=schema_name)
    with schema_context(schema_name):
        return waitlist_drain_now(company)
