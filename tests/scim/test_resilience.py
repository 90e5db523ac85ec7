"""SCIM keeps working when Redis (the Celery broker) is down; seats hold under races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kombu.pools
import pytest
from django.test import Client

from config.celery import app
from directory.exports import enqueue_export
from directory.models import LedgerExport, ProvisioningEvent
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.live import IdP, in_thread, live_scim_company
from tests.scim_client import Scim, okta_user


def _new_producer_pool() -> None:
    # Closing the pools is not enough: the app and kombu keep the closed pools and every later
    # publish fails with "Acquire on closed pool". Drop them (what Celery does after a fork).
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()


@pytest.fixture
def broker_down() -> Any:
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    _new_producer_pool()
    yield
    app.conf.broker_url = previous
    _new_producer_pool()


def test_scim_writes_and_the_ledger_work_without_the_broker(broker_down: None, scim: Scim) -> None:
    created = scim.post("/Users", okta_user())
    duplicate = scim.post("/Users", okta_user())

    assert created.status_code == 201 and duplicate.status_code == 409
    assert list(ProvisioningEvent.objects.values_list("outcome", flat=True).order_by("id")) == [
        "succeeded",
        "failed",
    ]


def test_an_export_asked_for_while_the_broker_is_down_waits_and_is_requeued(
    broker_down: None, acme: Company, django_capture_on_commit_callbacks: Any
) -> None:
    make_portal_user(acme, email="ada@acme.test")
    browser = Client()
    browser.post("/t/acme/login/", {"username": "ada@acme.test", "password": TEST_PASSWORD})

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/t/acme/log/exports/", {"outcome": "failed"})

    assert response.status_code == 302
    export = LedgerExport.objects.get()
    assert export.status == "queued"
    assert enqueue_export(export.pk) is False  # still down: logged, not raised


@pytest.mark.live
@pytest.mark.django_db
def test_100_concurrent_creates_against_10_free_seats(
    live_server_url: str, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:

        def limit() -> None:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=live.company.pk).update(seat_limit=10)

        in_thread(limit)
        idp = IdP.bearer(live_server_url, live, "Okta")

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(
                pool.map(
                    lambda i: idp.call("POST", "/Users", {"userName": f"race{i}@live.test"}).status,
                    range(100),
                )
            )

        assert statuses.count(201) == 10 and statuses.count(403) == 90
        assert idp.call("GET", "/Users?count=0").body["totalResults"] == 10

        def seats() -> int:
            with django_db_blocker.unblock():
                return Company.objects.get(pk=live.company.pk).seats_used

        assert in_thread(seats) == 10


@pytest.mark.live
@pytest.mark.django_db
def test_50_concurrent_posts_of_one_username_make_one_user(
    live_server_url: str, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta")

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(
                pool.map(
                    lambda _: idp.call("POST", "/Users", {"userName": "same@live.test"}).status,
                    range(50),
                )
            )

        assert statuses.count(201) == 1 and statuses.count(409) == 49


@pytest.mark.live
@pytest.mark.django_db
def test_reactivations_racing_creations_never_pass_the_limit(
    live_server_url: str, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta")
        sleeping = [
            idp.call("POST", "/Users", {"userName": f"old{i}@live.test", "active": False}).body[
                "id"
            ]
            for i in range(10)
        ]

        def limit() -> None:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=live.company.pk).update(seat_limit=5)

        in_thread(limit)
        wake = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": True}}],
        }
        calls = [("PATCH", f"/Users/{i}", wake) for i in sleeping] + [
            ("POST", "/Users", {"userName": f"new{i}@live.test"}) for i in range(10)
        ]

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(lambda call: idp.call(*call).status, calls))

        assert sum(s in (200, 201) for s in statuses) == 5 and statuses.count(403) == 15
        assert idp.call("GET", "/Users?filter=active%20eq%20true&count=0").body["totalResults"] == 5


@pytest.mark.live
@pytest.mark.django_db
def test_concurrent_patches_with_the_same_etag_one_wins_the_rest_get_412(
    live_server_url: str, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Entra")
        created = idp.call("POST", "/Users", {"userName": "contended@live.test"})
        user_id, etag = created.body["id"], created.headers["ETag"]

        def rename(n: int) -> int:
            patch = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": f"Writer {n}"}],
            }
            return idp.call("PATCH", f"/Users/{user_id}", patch, {"If-Match": etag}).status

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(rename, range(10)))
        final = idp.call("GET", f"/Users/{user_id}")

        assert statuses.count(200) == 1 and statuses.count(412) == 9
        winner = statuses.index(200)
        assert final.body["displayName"] == f"Writer {winner}"
        assert final.headers["ETag"] != etag


@pytest.mark.live
@pytest.mark.django_db
def test_concurrent_membership_patches_lose_no_member(
    live_server_url: str, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta")
        users = [
            idp.call("POST", "/Users", {"userName": f"member{i}@live.test"}).body["id"]
            for i in range(30)
        ]
        group = idp.call(
            "POST",
            "/Groups",
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew"},
        ).body["id"]

        def add(user_id: str) -> int:
            patch = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
            }
            return idp.call("PATCH", f"/Groups/{group}", patch).status

        with ThreadPoolExecutor(max_workers=15) as pool:
            statuses = list(pool.map(add, users))
        members = idp.call("GET", f"/Groups/{group}").body.get("members", [])

        assert set(statuses) <= {200, 204}
        assert sorted(member["value"] for member in members) == sorted(users)
