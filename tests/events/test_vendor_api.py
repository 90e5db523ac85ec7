"""The vendor API (/api/v1/) and its keys: what the vendor's backend relies on."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from events.feed.models import FeedEvent, VendorKey
from events.models import ChangeEvent
from events.outbox import EventType
from events.relay import relay_until_idle
from events.retention import events_purge
from events.selectors import company_events_after
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, max_queries
from tests.scim_client import Scim, okta_user
from tokens.vendor_keys import vendor_key_issue, vendor_key_revoke

pytestmark = pytest.mark.django_db


class Vendor:
    def __init__(self, secret: str):
        self.client, self.secret = Client(), secret

    def get(self, path: str, **params: Any) -> Any:
        connection.set_schema_to_public()
        return self.client.get("/api/v1" + path, params, HTTP_AUTHORIZATION=f"Bearer {self.secret}")

    def pages(self, path: str, key: str, **params: Any) -> list[list[Any]]:
        """Every page from the start, following `next`."""
        pages, after = [], None
        while True:
            body = self.get(path, **params, **({"after": after} if after else {})).json()
            pages.append(body[key])
            if not body["hasMore"]:
                return pages
            after = body["next"]


@pytest.fixture
def vendor(db: None) -> Vendor:
    return Vendor(vendor_key_issue(name="Backend", actor="tests").secret)


def test_a_key_is_prefixed_hashed_and_kept_only_as_its_hash(db: None) -> None:
    issued = vendor_key_issue(name="  Billing  ", actor="support@test")

    stored = VendorKey.objects.get(pk=issued.key.pk)
    assert issued.secret.startswith("hcv_") and len(issued.secret) == 42
    assert stored.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert stored.name == "Billing" and stored.display_prefix == issued.secret[:12]
    assert issued.secret not in repr(VendorKey.objects.filter(pk=stored.pk).values().get())


def test_the_command_prints_only_the_key_and_refuses_an_empty_name(db: None) -> None:
    out = io.StringIO()
    call_command("vendor_key_issue", "--name", "Automation", stdout=out)
    secret = out.getvalue().strip()

    assert Vendor(secret).get("/companies").status_code == 200
    with pytest.raises(CommandError, match="name"):
        call_command("vendor_key_issue", "--name", "  ")


def test_support_issues_a_key_in_the_admin_sees_it_once_and_revokes_it(
    support_superuser: Any,
) -> None:
    staff = Client()
    staff.post("/admin/login/", {"username": "root@support.test", "password": TEST_PASSWORD})

    shown = staff.post("/admin/events_feed/vendorkey/add/", {"name": "CRM sync"})

    assert shown.status_code == 200, shown.content[:500]
    secret = shown.content.decode().split('id="vendor-key-secret"')[1].split(">")[1].split("<")[0]
    assert secret.startswith("hcv_") and "no-store" in shown["Cache-Control"]
    listing = staff.get("/admin/events_feed/vendorkey/").content.decode()
    assert "CRM sync" in listing and secret not in listing
    assert Vendor(secret).get("/companies").status_code == 200
    key = VendorKey.objects.get(name="CRM sync")
    assert key.last_used_at is not None

    staff.post(
        "/admin/events_feed/vendorkey/",
        {"action": "revoke", "_selected_action": [str(key.pk)]},
    )

    refused = Vendor(secret).get("/companies")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer hcv_" + "A" * 38, "Basic dXNlcjpwYXNz", "revoked", "scim_token"],
)
def test_anything_but_a_live_vendor_key_is_refused(
    scim: Scim, authorization: str, vendor: Vendor
) -> None:
    if authorization == "revoked":
        issued = vendor_key_issue(name="old", actor="tests")
        vendor_key_revoke(key_id=str(issued.key.pk), actor="tests")
        authorization = f"Bearer {issued.secret}"
    elif authorization == "scim_token":
        authorization = f"Bearer {scim.token}"
    connection.set_schema_to_public()

    response = Client().get("/api/v1/events", HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def _events(scim: Scim, count: int) -> list[str]:
    """`count` users created at acme (one event each); their ids."""
    created = [scim.post("/Users", {"userName": f"e{i}.{_n()}@acme.test"}) for i in range(count)]
    assert all(response.status_code == 201 for response in created), created[0].content
    return [response.json()["id"] for response in created]


_counter = iter(range(10**9))


def _n() -> int:
    return next(_counter)


def test_one_company_s_events_page_in_order_and_resume_from_the_cursor(
    scim: Scim, acme: Company, vendor: Vendor
) -> None:
    start = company_events_after(acme.schema_name, 0, 10**6)
    first = start[-1].seq if start else 0
    ids = _events(scim, 5)

    pages = []
    after = str(first)
    while True:
        body = vendor.get("/events", company="acme", after=after, limit=2).json()
        pages.append(body["events"])
        after = body["next"]
        if not body["hasMore"]:
            break

    assert [len(page) for page in pages] == [2, 2, 1]
    events = [event for page in pages for event in page]
    assert [event["resourceId"] for event in events] == ids
    assert [event["seq"] for event in events] == list(range(first + 1, first + 6))
    assert {event["company"] for event in events} == {"acme"}
    assert events[0]["type"] == EventType.USER_CREATED and events[0]["data"]["id"] == ids[0]
    again = vendor.get("/events", company="acme", after=after).json()
    assert again == {"events": [], "next": after, "hasMore": False}


def test_all_companies_through_the_feed_each_in_order_without_repeats(
    scim: Scim, acme: Company, outsider: Company, vendor: Vendor
) -> None:
    outsider_scim = Scim(scim.client, _outsider_token(outsider), "/t/outsider/scim/v2")
    relay_until_idle()
    start = vendor.get("/events", limit=1000).json()
    while start["hasMore"]:
        start = vendor.get("/events", after=start["next"], limit=1000).json()
    ids = _events(scim, 3)
    other = outsider_scim.post("/Users", okta_user("o@outsider.test")).json()["id"]
    ids.append(_events(scim, 1)[0])

    assert relay_until_idle() == 5
    pages = []
    after = start["next"]
    while True:
        body = vendor.get("/events", after=after, limit=3).json()
        pages.append(body["events"])
        after = body["next"]
        if not body["hasMore"]:
            break

    events = [event for page in pages for event in page]
    # Each company's events in its own order; between companies, in the order the relay
    # copied them (one company after the other within a run).
    assert [e["resourceId"] for e in events if e["company"] == "acme"] == ids
    assert [e["resourceId"] for e in events if e["company"] == "outsider"] == [other]
    assert len({event["id"] for event in events}) == 5


def _outsider_token(outsider: Company) -> str:
    from django_tenants.utils import schema_context

    from tokens.services import token_issue

    with schema_context(outsider.schema_name):
        return token_issue(company=outsider, name="Okta", actor="tests").secret


def test_bad_parameters_and_unknown_companies_are_clear_errors(vendor: Vendor) -> None:
    for params in (
        {"after": "abc"},
        {"after": "-1"},
        {"after": "²"},
        {"limit": "0"},
        {"limit": "5000"},
    ):
        response = vendor.get("/events", **params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "invalid_parameter"
        assert next(iter(params)) in response.json()["error"]["message"]
    for path in ("/events?company=nope", "/companies/nope/members", "/companies/nope/groups"):
        missing = vendor.client.get("/api/v1" + path, HTTP_AUTHORIZATION=f"Bearer {vendor.secret}")
        assert missing.status_code == 404, path
        assert missing.json()["error"]["code"] == "not_found"
    refused = vendor.client.post("/api/v1/events", {}, HTTP_AUTHORIZATION=f"Bearer {vendor.secret}")
    assert refused.status_code == 405


def test_a_cursor_past_the_end_is_refused_and_one_past_retention_is_410(
    scim: Scim, acme: Company, vendor: Vendor
) -> None:
    _events(scim, 3)
    relay_until_idle()
    head = company_events_after(acme.schema_name, 0, 10**6)[-1].seq
    feed = vendor.get("/events", limit=1000).json()
    while feed["hasMore"]:
        feed = vendor.get("/events", after=feed["next"], limit=1000).json()

    # Up to date: an empty page, the same cursor back.
    assert vendor.get("/events", company="acme", after=head).json()["events"] == []
    assert vendor.get("/events", after=feed["next"]).json()["events"] == []
    # A cursor of another query, or invented, is not silently "up to date".
    for params in ({"company": "acme", "after": head + 1}, {"after": int(feed["next"]) + 1}):
        refused = vendor.get("/events", **params)
        assert refused.status_code == 400, params
        assert "past the newest event" in refused.json()["error"]["message"]

    # Retention drops the first two of the three: a consumer from before them is told.
    with schema_context(acme.schema_name):
        ChangeEvent.objects.filter(seq__lt=head).delete()
    expired = vendor.get("/events", company="acme", after=head - 3)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "cursor_expired"
    assert f"after={head - 1}" in expired.json()["error"]["message"]
    kept = vendor.get("/events", company="acme", after=head - 1)  # it lost nothing
    assert kept.status_code == 200 and [e["seq"] for e in kept.json()["events"]] == [head]
    events_purge(30, now=timezone.now() + dt.timedelta(days=31))
    all_gone = vendor.get("/events", company="acme", after=head - 1)
    assert all_gone.status_code == 410
    assert f"after={head}" in all_gone.json()["error"]["message"]


def test_a_write_committing_while_an_up_to_date_page_is_read_is_not_an_expired_cursor(
    scim: Scim, acme: Company, vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vendor_api import views

    _events(scim, 1)
    head = company_events_after(acme.schema_name, 0, 10**6)[-1].seq
    read_head = views.company_stream_head

    def head_after_a_write(schema_name: str) -> int:
        _events(scim, 1)  # commits between the page's read and the head's
        connection.set_schema_to_public()
        return read_head(schema_name)

    monkeypatch.setattr(views, "company_stream_head", head_after_a_write)
    page = vendor.get("/events", company="acme", after=head)

    assert page.status_code == 200, page.content
    assert page.json()["next"] == str(head)  # the new event comes with the next poll


def test_an_empty_list_page_gives_back_a_cursor_to_pass_on(
    scim: Scim, acme: Company, vendor: Vendor
) -> None:
    for path, key in (("/companies", "companies"), ("/companies/acme/members", "members")):
        last = vendor.pages(path, key, limit=200)
        body = vendor.get(path, limit=200).json()
        while body["hasMore"]:
            body = vendor.get(path, after=body["next"], limit=200).json()
        end = vendor.get(path, after=body["next"]).json()
        assert last and end[key] == [] and end["next"] == body["next"], path
    no_groups = vendor.get("/companies/acme/groups").json()
    assert no_groups == {"groups": [], "next": "", "hasMore": False}
    assert vendor.get("/companies/acme/groups", after=no_groups["next"]).status_code == 200


def test_an_unknown_api_path_is_the_api_s_json_404(vendor: Vendor) -> None:
    for path in ("/nope", "/events/extra", "/companies/acme/members/1/groups"):
        response = vendor.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert Client().get("/api/v1/nope").json()["error"]["status"] == 404


def test_companies_members_and_groups(
    scim: Scim, acme: Company, outsider: Company, vendor: Vendor
) -> None:
    ids = _events(scim, 3)
    group = scim.post("/Groups", {"displayName": "Admins", "members": [{"value": ids[1]}]}).json()

    companies = [
        c["slug"] for page in vendor.pages("/companies", "companies", limit=1) for c in page
    ]
    assert "acme" in companies and "outsider" in companies and "public" not in companies
    assert companies == sorted(companies)

    with max_queries(6):
        first = vendor.get("/companies/acme/members", limit=2).json()
    pages = vendor.pages("/companies/acme/members", "members", limit=2)
    members = {m["id"]: m for page in pages for m in page}
    assert set(ids) <= set(members) and len(members) == sum(len(p) for p in pages)
    assert first["members"] == pages[0]
    assert members[ids[1]]["groups"][0]["display"] == "Admins"
    assert members[ids[0]].get("groups", []) == []

    one = vendor.get(f"/companies/acme/members/{ids[1]}").json()
    assert one["userName"].startswith("e1.") and one["groups"][0]["value"] == group["id"]
    assert vendor.get(f"/companies/outsider/members/{ids[1]}").status_code == 404
    assert vendor.get("/companies/acme/members/not-a-uuid").status_code == 404

    groups = [g for page in vendor.pages("/companies/acme/groups", "groups", limit=1) for g in page]
    assert group["id"] in [g["id"] for g in groups]
    assert vendor.get(f"/companies/acme/groups/{group['id']}").json()["displayName"] == "Admins"
    assert vendor.get(f"/companies/outsider/groups/{group['id']}").status_code == 404
    assert vendor.get("/companies/acme/groups", after="zzz").status_code == 400


def test_the_openapi_schema_generates_without_warnings(vendor: Vendor) -> None:
    out = io.StringIO()
    call_command(
        "spectacular",
        "--urlconf",
        "vendor_api.urls_schema",
        "--validate",
        "--fail-on-warn",
        stdout=out,
    )
    assert "/api/v1/events:" in out.getvalue()

    served = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert served.status_code == 200 and served.json()["info"]["title"] == "Headcount vendor API"
    assert Client().get("/api/v1/docs/").status_code == 200


def test_retention_drops_old_events_but_never_unrelayed_ones(scim: Scim, acme: Company) -> None:
    _events(scim, 2)
    relay_until_idle()
    waiting = _events(scim, 1)  # in the outbox, not yet in the feed
    later = timezone.now() + dt.timedelta(days=31)

    events_purge(30, now=later)

    assert not FeedEvent.objects.filter(occurred_at__lt=later - dt.timedelta(days=30)).exists()
    left = company_events_after(acme.schema_name, 0, 10**6)
    assert [str(event.resource_id) for event in left] == waiting
