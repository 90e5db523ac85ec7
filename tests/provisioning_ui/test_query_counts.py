"""Portal pages cost a fixed number of queries, however many members, groups, credentials and
exports the company has: no page grows a query per row."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from directory.exports import export_request
from directory.models import ProvisioningEvent, RequestTally
from directory.retry import ledger_retry
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user, max_queries
from tests.scim_client import Scim, okta_user
from tokens.services import basic_issue, credential_revoke, token_issue

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _company_with(scim: Scim, acme: Company, rows: int) -> dict[str, Any]:
    """`rows` members reporting to one boss, all in two groups; `rows` tokens (one revoked),
    Basic credentials, `rows` exports, and calls with each token and with wrong ones."""
    boss = scim.post("/Users", okta_user("boss@acme.test", externalId="boss")).json()
    members = [
        scim.post(
            "/Users",
            okta_user(
                f"m{i}@acme.test",
                externalId=f"m{i}",
                **{ENTERPRISE: {"manager": {"value": boss["id"]}}},
            ),
        ).json()["id"]
        for i in range(rows)
    ]
    refs = [{"value": member} for member in members]
    group = scim.post("/Groups", {"displayName": "Admins", "members": refs}).json()
    scim.post("/Groups", {"displayName": "Readers", "members": refs})
    with schema_context(acme.schema_name):
        tokens = [token_issue(company=acme, name=f"t{i}", actor="a") for i in range(rows)]
        credential_revoke(credential_id=str(tokens[0].credential.pk), actor="a")
        basic_issue(company=acme, actor="a")
        exports = [
            export_request(requested_by="a", criteria={"outcome": "failed"}) for _ in range(rows)
        ]
    for i in range(rows):  # refused requests, each its own tally row
        scim.client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {tokens[i].secret}")
        scim.client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer wrong{i}")
    assert scim.post("/Users", okta_user("boss@acme.test", externalId="boss")).status_code == 409
    with schema_context(acme.schema_name):
        failed = ProvisioningEvent.objects.filter(outcome="failed").latest("id")
        refused = RequestTally.objects.filter(credential_id__isnull=False).latest("id")
    # `rows` seat-limit failures (so `rows` people on the seat waitlist), each retried (and failing again) from the log.
    Company.objects.filter(pk=acme.pk).update(seat_limit=0)
    for i in range(rows):
        scim.post("/Users", okta_user(f"late{i}@acme.test", externalId=f"late{i}"))
    with schema_context(acme.schema_name):
        failures = list(
            ProvisioningEvent.objects.filter(outcome="failed", status=403).order_by("id")
        )
        for failure in failures:
            ledger_retry(company=acme, event_id=failure.pk, actor="a")
    return {
        "boss": boss["id"],
        "group": group["id"],
        "export": exports[0].pk,
        "failed": failed.pk,
        "refused": refused.pk,
        "failure": failures[0].pk,
    }


def _signed_in(acme: Company) -> Client:
    make_portal_user(acme, email="owner@acme.test")
    browser = Client()
    browser.post("/t/acme/login/", {"username": "owner@acme.test", "password": TEST_PASSWORD})
    return browser


# Page → most queries (search_path switches not counted). Each includes the session, the
# signed-in user and the company's route.
PAGES = {
    "/t/acme/": 6,  # the seat waitlist; connection status (credentials, the day's tallies)
    "/t/acme/activity/": 6,  # ledger by day (finished days, today), seat snapshots by day
    "/t/acme/members/": 6,  # count, page, the filters' departments and titles
    "/t/acme/members/?q=m&state=active": 6,
    "/t/acme/members/?q=acme.test&sort=-name": 6,  # count, page (managers joined), filters
    "/t/acme/members/?sort=status&page=2": 6,
    "/t/acme/members/?department=R%26D&title=Engineer&sort=-name&page=2": 6,
    "/t/acme/members/{boss}/": 6,  # member, roles, reports (one query for them all)
    "/t/acme/groups/": 5,  # count, page with member counts
    "/t/acme/groups/{group}/": 6,  # group, count, page
    "/t/acme/access/": 6,  # credentials, OAuth connections, audit trail
    # count, page, exports, the seat waitlist, refused requests, background retries
    "/t/acme/log/": 9,
    "/t/acme/log/?outcome=warned": 9,
    "/t/acme/log/{failed}/": 8,  # as {failure}, and the existing user it collided with
    "/t/acme/log/refused/{refused}/": 5,  # the tally row, its credential
    "/t/acme/log/exports/{export}/": 4,
    # credentials (is there a Basic pair already?), tokens holding the suggested name
    "/t/acme/setup/okta/": 5,
    "/t/acme/setup/entra/": 4,
    "/t/acme/setup/other/": 5,
    # entry with the failure it retried, its retries, the same-kind failures to retry
    "/t/acme/log/{failure}/": 7,
}


@pytest.mark.parametrize("rows", [2, 12])
@pytest.mark.parametrize(("page", "limit"), PAGES.items())
def test_portal_pages_cost_the_same_few_queries_at_any_size(
    scim: Scim, acme: Company, rows: int, page: str, limit: int
) -> None:
    ids = _company_with(scim, acme, rows)
    browser = _signed_in(acme)

    with max_queries(limit):
        response = browser.get(page.format(**ids))

    assert response.status_code == 200


@pytest.mark.parametrize("rows", [2, 12])
def test_the_overview_lists_held_deprovisions_in_one_query(
    scim: Scim, acme: Company, rows: int
) -> None:
    """While the brake is tripped the Overview lists what it held: one query more."""
    Company.objects.filter(pk=acme.pk).update(
        seat_limit=None, deprovision_brake_minimum=1, deprovision_brake_percent=1
    )
    deactivate = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    ids = [
        scim.post("/Users", okta_user(f"u{i}@acme.test", externalId=f"u{i}")).json()["id"]
        for i in range(rows + 1)
    ]
    for member_id in ids:
        scim.patch(f"/Users/{member_id}", deactivate)
    browser = _signed_in(acme)

    # The Overview's own six (PAGES), and the held requests in one query.
    with max_queries(PAGES["/t/acme/"] + 1):
        response = browser.get("/t/acme/")

    assert response.content.decode().count("@acme.test</td>") == rows
