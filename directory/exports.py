"""Downloadable exports of the provisioning ledger (failed operations by default). A Celery
task writes the CSV in constant memory; only the company's own admins can download it."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from directory.models import LedgerExport, ProvisioningEvent, RetryBatch
from directory.selectors import parse_member_id

logger = logging.getLogger(__name__)

OPERATIONS = ("create", "replace", "patch", "delete")
CSV_COLUMNS = (
    "time",
    "operation",
    "resource_type",
    "resource_id",
    "user_name",
    "external_id",
    "display_name",
    "http_status",
    "scim_type",
    "error",
    "identity_provider",
    "request_id",
)
PROGRESS_EVERY = 1000
FORMULA_TRIGGERS = frozenset("=+-@\t\r|%")


def clean_criteria(raw: dict[str, Any]) -> dict[str, str]:
    """The selection from a form or query string, with anything unknown dropped."""
    outcome = raw.get("outcome") if raw.get("outcome") in ("failed", "warned", "all") else "failed"
    operation = str(raw.get("operation")) if raw.get("operation") in OPERATIONS else ""
    criteria = {"outcome": str(outcome), "operation": operation, "since": "", "until": ""}
    # One member's or group's history (the links on their pages).
    resource = parse_member_id(str(raw.get("resource") or ""))
    if resource is not None:
        criteria["resource"] = str(resource)
    for key in ("since", "until"):
        try:
            criteria[key] = dt.date.fromisoformat(str(raw.get(key) or "")).isoformat()
        except ValueError:
            criteria[key] = ""
    return criteria


class ExportRefused(Exception):
    """The selection cannot be exported; the message says why, for the company's admin."""


def export_criteria(raw: dict[str, Any]) -> dict[str, str]:
    """clean_criteria for an export, refusing what the log's filters pass over: a date that
    does not parse (dropped, it would export every date) and From after To (an empty file).
    Raises ExportRefused."""
    for key, label in (("since", "From"), ("until", "To")):
        value = str(raw.get(key) or "").strip()
        try:
            if value:
                dt.date.fromisoformat(value)
        except ValueError:
            raise ExportRefused(
                f"“{label}” is not a date: “{value[:40]}”. Use the form YYYY-MM-DD, or leave "
                "it empty for no limit."
            ) from None
    criteria = clean_criteria(raw)
    if criteria["since"] and criteria["until"] and criteria["since"] > criteria["until"]:
        raise ExportRefused(
            f"“From” ({criteria['since']}) is after “To” ({criteria['until']}), so no "
            "failure could be in the file. Swap the dates, or clear one of them."
        )
    return criteria


def ledger_events(criteria: dict[str, str]) -> QuerySet[ProvisioningEvent]:
    """Ledger rows matching the selection, newest first (indexed on outcome and time)."""
    events = ProvisioningEvent.objects.all()
    if criteria.get("outcome", "failed") == "failed":
        events = events.filter(outcome=ProvisioningEvent.Outcome.FAILED)
    elif criteria.get("outcome") == "warned":
        # Writes that succeeded but left values out (a partial index holds only those).
        events = events.filter(warnings__isnull=False)
    if criteria.get("operation"):
        events = events.filter(operation=criteria["operation"])
    if criteria.get("resource"):
        events = events.filter(resource_id=criteria["resource"])
    if criteria.get("since"):
        events = events.filter(created_at__date__gte=criteria["since"])
    if criteria.get("until"):
        events = events.filter(created_at__date__lte=criteria["until"])
    return events.order_by("-created_at", "-id")


def export_request(*, requested_by: str, criteria: dict[str, str]) -> LedgerExport:
    """Record an export and queue its task once the transaction commits. A broker outage does
    not fail the request: the export stays queued and the hourly maintenance re-queues it."""
    export = LedgerExport.objects.create(
        requested_by=requested_by,
        criteria=criteria,
        expires_at=timezone.now() + dt.timedelta(hours=settings.EXPORT_TTL_HOURS),
    )
    transaction.on_commit(lambda: enqueue_export(export.pk))
    return export


def enqueue_export(export_id: Any) -> bool:
    from directory.tasks import export_ledger

    try:
        export_ledger.delay(str(export_id))
    except Exception:
        logger.warning(
            "Export %s could not be queued (broker unavailable); it will be retried.",
            export_id,
            exc_info=True,
        )
        return False
    return True


def export_path(export: LedgerExport) -> Path:
    """Where the file of `export` lives: one folder per company schema, so a file can only be
    reached through its own company's database row."""
    return Path(settings.EXPORT_ROOT) / connection.schema_name / f"{export.pk}.csv"  # type: ignore[attr-defined]


