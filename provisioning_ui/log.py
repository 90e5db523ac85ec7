"""The provisioning log: what the identity provider did, what failed and why, and
downloadable exports of the failures."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from directory import traffic
from directory.diagnosis import (
    READ_ONLY,
    Diagnosis,
    diagnose_credentials,
    diagnose_failure,
    diagnose_scim_off,
)
from directory.exports import (
    OPERATIONS,
    ExportRefused,
    clean_criteria,
    export_criteria,
    export_path,
    export_request,
    ledger_events,
)
from directory.models import LedgerExport, ProvisioningEvent, RequestTally
from directory.portal_selectors import export_get, exports_live, member_conflicting
from directory.retry import (
    BULK_LIMIT,
    RetryBatchRunning,
    RetryRefused,
    ledger_retry,
    ledger_retry_kind,
    log_entry,
    retry_batch_get,
    retry_batches_running,
    retry_id,
    with_retry_state,
)
from provisioning_ui.lifecycle import lifecycle_context
from provisioning_ui.permissions import actor_label
from scim_protocol.idp import identify
from tokens.models import Credential
from tokens.selectors import credential_get

PAGE_SIZE = 50
REFUSED_SHOWN = 20


def worker_waiting_notice(job: str) -> str:
    """What a job queued past WORKER_WAIT_WARN_SECONDS says (LedgerExport.waiting_for_worker):
    who can fix it, and that nothing is lost meanwhile."""
    return (
        f"Waiting for the background worker: it has not started this {job} after "
        f"{settings.WORKER_WAIT_WARN_SECONDS} seconds. Tell support to check the Celery "
        f"worker; the {job} runs once it is back."
    )


@require_GET
@login_required
def provisioning_log(request: HttpRequest) -> HttpResponse:
    criteria = clean_criteria({"outcome": "all", **request.GET.dict()})
    page = Paginator(with_retry_state(ledger_events(criteria)), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    exports = exports_live()
    return render(
        request,
        "portal/provisioning_log.html",
        {
            "page": page,
            "criteria": criteria,
            "operations": OPERATIONS,
            "exports": exports,
            "query": request.GET.urlencode(),
            "can_retry": request.user.can_manage_credentials,  # type: ignore[union-attr]
            **lifecycle_context(request, request.tenant),  # type: ignore[attr-defined]
            # Refused and failed requests, coalesced per minute (directory/traffic.py).
            "refused": [
                (tally, _cause_title(tally)) for tally in traffic.tallies_recent(REFUSED_SHOWN)
            ],
            "export_waiting_notice": worker_waiting_notice("export"),
            "retry_batches": retry_batches_running(),
            "retry_waiting_notice": worker_waiting_notice("retry"),
        },
    )


@require_POST
@login_required
def export_create(request: HttpRequest) -> HttpResponse:
    raw = {"outcome": "failed", **request.POST.dict()}
    try:
        criteria = export_criteria(raw)
    except ExportRefused as refusal:
        messages.error(request, f"No export prepared: {refusal}")
        # Back to the selection as sent, so what to correct is on screen.
        keep = {key: str(raw.get(key) or "") for key in ("operation", "since", "until")}
        return redirect(f"{reverse('provisioning_log')}?{urlencode(keep)}#exports")
    export = export_request(requested_by=actor_label(request), criteria=criteria)
    # Back to the same selection: the log shows what the file will hold.
    query = urlencode({**criteria, "export": export.pk})
    return redirect(f"{reverse('provisioning_log')}?{query}#exports")


class ExportGone(Exception):
    """The export expired: its file is deleted. The message says when, for the admin."""


def _export_or_404(export_id: str) -> LedgerExport:
    """The export, unless unknown (404) or expired (ExportGone, which the views answer 410)."""
    export = export_get(export_id)
    if export is None:
        raise Http404("No such export.")
    if export.expires_at <= timezone.now():
        raise ExportGone(
            f"This export expired on {export.expires_at:%Y-%m-%d at %H:%M} UTC: files are kept "
            f"for {settings.EXPORT_TTL_HOURS} hours. Prepare a new one from the provisioning log."
        )
    return export


@require_GET
@login_required
def export_status(request: HttpRequest, export_id: str) -> JsonResponse:
    try:
        export = _export_or_404(export_id)
    except ExportGone as gone:
        return JsonResponse({"status": "expired", "error": str(gone)}, status=410)
    return JsonResponse(
        {
            "status": export.status,
            "percent": export.percent,
            "rows_written": export.rows_written,
            "rows_total": export.rows_total,
            "error": export.error,
            # The poller shows it and slows down: polling does not bring a worker back.
            "waiting_for_worker": worker_waiting_notice("export")
            if export.waiting_for_worker
            else None,
            "download_url": reverse("export_download", args=[export.pk])
            if export.status == "done"
            else None,
        }
    )


@require_GET
@login_required
def export_download(request: HttpRequest, export_id: str) -> HttpResponseBase:
    try:
        export = _export_or_404(export_id)
    except ExportGone as gone:
        return HttpResponse(str(gone), status=410, content_type="text/plain; charset=utf-8")
    path = export_path(export)
    if export.status != LedgerExport.Status.DONE or not path.exists():
        raise Http404("This export is not ready.")
    company = request.tenant  # type: ignore[attr-defined]
    name = f"headcount-{company.slug}-failed-operations-{export.created_at:%Y%m%d-%H%M}.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="text/csv")


# --- Retry from the log (directory/retry.py) ---------------------------------------------------


def _require_retry_role(request: HttpRequest) -> None:
    if not request.user.can_manage_credentials:  # type: ignore[union-attr]
        raise PermissionDenied("Only owners and admins can retry requests.")


@require_GET
@login_required
def log_entry_view(request: HttpRequest, event_id: str) -> HttpResponse:
    number = retry_id(event_id)
    entry = log_entry(number) if number is not None else None
    if entry is None:
        raise Http404("No such log entry.")
    return render(
        request,
        "portal/log_entry.html",
        {
            "entry": entry,
            "can_retry": request.user.can_manage_credentials,  # type: ignore[union-attr]
            "bulk_limit": BULK_LIMIT,
            "retry_waiting_notice": worker_waiting_notice("retry"),
            **_explained(entry.event),
        },
    )


# The SCIM request each ledger operation was (the ledger keeps the operation, not the line).
_METHODS = {"create": "POST", "replace": "PUT", "patch": "PATCH", "delete": "DELETE"}


def _explained(event: ProvisioningEvent) -> dict[str, object]:
    """What the entry's page says beyond the row: the request line, the IdP by name, and
    for a failure what to do about it (directory/diagnosis.py), with the existing user a
    create collided with."""
    path = f"/{event.resource_type}s" + (
        f"/{event.resource_id}" if event.resource_id and event.operation != "create" else ""
    )
    diagnosis = existing = None
    if event.outcome == ProvisioningEvent.Outcome.FAILED:
        diagnosis = diagnose_failure(
            status=event.status,
            scim_type=event.scim_type,
            detail=event.detail,
            resource_type=event.resource_type,
        )
        if diagnosis.kind == "uniqueness" and event.resource_type == "User":
            existing = member_conflicting(event.user_name, event.external_id)
    return {
        "request_line": f"{_METHODS.get(event.operation, '')} {path}",
        "idp": identify(event.idp),
        "diagnosis": diagnosis,
        "existing": existing,
    }


@require_POST
@login_required
def log_entry_retry(request: HttpRequest, event_id: str) -> HttpResponse:
    _require_retry_role(request)
    number = retry_id(event_id)
    if number is None:
        raise Http404("No such log entry.")
    try:
        result = ledger_retry(
            company=request.tenant,  # type: ignore[attr-defined]
            event_id=number,
            actor=actor_label(request),
            request_id=getattr(request, "request_id", ""),
        )
    except ProvisioningEvent.DoesNotExist:
        raise Http404("No such log entry.") from None
    except RetryRefused as refusal:
        messages.error(request, f"Not retried: {refusal}")
        return redirect("log_entry", event_id=number)
    if result.succeeded:
        messages.success(request, "Retried: it succeeded this time.")
    else:
        messages.error(
            request,
            f"Retried, and it failed again ({result.outcome.status}): {result.outcome.detail}",
        )
    return redirect("log_entry", event_id=number)


@require_POST
@login_required
def log_retry_kind(request: HttpRequest) -> HttpResponse:
    _require_retry_role(request)
    status = retry_id(request.POST.get("status"))
    if status is None or status > 599:
        messages.error(request, "Choose a kind of failure to retry.")
        return redirect("provisioning_log")
    scim_type = str(request.POST.get("scim_type", ""))[:32]
    try:
        chosen, report = ledger_retry_kind(
            company=request.tenant,  # type: ignore[attr-defined]
            status=status,
            scim_type=scim_type,
            actor=actor_label(request),
            request_id=getattr(request, "request_id", ""),
        )
    except RetryBatchRunning as running:
        # No counts here: the notice below keeps them live, and this message would go stale.
        messages.info(
            request,
            f"A retry of these failures, asked by {running.batch.requested_by}, is already "
            "under way. Nothing was added; its progress is shown below.",
        )
        return redirect(f"{reverse('provisioning_log')}?outcome=all")
    if chosen == 0:
        messages.info(request, "No failures of this kind are waiting to be retried.")
    elif report is None:
        messages.success(
            request,
            f"Retrying {chosen:,} failed requests in the background. Each retry appears in the "
            "log; you will get an e-mail with how many succeeded.",
        )
    else:
        messages.success(
            request,
            f"Retried {report.tried}: {report.succeeded} succeeded, {report.failed} failed "
            f"again, {report.refused} could not be retried.",
        )
    return redirect(f"{reverse('provisioning_log')}?outcome=all")


@require_GET
@login_required
def retry_batch_status(request: HttpRequest, batch_id: str) -> JsonResponse:
    """A background retry's progress for static/js/retry_batches.js. Whoever sees the log
    sees its notice, so no retry role is needed to follow it."""
    batch = retry_batch_get(batch_id)
    if batch is None:
        raise Http404("No such retry.")
    # The page's own partial, so the sentence cannot drift between the page and the poller.
    notice = render_to_string(
        "portal/_retry_batch_notice.html",
        {"batch": batch, "retry_waiting_notice": worker_waiting_notice("retry")},
    )
    return JsonResponse(
        {
            "state": batch.state,
            "total": batch.total,
            "tried": batch.tried,
            "succeeded": batch.succeeded,
            "failed": batch.failed,
            "refused": batch.refused,
            # The poller slows down: polling does not bring a worker back.
            "waiting_for_worker": batch.waiting_for_worker,
            "notice": notice,
        }
    )


def _read_only_write(tally: RequestTally, credential: Credential | None) -> str:
    """For a 403 recorded before the refusal's code was kept: the read-only code when the
    credential is a read-only token and the request a write, which is all a read-only token
    is refused for; else nothing, and the page says it does not know which rule refused."""
    writes = tally.method not in ("GET", "HEAD") and not tally.path.endswith("/.search")
    if tally.status == 403 and credential is not None and credential.is_read_only and writes:
        return READ_ONLY
    return ""


def tally_diagnosis(tally: RequestTally, credential: Credential | None = None) -> Diagnosis:
    """What a row of refused or failed requests means, as its detail page and the log's list
    name it. Without `credential` (the list, which reads no credential per row) a 403 recorded
    before its code was kept is not guessed to be a read-only token's."""
    if tally.cause in traffic.REFUSED_CREDENTIAL:
        return diagnose_credentials(
            cause=tally.cause, credential=str(credential) if credential else ""
        )
    if tally.cause == RequestTally.Cause.SCIM_OFF:
        return diagnose_scim_off(tally.detail, code=tally.error_code)
    return diagnose_failure(
        status=tally.status,
        scim_type="",
        detail=tally.detail,
        resource_type="Group" if "/Groups" in tally.path else "User",
        code=tally.error_code or _read_only_write(tally, credential),
    )


def _cause_title(tally: RequestTally) -> str:
    """The list's words for a row: its credential refusal as recorded, anything else named
    by its diagnosis ("Seat limit reached", "Deprovisioning paused"), as its page names it."""
    if tally.cause in traffic.REFUSED_CREDENTIAL:
        return tally.get_cause_display()
    return tally_diagnosis(tally).title


@require_GET
@login_required
def refused_entry(request: HttpRequest, tally_id: int) -> HttpResponse:
    """One coalesced row of refused or failed requests, and what to do about it."""
    tally = traffic.tally_get(tally_id)
    if tally is None:
        raise Http404("No such log entry.")
    credential = credential_get(str(tally.credential_id)) if tally.credential_id else None
    diagnosis = tally_diagnosis(tally, credential)
    return render(
        request,
        "portal/refused_entry.html",
        {
            "tally": tally,
            "credential": credential,
            "idp": identify(tally.idp),
            "diagnosis": diagnosis,
        },
    )
