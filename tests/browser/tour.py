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

from directory.models import ProvisioningEvent, RequestTally
from tenants.models import Company
from tenants.services import InitialAdmin, company_create
from tests.live import IdP, gunicorn_server, in_thread
from tokens.models import Credential
from tokens.services import credential_revoke, token_issue, token_rotate

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
    failure_id: str = ""  # the seat-limit refusal
    dialect_id: str = ""  # a PATCH in Entra ID's dialect, with what Headcount read
    refused_id: str = ""  # the request tally of a revoked token's 401s
    token_id: str = ""  # the production token, to show its rotation page


@dataclass(frozen=True)
class TourPage:
    name: str  # file name stem: docs/tour/<name>-<width>.png
    title: str
    path: Callable[[Data], str]  # below /t/<slug>
    caption: str
    signed_in: bool = True
    # Below /t/<slug> (the company's portal), or the server's root (the vendor's pages).
    in_portal: bool = True
    # What a person does on the page before it is taken (a button whose answer is the page).
    then: Callable[[Page], None] | None = None


def _api_docs_rendered(page: Page) -> None:
    # The page renders the OpenAPI schema in the browser, after loading it.
    page.get_by_role("heading", name="Headcount vendor API").wait_for(timeout=20_000)


def _test_connection(page: Page) -> None:
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_load_state()


