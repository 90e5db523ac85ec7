"""Today's portal pages, fixed: time zones on timestamps, Failed and Deactivated told apart,
a skip link and an announced "Copied", a favicon, and an export of what is on screen."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from directory.models import LedgerExport
from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in
from tests.scim_client import PATCH_OP, Scim, okta_user

TIME_RE = re.compile(
    r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*\+00:00">'
    r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC</time>"
)


def test_timestamps_say_their_time_zone(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta"}, follow=True)

    html = browser.get("/t/acme/access/").content.decode()

    # Created (token list) and the activity trail, both with the zone and an ISO datetime.
    assert len(TIME_RE.findall(html)) >= 2
    assert not re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d<", html)


def test_failed_and_deactivated_badges_differ_in_text_and_class(acme: Company, scim: Scim) -> None:
    created = scim.post("/Users", okta_user("gone@acme.test")).json()
    scim.patch(
        f"/Users/{created['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert scim.post("/Users", okta_user("gone@acme.test")).status_code == 409
    browser = signed_in(acme)

    members = browser.get("/t/acme/members/").content.decode()
    log = browser.get("/t/acme/log/?outcome=failed").content.decode()

    assert '<span class="badge deactivated">Deactivated</span>' in members
    assert '<span class="badge failed">Failed (409)</span>' in log
    css = (Path(settings.BASE_DIR) / "static" / "css" / "portal.css").read_text()
    failed = re.search(r"\.badge\.failed \{([^}]*)\}", css)
    deactivated = re.search(r"\.badge\.deactivated \{([^}]*)\}", css)
    assert failed and deactivated and failed.group(1) != deactivated.group(1)


def test_every_portal_page_has_a_skip_link_and_a_live_region(acme: Company) -> None:
    browser = signed_in(acme)

    for path in ("/t/acme/", "/t/acme/members/", "/t/acme/access/", "/t/acme/log/"):
        html = browser.get(path).content.decode()
        assert '<a class="skip-link" href="#main">Skip to main content</a>' in html, path
        assert '<main id="main" tabindex="-1">' in html, path
        assert 'id="announcer"' in html and 'aria-live="polite"' in html, path
        assert 'rel="icon"' in html, path


def test_favicon_is_served(db: None, client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    icon = Path(settings.BASE_DIR) / "static" / "favicon.ico"
    assert icon.read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_the_export_form_carries_the_selection_on_screen_and_says_what_it_holds(
    acme: Company,
) -> None:
    browser = signed_in(acme)

    html = browser.get(
        "/t/acme/log/?outcome=all&operation=create&since=2026-11-01&until=2026-11-30"
    ).content.decode()
    posted = browser.post(
        "/t/acme/log/exports/",
        {"operation": "patch", "since": "", "until": "2026-11-30", "outcome": "failed"},
    )
    listed = browser.get(posted["Location"]).content.decode()

    form = html[html.index('id="export-form"') :]
    assert '<input type="hidden" name="operation" value="create">' in form
    assert '<input type="hidden" name="since" value="2026-11-01">' in form
    assert "failed create operations from 2026-11-01 to 2026-11-30" in form
    with schema_context(acme.schema_name):
        (export,) = LedgerExport.objects.all()
    assert export.criteria == {
        "outcome": "failed",
        "operation": "patch",
        "since": "",
        "until": "2026-11-30",
    }
    assert "failed patch operations until 2026-11-30" in listed
