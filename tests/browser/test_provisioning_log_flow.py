"""The provisioning log and "Download failed operations" as a company admin uses them, with
a real Celery worker on the real Redis broker writing the CSV."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live import IdP, live_scim_company

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]
OWNER_PASSWORD = "Live-Owner-Pass-1"


def sign_in(page: Page, portal: str) -> None:
    page.goto(f"{portal}/login/")
    page.get_by_label("Email").fill("owner@live.test")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_admin_downloads_the_failed_operations(
    live_server_url: str,
    celery_worker_process: Any,
    chromium: Browser,
    django_db_blocker: Any,
    tmp_path: Path,
) -> None:
    with (
        live_scim_company(django_db_blocker) as acme,
        live_scim_company(django_db_blocker) as other,
    ):
        portal = f"{live_server_url}/t/{acme.company.slug}"
        idp = IdP.bearer(live_server_url, acme, "Okta SCIM Client 1.0.0")
        assert idp.call("POST", "/Users", {"userName": "ok@live.test"}).status == 201
        assert idp.call("POST", "/Users", {"userName": "ok@live.test"}).status == 409
        assert (
            idp.call(
                "POST",
                "/Users",
                {
                    "userName": "lang@live.test",
                    "active": "maybe",
                    "password": "hunter2",
                },
            ).status
            == 400
        )
        # A value with no one meaning is left out: the user is created, with a warning.
        assert (
            idp.call(
                "POST",
                "/Users",
                {
                    "userName": "far@live.test",
                    "addresses": [{"type": "work", "country": "Atlantis", "locality": "Ys"}],
                },
            ).status
            == 201
        )
        assert (
            idp.call(
                "PATCH",
                f"/Users/{uuid.uuid4()}",
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                },
            ).status
            == 404
        )

        context = chromium.new_context(accept_downloads=True)
        page = context.new_page()
        sign_in(page, portal)
        page.goto(f"{portal}/log/?outcome=failed")
        expect(page.locator("#log tbody tr")).to_have_count(3)
        expect(page.locator("#log")).to_contain_text(
            'A user with userName "ok@live.test" already exists.'
        )

        page.goto(f"{portal}/log/")
        warned = page.locator("#log tbody tr.warned")
        expect(warned).to_have_count(1)
        expect(warned).to_contain_text("far@live.test")
        expect(warned.locator(".badge.warn")).to_have_text("Warning")
        expect(warned).to_contain_text(
            'addresses[type eq "work"].country: “Atlantis” was left out. Not a country we recognise'
        )
        page.locator('select[name="outcome"]').select_option("warned")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#log tbody tr")).to_have_count(1)
        expect(page.locator("#log tbody tr.warned")).to_contain_text("far@live.test")
        page.goto(f"{portal}/log/?outcome=failed")

        page.get_by_role("button", name="Prepare CSV of failed operations").click()
        link = page.locator("#export-list").get_by_role("link", name="Download CSV")
        expect(link).to_be_visible(timeout=30_000)
        page.screenshot(
            path=str(
                Path(__file__).resolve().parents[2]
                / ".data"
                / "screenshots"
                / "provisioning-log.png"
            ),
            full_page=True,
        )
        with page.expect_download() as download_info:
            link.click()
        saved = tmp_path / "export.csv"
        download_info.value.save_as(saved)
        download_url = link.get_attribute("href") or ""

        with saved.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [
            (r["operation"], r["user_name"], r["http_status"], r["scim_type"]) for r in rows
        ] == [
            ("patch", "", "404", ""),
            ("create", "lang@live.test", "400", "invalidValue"),
            ("create", "ok@live.test", "409", "uniqueness"),
        ]
        assert all(r["identity_provider"] == "Okta SCIM Client 1.0.0" for r in rows)
        assert "hunter2" not in saved.read_text()

        # A guessed export id, and this export asked for at another company, are 404s.
        guessed = page.request.get(f"{portal}/log/exports/{uuid.uuid4()}/download/")
        assert guessed.status == 404
        other_context = chromium.new_context()
        other_page = other_context.new_page()
        other_portal = f"{live_server_url}/t/{other.company.slug}"
        sign_in(other_page, other_portal)
        export_id = download_url.rstrip("/").split("/")[-2]
        assert (
            other_page.request.get(f"{other_portal}/log/exports/{export_id}/download/").status
            == 404
        )
        assert other_page.request.get(f"{other_portal}/log/exports/{export_id}/").status == 404
        context.close()
        other_context.close()