PAGES = [
    TourPage("sign-in", "Sign in", lambda d: "/login/", "Each company has its own portal and sign-in.", signed_in=False),
    TourPage("overview", "Overview", lambda d: "/", "Connection status per credential (the identity provider named, requests and failures in 24 hours), seats used live, the paused deprovisioning brake and the seat waitlist, the set-up guides and the company's SCIM policies."),
    TourPage("connection-test", "Test connection", lambda d: "/", "What Okta's “Test API Credentials” and Entra ID's “Test Connection” send, run through Headcount's whole request stack in-process (as the IdP's calls would be): each probe, its status, its latency and the fix for a failure.", then=_test_connection),
    TourPage("setup-okta", "Set up: Okta", lambda d: "/setup/okta/", "The Okta guide: the company's values with Copy buttons, Okta's own field names, the token generated in step 3a."),
    TourPage("setup-entra", "Set up: Microsoft Entra ID", lambda d: "/setup/entra/", "The Entra ID guide: Tenant URL, Secret Token, Test Connection, mappings."),
    TourPage("setup-other", "Set up: other SCIM 2.0 client", lambda d: "/setup/other/", "JumpCloud, OneLogin and any other SCIM 2.0 client."),
    TourPage("access-rights", "Access rights", lambda d: "/access/", "API tokens, Basic credentials, OAuth connections and their activity; a token being rotated shows both tokens' last use."),
    TourPage("token-rotate", "Rotate a token", lambda d: f"/access/tokens/{d.token_id}/rotate/", "Rotating issues a successor while the old token keeps working until the identity provider uses the new one."),
    TourPage("members", "Members", lambda d: "/members/", "Users as the identity provider provisioned them; Deactivated is not Failed."),
    TourPage("member", "A member", lambda d: f"/members/{d.member_id}/", "One member's attributes and roles."),
    TourPage("members-search", "Members: search", lambda d: "/members/?q=ada", "Search by any part of a name, userName, email, title or department; sort by any column."),
    TourPage("activity", "Activity", lambda d: "/activity/", "Writes and failures per day over 30 days, and seats used per day, with the numbers in a table."),
    TourPage("groups", "Groups (roles)", lambda d: "/groups/", "Groups pushed by the identity provider are roles."),
    TourPage("group", "A group", lambda d: f"/groups/{d.group_id}/", "A role and its members."),
    TourPage("log", "Provisioning log", lambda d: "/log/", "Every change and every failure, with the reason; failures can be downloaded as CSV."),
    TourPage("log-failed", "Provisioning log: failures", lambda d: "/log/?outcome=failed", "Failed requests only: what the export will hold is said above the button."),
    TourPage("log-entry", "A failed request and its fix", lambda d: f"/log/{d.failure_id}/", "One log entry: the request, the error, what to do about it (here: who can raise the seat limit), and a retry."),
    TourPage("log-entry-dialect", "What Headcount read in the IdP's dialect", lambda d: f"/log/{d.dialect_id}/", "A PATCH in Entra ID's dialect: the capitalised op and the \"False\" string, as Headcount read them."),
    TourPage("log-refused", "A refused request", lambda d: f"/log/refused/{d.refused_id}/", "Requests refused before any write (here a revoked token's 401s), counted per minute: which credential, and where to make a new one."),
    TourPage("vendor-api-docs", "Vendor API documentation", lambda d: "/api/v1/docs/", "For the vendor's own backend (not a company's admin): the change events and directories API, rendered from its OpenAPI schema.", signed_in=False, in_portal=False, then=_api_docs_rendered),
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
    # Entra ID's dialect: a capitalised op, the boolean as a string.
    off = {
        "schemas": [patch],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    assert idp.call("PATCH", f"/Users/{ids[-1]}", off).status == 200
    # A second deactivation in the brake's window (the tour company allows one): held.
    assert idp.call("PATCH", f"/Users/{ids[-2]}", off).status == 503
    group = idp.call(
        "POST",
        "/Groups",
        {"displayName": "Engineering", "members": [{"value": i} for i in ids[:2]]},
    )
    assert group.status == 201, group.body
    idp.call("POST", "/Groups", {"displayName": "Research", "members": [{"value": ids[3]}]})
    # The failures a real connection meets: a duplicate, a bad value.
    assert idp.call("POST", "/Users", {"userName": "ada.lovelace@northwind.example"}).status == 409
    bad = {"userName": "new.hire@northwind.example", "active": "maybe"}
    assert idp.call("POST", "/Users", bad).status == 400
    quoted = urllib.parse.quote('userName eq "nobody@northwind.example"')
    idp.call("GET", f"/Users?filter={quoted}")
    return Data(member_id=ids[0], group_id=group.body["id"])


def arrange_refusals(server: str, token: str, company: Company, blocker: Any) -> None:
    """Seats full (a hire waits on the waitlist), a revoked token still in use, a token
    being rotated: the states an admin comes to the portal about."""

    def prepare() -> tuple[str, str]:
        with blocker.unblock():
            connection.set_schema_to_public()
            Company.objects.filter(pk=company.pk).update(seat_limit=5)
            with schema_context(company.schema_name):
                old = token_issue(company=company, name="Okta (old tenant)", actor=OWNER)
                credential_revoke(credential_id=str(old.credential.pk), actor=OWNER)
                staging = token_issue(company=company, name="Okta staging", actor=OWNER)
                token_rotate(company=company, credential_id=str(staging.credential.pk), actor=OWNER)
            return old.secret, staging.secret

    revoked, _ = in_thread(prepare)
    base = f"{server}/t/{SLUG}/scim/v2"
    idp = IdP(base, f"Bearer {token}", "Okta SCIM Client 1.0.0", "application/scim+json")
    hire = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "new.hire@northwind.example",
        "name": {"givenName": "Mary", "familyName": "Jackson"},
        "displayName": "Mary Jackson",
        "emails": [{"value": "new.hire@northwind.example", "type": "work", "primary": True}],
        "active": True,
    }
    assert idp.call("POST", "/Users", hire).status == 403  # every seat in use: waitlisted
    stale = IdP(base, f"Bearer {revoked}", "Okta SCIM Client 1.0.0", "application/scim+json")
    for _ in range(3):
        assert stale.call("GET", "/Users?count=1").status == 401


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
            # A brake that holds the second deactivation in an hour, so the tour shows it.
            Company.objects.filter(pk=company.pk).update(
                deprovision_brake_percent=1,
                deprovision_brake_minimum=1,
                deprovision_brake_window_minutes=60,
            )
            company.refresh_from_db()
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
    arrange_refusals(tour_server, token, company, django_db_blocker)

    def ids() -> dict[str, str]:
        with django_db_blocker.unblock(), schema_context(company.schema_name):
            events = ProvisioningEvent.objects.order_by("-created_at", "-id")
            return {
                "failure_id": str(events.filter(outcome="failed", status=403).first().pk),  # type: ignore[union-attr]
                "dialect_id": str(events.filter(normalised__isnull=False).first().pk),  # type: ignore[union-attr]
                "refused_id": str(RequestTally.objects.get(cause="revoked").pk),
                "token_id": str(Credential.objects.get(name="Okta production").pk),
            }

    data = replace(data, **in_thread(ids))
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
                page.goto((portal if entry.in_portal else tour_server) + entry.path(data))
                if entry.then is not None:
                    entry.then(page)
                page.screenshot(path=str(TOUR_DIR / f"{entry.name}-{width}.png"), full_page=True)
        finally:
            context.close()
    write_tour_doc()