def _cell(value: Any) -> str:
    """`value` as the text of a CSV cell that a spreadsheet shows as text, never runs.

    OWASP's CSV injection guidance: a cell starting with = + - @ TAB or CR is read as a
    formula, | and % start DDE and macro references in some spreadsheets; such a cell gets a
    leading single quote. Spreadsheets skip leading whitespace before a formula, so a
    trigger behind spaces or line breaks counts too."""
    text = "" if value is None else str(value)
    if text[:1] in FORMULA_TRIGGERS or text.lstrip()[:1] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def export_run(export_id: str) -> LedgerExport:
    """Write the CSV of an export, from scratch (so a retried task is harmless). Streams the
    rows with a server-side cursor: memory stays flat whatever the row count."""
    export = LedgerExport.objects.get(pk=export_id)
    if export.status == LedgerExport.Status.DONE:
        return export
    events = ledger_events(export.criteria)
    total = events.count()
    LedgerExport.objects.filter(pk=export.pk).update(
        status=LedgerExport.Status.RUNNING, rows_total=total, rows_written=0
    )
    path = export_path(export)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One partial file per attempt: a redelivered task may overlap a slow first attempt.
    partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
    written = 0
    rows = events.values_list(
        "created_at",
        "operation",
        "resource_type",
        "resource_id",
        "user_name",
        "external_id",
        "display_name",
        "status",
        "scim_type",
        "detail",
        "idp",
        "request_id",
    )
    with partial.open("w", newline="", encoding="utf-8") as handle:
        # Every cell quoted, as OWASP advises: a cell is one field whatever it holds.
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(CSV_COLUMNS)
        for row in rows.iterator(chunk_size=2000):
            created_at, *rest = row
            writer.writerow([_cell(created_at.isoformat()), *(_cell(value) for value in rest)])
            written += 1
            if written % PROGRESS_EVERY == 0:
                LedgerExport.objects.filter(pk=export.pk).update(rows_written=written)
    os.replace(partial, path)
    LedgerExport.objects.filter(pk=export.pk).update(
        status=LedgerExport.Status.DONE,
        rows_written=written,
        file_name=path.name,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export


def export_fail(export_id: str, error: str) -> None:
    LedgerExport.objects.filter(pk=export_id).update(
        status=LedgerExport.Status.FAILED, error=error[:500]
    )


STORAGE_ERROR = "Could not write the file; tell support."


def export_fail_storage(export_id: str, error: OSError) -> None:
    """Fail an export whose file could not be written even after retries: the portal shows
    the admin a sentence to pass on, the log tells support what to fix (it names the path)."""
    logger.error(
        "Export %s of %s could not be written: %s. Check that EXPORT_ROOT (%s) is a folder "
        "the worker can write to, on a volume with free space, shared with the web processes.",
        export_id,
        connection.schema_name,  # type: ignore[attr-defined]
        error,
        settings.EXPORT_ROOT,
    )
    export_fail(export_id, STORAGE_ERROR)


# An expired export's row outlives its file this long, so its link says when it expired
# instead of "No such export".
EXPIRED_KEPT = dt.timedelta(days=7)


def exports_maintain() -> dict[str, int]:
    """Hourly, per company: delete the files of expired exports, and their rows a week later;
    re-queue exports stuck in the queue (their message was lost, e.g. the broker was down)."""
    now = timezone.now()
    expired = list(
        LedgerExport.objects.filter(expires_at__lte=now).exclude(status=LedgerExport.Status.EXPIRED)
    )
    for export in expired:
        path = export_path(export)
        path.unlink(missing_ok=True)
        # Partial files left by attempts whose worker was killed.
        for leftover in path.parent.glob(f"{path.stem}.*.part"):
            leftover.unlink(missing_ok=True)
    LedgerExport.objects.filter(pk__in=[e.pk for e in expired]).update(
        status=LedgerExport.Status.EXPIRED, file_name=""
    )
    LedgerExport.objects.filter(expires_at__lte=now - EXPIRED_KEPT).delete()
    stuck = LedgerExport.objects.filter(
        status=LedgerExport.Status.QUEUED, created_at__lte=now - dt.timedelta(minutes=2)
    )
    requeued = sum(enqueue_export(export_id) for export_id in stuck.values_list("pk", flat=True))
    return {"expired": len(expired), "requeued": requeued}


def ledger_purge(retention_days: int) -> int:
    """Delete ledger rows older than the retention period, and the finished "Retry all"
    batches of that age (their failures are among the rows); returns how many ledger rows."""
    cutoff = timezone.now() - dt.timedelta(days=retention_days)
    deleted, _ = ProvisioningEvent.objects.filter(created_at__lt=cutoff).delete()
    RetryBatch.objects.filter(finished_at__lt=cutoff).delete()
    return deleted
