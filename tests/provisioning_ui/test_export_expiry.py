"""An expired export's link says it expired, and when (410), where a made-up one is 404; the
hourly maintenance deletes its file at once and its row a week later."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import schema_context

from directory.exports import export_path, exports_maintain
from directory.models import LedgerExport
from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in

EXPIRED_AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)


def export_expired_at(company: Company, when: dt.datetime) -> LedgerExport:
    with schema_context(company.schema_name):
        export = LedgerExport.objects.create(
            requested_by="ada@acme.test",
            criteria={"outcome": "failed"},
            status=LedgerExport.Status.DONE,
            file_name="x.csv",
            expires_at=when,
        )
        path = export_path(export)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("time\n")
        return export


def test_an_expired_export_says_when_it_expired_and_a_made_up_one_is_404(
    acme: Company,
) -> None:
    browser = signed_in(acme)
    export = export_expired_at(acme, EXPIRED_AT)
    said = (
        "This export expired on 2026-12-06 at 09:30 UTC: files are kept for 24 hours. "
        "Prepare a new one from the provisioning log."
    )

    status = browser.get(f"/t/acme/log/exports/{export.pk}/")
    download = browser.get(f"/t/acme/log/exports/{export.pk}/download/")
    made_up = browser.get("/t/acme/log/exports/6f1c0e4e-2f43-4d0c-9a39-6a8c1e0f2b11/download/")

    assert (status.status_code, status.json()) == (410, {"status": "expired", "error": said})
    assert (download.status_code, download.content.decode()) == (410, said)
    assert made_up.status_code == 404


def test_maintenance_deletes_the_file_now_and_the_row_a_week_later(acme: Company) -> None:
    recent = export_expired_at(acme, timezone.now() - dt.timedelta(hours=1))
    old = export_expired_at(acme, timezone.now() - dt.timedelta(days=8))
    with schema_context(acme.schema_name):
        recent_file: Path = export_path(recent)

        counts = exports_maintain()

        assert counts["expired"] == 2
        assert not recent_file.exists()
        assert list(LedgerExport.objects.values_list("pk", "status")) == [
            (recent.pk, LedgerExport.Status.EXPIRED)
        ]
        assert not LedgerExport.objects.filter(pk=old.pk).exists()
        assert exports_maintain()["expired"] == 0  # once per export
