"""Cursor paging (RFC 9865): `cursor` / `count` in, `nextCursor` out, over the list order
(`Member.seq`, or sortBy then seq) as a keyset. Every sweep is checked against the true order
read straight from the table."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from django.db.models.functions import Lower
from django_tenants.utils import schema_context

from directory.models import MEMBER_BUCKET_SIZE, Group, Member
from scim.views_base import cursor_key
from scim_protocol.cursor import CURSOR_TIMEOUT, CursorCodec
from scim_protocol.listing import parse_list_params
from scim_protocol.schema import USER
from tenants.models import Company
from tests.conftest import max_queries
from tests.live import IdP, LiveCompany, in_thread, live_scim_company
from tests.scim.test_paging import bulk_members, true_order
from tests.scim_client import Scim, assert_error, okta_user
from tokens.services import token_issue

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def sweep(scim: Scim, query: str, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page of a cursor sweep of GET /Users?<query>: the ids in order, and the pages."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body = scim.get(f"/Users?{query}&count={count}&cursor={cursor}").json()
        pages.append(body)
        ids += [resource["id"] for resource in body["Resources"]]
        if "nextCursor" not in body:
            return ids, pages
        cursor = body["nextCursor"]


def test_a_cursor_sweep_returns_every_user_once_in_list_order(scim: Scim) -> None:
    bulk_members(MEMBER_BUCKET_SIZE + 30)
    expected = true_order()

    ids, pages = sweep(scim, "", 100)

    assert ids == expected
    assert [len(page["Resources"]) for page in pages] == [100] * 10 + [54]
    assert all(page["totalResults"] == len(expected) for page in pages)
    assert all(page["itemsPerPage"] == len(page["Resources"]) for page in pages)
    # RFC 9865 pages carry no startIndex and no previousCursor (it is optional).
    assert all("startIndex" not in page and "previousCursor" not in page for page in pages)


def test_a_cursor_is_opaque_and_url_safe(scim: Scim) -> None:
    bulk_members(5)

    cursor = scim.get("/Users?cursor&count=2").json()["nextCursor"]

    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert set(cursor) <= unreserved
    assert quote(cursor, safe="") == cursor


def test_the_last_page_has_no_next_cursor_and_an_exact_fit_ends_there(scim: Scim) -> None:
    bulk_members(4)

    first = scim.get("/Users?cursor=&count=4").json()

    assert len(first["Resources"]) == 4 and "nextCursor" not in first


def test_count_zero_gives_the_total_only(scim: Scim) -> None:
    bulk_members(3)

    body = scim.get("/Users?cursor=&count=0").json()

    assert body["totalResults"] == 3 and body["Resources"] == [] and "nextCursor" not in body


def test_a_filtered_sorted_search_pages_by_cursor_in_sort_order(scim: Scim) -> None:
    bulk_members(60, prefix="on")
    bulk_members(70, prefix="off", active=False)
    expected = [
        str(pk)
        for pk in Member.objects.filter(active=False)
        .order_by(Lower("user_name").desc(), "-seq")
        .values_list("pk", flat=True)
    ]
    body: dict[str, Any] = {
        "schemas": [SEARCH_REQUEST],
        "filter": "active eq false",
        "sortBy": "userName",
        "sortOrder": "descending",
        "attributes": ["userName"],
        "cursor": "",
        "count": 25,
    }
    ids: list[str] = []

    while True:
        page = scim.post("/Users/.search", body).json()
        assert page["totalResults"] == 70
        ids += [resource["id"] for resource in page["Resources"]]
        if "nextCursor" not in page:
            break
        body["cursor"] = page["nextCursor"]

    assert ids == expected


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_sorting_by_a_column_with_ties_follows_seq_within_a_tie_in_the_sorts_direction(
    scim: Scim, order: str
) -> None:
    # Descending, the newest of a tie comes first: the order an index read backwards gives.
    bulk_members(30, prefix="a", active=True)
    bulk_members(30, prefix="b", active=False)
    sign = "-" if order == "descending" else ""
    expected = [
        str(pk)
        for pk in Member.objects.order_by(f"{sign}active", f"{sign}seq").values_list(
            "pk", flat=True
        )
    ]

    ids, _ = sweep(scim, f"sortBy=active&sortOrder={order}", 7)
    by_index = scim.get(f"/Users?sortBy=active&sortOrder={order}&count=1000").json()

    assert ids == expected
    assert [resource["id"] for resource in by_index["Resources"]] == expected


def test_groups_page_by_cursor_sorted_by_display_name(scim: Scim) -> None:
    for n in range(23):
        reply = scim.post(
            "/Groups",
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"G{n}"},
        )
        assert reply.status_code == 201
    expected = Group.objects.order_by(Lower("display_name"), "created_at", "id").values_list(
        "pk", flat=True
    )
    ids: list[str] = []
    cursor = ""

    while True:
        page = scim.get(f"/Groups?sortBy=displayName&count=5&cursor={cursor}").json()
        assert page["totalResults"] == 23
        ids += [resource["id"] for resource in page["Resources"]]
        if "nextCursor" not in page:
            break
        cursor = page["nextCursor"]

    assert ids == [str(pk) for pk in expected]


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: "not-a-cursor",
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # signature changed
        lambda c: ("A" if c[0] != "A" else "B") + c[1:],  # position changed
        lambda c: c + c,
        lambda c: "x" * 5000,
    ],
    ids=["garbage", "signature", "payload", "doubled", "huge"],
)
def test_a_tampered_cursor_is_invalid_cursor(scim: Scim, damage: Any) -> None:
    bulk_members(5)
    cursor = scim.get("/Users?cursor&count=2").json()["nextCursor"]

    reply = scim.get(f"/Users?count=2&cursor={quote(damage(cursor))}")

    assert_error(reply, 400, "invalidCursor")


def test_a_cursor_is_valid_only_for_the_query_it_was_issued_for(scim: Scim) -> None:
    bulk_members(5)
    cursor = scim.get("/Users?cursor&count=2").json()["nextCursor"]

    filtered = scim.get(f"/Users?filter={quote('active eq true')}&count=2&cursor={cursor}")
    sorted_ = scim.get(f"/Users?sortBy=userName&count=2&cursor={cursor}")
    groups = scim.get(f"/Groups?count=2&cursor={cursor}")
    other_count = scim.get(f"/Users?count=3&cursor={cursor}")

    assert_error(filtered, 400, "invalidCursor")
    assert_error(sorted_, 400, "invalidCursor")
    assert_error(groups, 400, "invalidCursor")
    # count may change between pages: it is not part of the query's meaning.
    assert other_count.status_code == 200 and len(other_count.json()["Resources"]) == 3


def test_a_cursor_of_another_company_is_invalid(scim: Scim, outsider: Company) -> None:
    with schema_context(outsider.schema_name):
        token = token_issue(company=outsider, name="Outsider IdP", actor="tests").secret
    theirs = Scim(scim.client, token, "/t/outsider/scim/v2")
    for n in range(3):
        user = okta_user(f"o{n}@outsider.test", externalId=f"o{n}")
        assert theirs.post("/Users", user).status_code == 201
    bulk_members(5)
    cursor = theirs.get("/Users?cursor&count=1").json()["nextCursor"]

    reply = scim.get(f"/Users?count=1&cursor={cursor}")

    assert_error(reply, 400, "invalidCursor")


def test_a_cursor_older_than_cursor_timeout_is_expired(scim: Scim, acme: Company) -> None:
    bulk_members(5)
    shape = parse_list_params({"cursor": ""}, USER).shape
    first_seq = Member.objects.order_by("seq").values_list("seq", flat=True)[0]
    stale = CursorCodec(cursor_key(acme), time.time() - CURSOR_TIMEOUT - 5)
    fresh = CursorCodec(cursor_key(acme), time.time() - CURSOR_TIMEOUT + 60)

    expired = scim.get(f"/Users?count=2&cursor={stale.encode([first_seq], shape)}")
    valid = scim.get(f"/Users?count=2&cursor={fresh.encode([first_seq], shape)}")

    assert_error(expired, 400, "expiredCursor")
    assert valid.status_code == 200 and len(valid.json()["Resources"]) == 2


def test_cursor_and_start_index_together_are_refused(scim: Scim) -> None:
    reply = scim.get("/Users?cursor=&startIndex=5")

    assert_error(reply, 400, "invalidValue")


def test_a_sort_on_an_attribute_a_user_may_lack_is_refused_with_cursors(scim: Scim) -> None:
    external = scim.get("/Users?cursor=&sortBy=externalId")
    title = scim.get("/Users?cursor=&sortBy=title")

    assert_error(external, 400, "invalidValue")
    assert_error(title, 400, "invalidValue")
    assert "startIndex" in external.json()["detail"]


def test_a_non_string_cursor_in_a_search_is_invalid_cursor(scim: Scim) -> None:
    reply = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "cursor": 17})

    assert_error(reply, 400, "invalidCursor")


def test_cursor_pages_run_a_constant_number_of_queries(scim: Scim) -> None:
    bulk_members(2 * MEMBER_BUCKET_SIZE + 50, active=False)
    scim.get("/Users?count=1")  # the token's first use is recorded once
    cursor = ""
    pages = 0

    while True:
        # company route with the credential, the page (total, rows after the cursor, their
        # groups)
        with max_queries(2):
            body = scim.get(f"/Users?count=100&cursor={cursor}").json()
        pages += 1
        if "nextCursor" not in body:
            break
        cursor = body["nextCursor"]
    # Filtered: route with credential, the page's ids after the cursor, rows with groups, COUNT.
    with max_queries(4):
        filtered = scim.get(f"/Users?filter=active eq false&count=100&cursor={cursor}")

    assert pages == 21
    assert filtered.status_code == 400  # that cursor belongs to the unfiltered query
    first = scim.get("/Users?filter=active eq false&count=100&cursor=").json()
    with max_queries(4):
        second = scim.get(
            f"/Users?filter=active eq false&count=100&cursor={first['nextCursor']}"
        ).json()
    assert len(second["Resources"]) == 100 and second["totalResults"] == 2 * 1024 + 50


# --- stability under concurrent writes ------------------------------------------------------


@pytest.fixture(scope="module")
def live(live_server_url: str, django_db_blocker: Any) -> Any:
    with live_scim_company(django_db_blocker) as company:
        yield company


@pytest.mark.live
@pytest.mark.django_db
def test_a_sweep_while_users_are_created_and_deleted_sends_each_lasting_user_once(
    live: LiveCompany, live_server_url: str, django_db_blocker: Any
) -> None:
    def seed() -> list[str]:
        with django_db_blocker.unblock(), schema_context(live.company.schema_name):
            bulk_members(600, prefix=f"seed-{uuid.uuid4().hex[:6]}-")
            return true_order()

    before = in_thread(seed)
    idp = IdP.bearer(live_server_url, live)
    doomed = set(before[5::9])  # deleted while the sweep runs, before and after its position
    stop = threading.Event()
    churn_errors: list[Any] = []

    def churn() -> None:
        victims = iter(sorted(doomed))
        n = 0
        while not stop.is_set():
            n += 1
            created = idp.call("POST", "/Users", okta_user(f"c{n}@churn.test", externalId=f"c{n}"))
            victim = next(victims, None)
            deleted = idp.call("DELETE", f"/Users/{victim}") if victim else None
            if created.status != 201 or (deleted is not None and deleted.status != 204):
                churn_errors.append((created.status, deleted and deleted.status))

    writer = threading.Thread(target=churn)
    writer.start()
    seen: list[str] = []
    try:
        cursor = ""
        while True:
            page = idp.call("GET", f"/Users?count=25&cursor={cursor}")
            assert page.status == 200, page.body
            seen += [resource["id"] for resource in page.body["Resources"]]
            if "nextCursor" not in page.body:
                break
            cursor = page.body["nextCursor"]
    finally:
        stop.set()
        writer.join()

    assert churn_errors == []
    assert [i for i, n in Counter(seen).items() if n > 1] == []
    lasting = [user_id for user_id in before if user_id not in doomed]
    assert [user_id for user_id in seen if user_id in set(lasting)] == lasting


@pytest.mark.parametrize(
    "sort_by",
    [
        "userName",
        "displayName",
        "name.givenName",
        "name.familyName",
        "active",
        "meta.created",
        "meta.lastModified",
    ],
)
@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_every_cursor_sort_gives_the_order_of_index_paging(
    scim: Scim, sort_by: str, order: str
) -> None:
    for n in range(12):
        user = okta_user(
            f"u{n % 5}{n}@acme.test",
            externalId=f"e{n}",
            displayName=f"Name {n % 3}",
            name={"givenName": f"G{n % 4}", "familyName": f"F{n % 2}"},
            active=n % 2 == 0,
        )
        assert scim.post("/Users", user).status_code == 201
    query = f"sortBy={sort_by}&sortOrder={order}"
    by_index = scim.get(f"/Users?{query}&count=1000").json()["Resources"]

    ids, _ = sweep(scim, query, 5)

    assert ids == [resource["id"] for resource in by_index]
