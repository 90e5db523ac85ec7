"""The tour: screenshots of every portal page at desktop and phone width, into docs/tour/, and
docs/tour.md showing them. Not part of the suite (the file name doesn't match test_*.py):
`make tour` runs it against a real server and Debian's Chromium, like the browser tests.

To add a page: add a TourPage to PAGES (and, if it needs data, to `arrange`); run `make tour`;
commit docs/tour/ and docs/tour.md.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page

from directory.models import ProvisioningEvent
from tenants.models import Company
from tenants.services import InitialAdmin, company_create
from tests.live import IdP, gunicorn_server, in_thread
from tokens.services import token_issue

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
TOUR_DIR = ROOT / "docs" / "tour"
TOUR_DOC = ROOT / "docs" / "tour.md"
WIDTHS = (1280, 390)
SLUG, NAME = "northwind", "Northwind Traders"
# The URLs the pages show are a real deployment's, not the test server's random port.
PUBLIC_BASE_URL = "https://headcount.example.com"
OWNER, PASSWORD = "it-admin@northwind.example", "Tour-Owner-Pass-1"


@dataclass(frozen=True)
class Data:
    """Ids the page paths need, from the data `arrange` sent over SCIM."""

    member_id: str
    group_id: str
    failure_id: str = ""


@dataclass(frozen=True)
class TourPage:
    name: str  # file name stem: docs/tour/<name>-<width>.png
    title: str
    path: Callable[[Data], str]  # below /t/<slug>
    caption: str
    signed_in: bool = True


PAGES = [
    TourPage("sign-in", "Sign in", lambda d: "/login/", "Each company has its own portal and sign-in.", signed_in=False),
    TourPage("overview", "Overview", lambda d: "/", "SCIM base URL, seats, the set-up guides and the company's SCIM policies."),
    TourPage("setup-okta", "Set up: Okta", lambda d: "/setup/okta/", "The Okta guide: the company's values with Copy buttons, Okta's own field names, the token generated in step 3a."),
    TourPage("setup-entra", "Set up: Microsoft Entra ID", lambda d: "/setup/entra/", "The Entra ID guide: Tenant URL, Secret Token, Test Connection, mappings."),
    TourPage("setup-other", "Set up: other SCIM 2.0 client", lambda d: "/setup/other/", "JumpCloud, OneLogin and any other SCIM 2.0 client."),
    TourPage("access-rights", "Access rights", lambda d: "/access/", "API tokens, Basic credentials, OAuth connections and their activity."),
    TourPage("members", "Members", lambda d: "/members/", "Users as the identity provider provisioned them; Deactivated is not Failed."),
    TourPage("member", "A member", lambda d: f"/members/{d.member_id}/", "One member's attributes and roles."),
    TourPage("members-search", "Members: search", lambda d: "/members/?q=ada", "Search by any part of a name, userName, email, title or department; sort by any column."),
    TourPage("activity", "Activity", lambda d: "/activity/", "Requests and failures per day over 30 days, and seats used per day, with the numbers in a table."),
    TourPage("groups", "Groups (roles)", lambda d: "/groups/", "Groups pushed by the identity provider are roles."),
    TourPage("group", "A group", lambda d: f"/groups/{d.group_id}/", "A role and its members."),
    TourPage("log", "Provisioning log", lambda d: "/log/", "Every change and every failure, with the reason; failures can be downloaded as CSV."),
    TourPage("log-failed", "Provisioning log: failures", lambda d: "/log/?outcome=failed", "Failed requests only: what the export will hold is said above the button."),
    TourPage("log-entry", "A failed request", lambda d: f"/log/{d.failure_id}/", "One log entry: the request, the error, and a retry."),
]  # fmt: skip


def arrange(server: str, token: str) -> Data:
    """A plausible company: people, a deactivation, roles, and the failures IdPs cause."""
    idp = IdP(
        f"{server}/t/{SLUG}/scim/v2",
        f"Bearer {token}",
        "Okta SCIM Client 1.0.0",
        "application/scim+json",
    )
    people = [
        ("Ada", "Lovelace", "Engineering", "Principal Engineer"),
        ("Grace", "Hopper", "Engineering", "Engineering Manager"),
        ("Katherine", "Johnson", "Research", "Analyst"),
        ("Alan", "Turing", "Research", "Head of Research"),
        ("Margaret", "Hamilton", "Engineering", "Staff Engineer"),
        ("Edsger", "Dijkstra", "Engineering", "Engineer"),
    ]
    ids = []
    for given, family, department, title in people:
        email = f"{given.lower()}.{family.lower()}@northwind.example"
        reply = idp.call(
            "POST",
            "/Users",
            {
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                ],
                "userName": email,
                "name": {"givenName": given, "familyName": family},
                "displayName": f"{given} {family}",
                "title": title,
                "emails": [{"value": email, "type": "work", "primary": True}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": department
                },
                "active": True,
            },
        )
        assert reply.status == 201, reply.body
        ids.append(reply.body["id"])
    patch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    off = {"schemas": [patch], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert idp.call("PATCH", f"/Users/{ids[-1]}", off).status == 200
    group = idp.call(
        "POST",
        "/Groups",
        {"displayName": "Engineering", "members": [{"value": i} for i in ids[:2]]},
    )
    assert group.status == 201, group.body
    idp.call("POST", "/Groups", {"displayName": "Research", "members": [{"value": ids[3]}]})
    # The failures a real connection meets: a duplicate, a bad value.
    assert idp.call("POST", "/Users", {"userName": "ada.lovelace@northwind.example"}).status == 409
    bad = {"userName": "new.hire@northwind.example", "preferredLanguage": "english"}
    assert idp.call("POST", "/Users", bad).status == 400
    quoted = urllib.parse.quote('userName eq "nobody@northwind.example"')
    idp.call("GET", f"/Users?filter={quoted}")
    return Data(member_id=ids[0], group_id=group.body["id"])


@pytest.fixture
def tour_server(django_db_setup: None, tmp_path: Path) -> Iterator[str]:
    with gunicorn_server(tmp_path, PUBLIC_BASE_URL=PUBLIC_BASE_URL) as url:
        yield url


@pytest.fixture
def tour_company(django_db_blocker: Any) -> Iterator[tuple[Company, str]]:
    def create() -> tuple[Company, str]:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            for leftover in Company.objects.filter(slug=SLUG):
                leftover.delete(force_drop=True)
            company = company_create(
                slug=SLUG,
                name=NAME,
                seat_limit=25,
                scim_enabled=True,
                admin=InitialAdmin(email=OWNER, password=PASSWORD),
                actor="tour",
            )
            with schema_context(company.schema_name):
                token = token_issue(company=company, name="Okta production", actor=OWNER)
            return company, token.secret

    def drop(company: Company) -> None:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            company.delete(force_drop=True)

    company, token = in_thread(create)
    try:
        yield company, token
    finally:
        in_thread(lambda: drop(company))


def sign_in(page: Page, portal: str) -> None:
    page.goto(f"{portal}/login/")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{portal}/")


def write_tour_doc() -> None:
    lines = [
        "<!-- Written by `make tour` (tests/browser/tour.py): add pages there, not here. -->",
        "# Tour of the company portal",
        "",
        f"Every page of a company's portal, at {WIDTHS[0]} px (desktop) and {WIDTHS[1]} px "
        "(phone) wide, with an example company's data sent over SCIM as Okta would. Taken with "
        "Playwright and Debian's Chromium by `make tour`; run it again after changing a page.",
        "",
    ]
    for page in PAGES:
        lines += [f"## {page.title}", "", page.caption, ""]
        desktop, phone = (f"tour/{page.name}-{width}.png" for width in WIDTHS)
        lines += [
            f'<img src="{desktop}" alt="{page.title}, {WIDTHS[0]} px wide" width="640"> '
            f'<img src="{phone}" alt="{page.title}, {WIDTHS[1]} px wide" width="195">',
            "",
        ]
    TOUR_DOC.write_text("\n".join(lines), encoding="utf-8")


def test_tour(
    tour_server: str,
    chromium: Browser,
    tour_company: tuple[Company, str],
    django_db_blocker: Any,
) -> None:
    company, token = tour_company
    portal = f"{tour_server}/t/{SLUG}"
    data = arrange(tour_server, token)

    def latest_failure() -> str:
        with django_db_blocker.unblock(), schema_context(company.schema_name):
            failed = ProvisioningEvent.objects.filter(outcome="failed").order_by("-created_at")
            return str(failed.values_list("pk", flat=True).first())

    data = replace(data, failure_id=in_thread(latest_failure))
    TOUR_DIR.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        signed_in = False
        try:
            for entry in PAGES:
                if entry.signed_in and not signed_in:
                    sign_in(page, portal)
                    signed_in = True
                page.goto(portal + entry.path(data))
                page.screenshot(path=str(TOUR_DIR / f"{entry.name}-{width}.png"), full_page=True)
        finally:
            context.close()
    write_tour_doc()
