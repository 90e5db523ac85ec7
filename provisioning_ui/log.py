"""The provisioning log: what the identity provider did, what failed and why, and
downloadable exports of the failures."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from directory import traffic
from directory.diagnosis import diagnose_credentials, diagnose_failure
from directory.exports import OPERATIONS, clean_criteria, export_path, export_request, ledger_events
from directory.models import LedgerExport, RequestTally
from directory.portal_selectors import (
    export_live,
    exports_live,
    ledger_event_get,
    member_conflicting,
)
from provisioning_ui.permissions import actor_label
from scim_protocol.idp import identify
from tokens.selectors import credential_get

PAGE_SIZE = 50
REFUSED_SHOWN = 20


@require_GET
@login_required
def provisioning_log(request: HttpRequest) -> HttpResponse:
    criteria = clean_criteria({"outcome": "all", **request.GET.dict()})
    page = Paginator(ledger_events(criteria), PAGE_SIZE).get_page(request.GET.get("page"))
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
            # Refused and failed requests, coalesced per minute (directory/traffic.py).
            "refused": traffic.tallies_recent(REFUSED_SHOWN),
        },
    )


# The SCIM request each ledger operation was (the ledger keeps the operation, not the line).
_METHODS = {"create": "POST", "replace": "PUT", "patch": "PATCH", "delete": "DELETE"}


@require_GET
@login_required
def log_entry(request: HttpRequest, event_id: int) -> HttpResponse:
    """One ledger row: the request, the answer, who sent it, and what to do about a failure."""
    event = ledger_event_get(event_id)
    if event is None:
        raise Http404("No such log entry.")
    path = f"/{event.resource_type}s" + (
        f"/{event.resource_id}" if event.resource_id and event.operation != "create" else ""
    )
    diagnosis = existing = None
    if event.outcome == event.Outcome.FAILED:
        diagnosis = diagnose_failure(
            status=event.status,
            scim_type=event.scim_type,
            detail=event.detail,
            resource_type=event.resource_type,
        )
        if diagnosis.kind == "uniqueness" and event.resource_type == "User":
            existing = member_conflicting(event.user_name, event.external_id)
    return render(
        request,
        "portal/log_entry.html",
        {
            "event": event,
            "method": _METHODS.get(event.operation, ""),
            "path": path,
            "idp": identify(event.idp),
            "body": json.dumps(event.request_body, indent=2, ensure_ascii=False)
            if event.request_body is not None
            else "",
            "diagnosis": diagnosis,
            "existing": existing,
        },
    )


@require_GET
@login_required
def refused_entry(request: HttpRequest, tally_id: int) -> HttpResponse:
    """One coalesced row of refused or failed requests, and what to do about it."""
    tally = traffic.tally_get(tally_id)
    if tally is None:
        raise Http404("No such log entry.")
    credential = credential_get(str(tally.credential_id)) if tally.credential_id else None
    if tally.cause in traffic.REFUSED_CREDENTIAL:
        diagnosis = diagnose_credentials(
            cause=tally.cause, credential=str(credential) if credential else ""
        )
    elif tally.cause == RequestTally.Cause.SCIM_OFF:
        diagnosis = diagnose_failure(
            status=403, scim_type="", detail=tally.detail, resource_type=""
        )
    else:
        diagnosis = diagnose_failure(
            status=tally.status,
            scim_type="",
            detail=tally.detail,
            resource_type="Group" if "/Groups" in tally.path else "User",
        )
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


@require_POST
@login_required
def export_create(request: HttpRequest) -> HttpResponse:
    criteria = clean_criteria({"outcome": "failed", **request.POST.dict()})
    export = export_request(requested_by=actor_label(request), criteria=criteria)
    return redirect(f"{reverse('provisioning_log')}?export={export.pk}#exports")


def _export_or_404(export_id: str) -> LedgerExport:
    export = export_live(export_id)
    if export is None:
        raise Http404("No such export.")
    return export


@require_GET
@login_required
def export_status(request: HttpRequest, export_id: str) -> JsonResponse:
    export = _export_or_404(export_id)
    return JsonResponse(
        {
            "status": export.status,
            "percent": export.percent,
            "rows_written": export.rows_written,
            "rows_total": export.rows_total,
            "error": export.error,
            "download_url": reverse("export_download", args=[export.pk])
            if export.status == "done"
            else None,
        }
    )


@require_GET
@login_required
def export_download(request: HttpRequest, export_id: str) -> FileResponse:
    export = _export_or_404(export_id)
    path = export_path(export)
    if export.status != LedgerExport.Status.DONE or not path.exists():
        raise Http404("This export is not ready.")
    company = request.tenant  # type: ignore[attr-defined]
    name = f"headcount-{company.slug}-failed-operations-{export.created_at:%Y%m%d-%H%M}.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="text/csv")
