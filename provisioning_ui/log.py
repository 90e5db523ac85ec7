"""The provisioning log: what the identity provider did, what failed and why, and
downloadable exports of the failures."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from directory.exports import OPERATIONS, clean_criteria, export_path, export_request, ledger_events
from directory.models import LedgerExport
from directory.portal_selectors import export_live, exports_live
from provisioning_ui.lifecycle import lifecycle_context
from provisioning_ui.permissions import actor_label

PAGE_SIZE = 50


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
            **lifecycle_context(request, request.tenant),  # type: ignore[attr-defined]
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
