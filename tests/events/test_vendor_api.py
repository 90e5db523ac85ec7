"""The vendor API (/api/v1/) and its keys: what the vendor's backend relies on."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
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
from events.selectors import TYPES_SCAN, company_events_after
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, max_queries
from tests.scim_client import PATCH_OP, Scim, okta_user
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


# Reading some event types: `types`. Its pages are windows of the unfiltered order, so a
# small window (TYPES_SCAN) shows sparse and empty pages with a handful of SCIM writes.
GONE = f"{EventType.USER_DEACTIVATED},{EventType.USER_DELETED}"


def _deactivate(scim: Scim, user_id: str) -> None:
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{user_id}", body).status_code == 200


def _leavers(scim: Scim) -> None:
    """Users created, and now and then one deactivated or deleted: the types a consumer of
    leavers wants are sparse, with runs longer than a small window between them and two
    side by side."""
    first = _events(scim, 4)
    _deactivate(scim, first[0])
    later = _events(scim, 7)
    assert scim.delete(f"/Users/{first[1]}").status_code == 204
    _deactivate(scim, first[2])
    assert scim.delete(f"/Users/{first[3]}").status_code == 204
    _events(scim, 2)
    _deactivate(scim, later[0])


def _follow(vendor: Vendor, after: str, **params: Any) -> list[dict[str, Any]]:
    """Every page from `after`, following `next` until `hasMore` is false."""
    pages = []
    while True:
        with max_queries(5):
            response = vendor.get("/events", after=after, **params)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append({**body, "after": int(after)})
        after = body["next"]
        if not body["hasMore"]:
            return pages


def _seqs(pages: list[dict[str, Any]], key: str = "seq") -> list[int]:
    return [event[key] for page in pages for event in page["events"]]


def test_a_company_s_events_of_some_types_come_in_windows_of_the_unfiltered_order(
    scim: Scim, acme: Company, vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("events.selectors.TYPES_SCAN", 3)
    start = _head(acme)
    _leavers(scim)
    every = company_events_after(acme.schema_name, start, 10**6)
    wanted = [
        e.seq for e in every if e.type in (EventType.USER_DEACTIVATED, EventType.USER_DELETED)
    ]

    pages = _follow(vendor, str(start), company="acme", types=GONE, limit=2)

    assert _seqs(pages) == wanted and len(wanted) == 5
    for page in pages:
        assert {event["type"] for event in page["events"]} <= set(GONE.split(","))
        # Each page looked at no more than the window, and its `next` covers what it showed.
        assert page["after"] < int(page["next"]) <= page["after"] + 3
        assert all(page["after"] < event["seq"] <= int(page["next"]) for event in page["events"])
    assert any(page["events"] == [] and page["hasMore"] for page in pages)
    # Two leavers side by side in one window fill a page of limit=1: `next` is the last shown.
    cut = vendor.get("/events", company="acme", after=wanted[1] - 1, types=GONE, limit=1).json()
    assert [e["seq"] for e in cut["events"]] == [wanted[1]]
    assert cut["next"] == str(wanted[1]) and cut["hasMore"]
    assert pages[-1]["next"] == str(every[-1].seq) and not pages[-1]["hasMore"]
    # Up to date: the same cursor back, as without a filter.
    again = vendor.get("/events", company="acme", after=pages[-1]["next"], types=GONE).json()
    assert again == {"events": [], "next": pages[-1]["next"], "hasMore": False}


def test_all_companies_events_of_some_types_come_in_windows_of_the_feed(
    scim: Scim, acme: Company, outsider: Company, vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("events.selectors.TYPES_SCAN", 3)
    relay_until_idle()
    start = _feed_end(vendor)
    outsider_scim = Scim(scim.client, _outsider_token(outsider), "/t/outsider/scim/v2")
    _leavers(scim)
    gone = outsider_scim.post("/Users", okta_user("o@outsider.test")).json()["id"]
    assert outsider_scim.delete(f"/Users/{gone}").status_code == 204
    relay_until_idle()
    unfiltered = _follow(vendor, start, limit=1000)
    every = [event for page in unfiltered for event in page["events"]]

    pages = _follow(vendor, start, types=GONE, limit=2)

    shown = [event for page in pages for event in page["events"]]
    assert [(e["company"], e["seq"]) for e in shown] == [
        (e["company"], e["seq"]) for e in every if e["type"] in GONE.split(",")
    ]
    assert [e["company"] for e in shown].count("outsider") == 1 and len(shown) == 6
    assert any(page["events"] == [] and page["hasMore"] for page in pages)
    assert pages[-1]["next"] == unfiltered[-1]["next"] and not pages[-1]["hasMore"]


def test_a_consumer_can_switch_filters_on_the_same_cursor_and_lose_nothing(
    scim: Scim, acme: Company, vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("events.selectors.TYPES_SCAN", 3)
    start = _head(acme)
    _leavers(scim)
    every = company_events_after(acme.schema_name, start, 10**6)

    # Leavers only for two pages, then everything from the cursor those pages gave back.
    first = vendor.get("/events", company="acme", after=start, types=GONE).json()
    second = vendor.get("/events", company="acme", after=first["next"], types=GONE).json()
    rest = _follow(vendor, second["next"], company="acme", limit=2)
    # And back: everything for a page, then leavers only.
    unfiltered = vendor.get("/events", company="acme", after=start, limit=4).json()
    leavers = _follow(vendor, unfiltered["next"], company="acme", types=GONE)

    switched = [e["seq"] for e in first["events"] + second["events"]] + _seqs(rest)
    cut = int(second["next"])
    assert switched == [e.seq for e in every if e.seq > cut or e.type in GONE.split(",")]
    assert _seqs(leavers) == [e.seq for e in every[4:] if e.type in GONE.split(",")]


def test_unknown_event_types_are_refused_and_an_empty_list_is_every_type(
    scim: Scim, acme: Company, vendor: Vendor
) -> None:
    _events(scim, 2)
    relay_until_idle()

    for params in ({"company": "acme"}, {}):
        refused = vendor.get("/events", types="user.deleted,user.fired,Group.Created", **params)
        assert refused.status_code == 400, params
        error = refused.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert error["message"].startswith("`types` has unknown event types: user.fired, Group.")
        assert all(name in error["message"] for name in EventType.ALL)
        assert vendor.get("/events", types=" ,", **params).json() == (
            vendor.get("/events", **params).json()
        )
        assert vendor.get("/events", types="", **params).json() == (
            vendor.get("/events", **params).json()
        )


def test_a_read_of_some_types_looks_at_no_more_events_than_the_bound(
    acme: Company, vendor: Vendor
) -> None:
    start = _head(acme)
    _bulk_events(acme, start, TYPES_SCAN + 5, EventType.USER_UPDATED)

    with max_queries(5):
        body = vendor.get("/events", company="acme", after=start, types=GONE, limit=1000).json()
    rest = vendor.get("/events", company="acme", after=body["next"], types=GONE).json()

    assert body == {"events": [], "next": str(start + TYPES_SCAN), "hasMore": True}
    assert rest == {"events": [], "next": str(start + TYPES_SCAN + 5), "hasMore": False}


def test_a_filter_keeps_the_cursor_checks(scim: Scim, acme: Company, vendor: Vendor) -> None:
    _events(scim, 3)
    relay_until_idle()
    head = _head(acme)
    feed = _feed_end(vendor)

    for params in ({"company": "acme", "after": head + 1}, {"after": int(feed) + 1}):
        refused = vendor.get("/events", types=GONE, **params)
        assert refused.status_code == 400, params
        assert "past the newest event" in refused.json()["error"]["message"]
    with schema_context(acme.schema_name):
        ChangeEvent.objects.filter(seq__lt=head).delete()
    expired = vendor.get("/events", company="acme", after=head - 3, types=GONE)
    assert expired.status_code == 410
    assert f"after={head - 1}" in expired.json()["error"]["message"]
    kept = vendor.get("/events", company="acme", after=head - 1, types=GONE).json()
    assert kept == {"events": [], "next": str(head), "hasMore": False}


def test_the_openapi_schema_declares_the_types_and_the_sparse_pages(vendor: Vendor) -> None:
    schema = Client().get("/api/v1/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/events"]["get"]
    types = next(p for p in operation["parameters"] if p["name"] == "types")
    assert sorted(types["schema"]["items"]["enum"]) == sorted(EventType.ALL)
    assert types["explode"] is False
    assert (
        "fewer than `limit` events, or none, while `hasMore` is true" in (operation["description"])
    )
    # The guide states the bound as a number: keep it the one in force.
    guide = (Path(__file__).parents[2] / "docs" / "integrate.md").read_text()
    assert f"at most {TYPES_SCAN:,} of them" in guide


def _head(company: Company) -> int:
    events = company_events_after(company.schema_name, 0, 10**6)
    return events[-1].seq if events else 0


def _feed_end(vendor: Vendor) -> str:
    page = vendor.get("/events", limit=1000).json()
    while page["hasMore"]:
        page = vendor.get("/events", after=page["next"], limit=1000).json()
    return str(page["next"])


def _bulk_events(company: Company, after: int, count: int, kind: str) -> None:
    """`count` events of `kind` after seq `after`, written as the outbox would (SQL: a real
    window's worth of SCIM writes would take minutes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {connection.ops.quote_name(company.schema_name)}.events_changeevent
                (seq, id, type, occurred_at, resource_type, resource_id, external_id,
                user_name, display_name, changed, data, request_id, idp)
            SELECT %s + i, gen_random_uuid(), %s, now(), 'User', gen_random_uuid(), '',
                'bulk' || i || '@acme.test', '', '[]', '{{}}', '', ''
            FROM generate_series(1, %s) AS i
            """,  # noqa: S608 - quoted name
            [after, kind, count],
        )
        cursor.execute(
            "UPDATE public.events_feed_eventstream SET last_seq = %s WHERE schema_name = %s",
            [after + count, company.schema_name],
        )
