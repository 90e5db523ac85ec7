"""The seat waitlist under real concurrency: a live server (two gunicorn workers) on committed
data, requests released together. Seats are counted under the seat lock, so the numbers are
exact whatever the interleaving."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django_tenants.utils import schema_context

from directory.models import Member, ProvisioningEvent, WaitlistEntry
from directory.services import seat_limit_set
from tenants.models import Company
from tests.live import IdP, LiveCompany, Reply, in_thread, live_scim_company
from tests.scim_client import PATCH_OP, okta_user

T = TypeVar("T")
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


@pytest.fixture(scope="module")
def live(live_server_url: str, django_db_blocker: Any) -> Iterator[LiveCompany]:
    with live_scim_company(django_db_blocker) as company:
        yield company


def _db(blocker: Any, live: LiveCompany, work: Callable[[], T]) -> T:
    """Run `work` on committed data in the live company's schema (another connection)."""

    def run() -> T:
        with blocker.unblock(), schema_context(live.company.schema_name):
            return work()

    return in_thread(run)


def _together(calls: list[Callable[[], T]]) -> list[T]:
    start = threading.Barrier(len(calls))

    def go(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(go, calls))


def _create(idp: IdP, name: str) -> Callable[[], Reply]:
    return lambda: idp.call("POST", "/Users", okta_user(name, externalId=f"ext-{name}"))


@pytest.mark.live
@pytest.mark.django_db
def test_creates_past_the_seats_wait_in_line_and_freed_seats_go_to_the_oldest(
    live: LiveCompany, live_server_url: str, django_db_blocker: Any
) -> None:
    idp = IdP.bearer(live_server_url, live, "Okta")
    company_id = live.company.pk
    _db(
        django_db_blocker,
        live,
        lambda: Company.objects.filter(pk=company_id).update(seat_limit=10),
    )
    names = [f"person{n:02d}@race.test" for n in range(30)]

    # 30 concurrent creates against 10 free seats.
    replies = _together([_create(idp, name) for name in names])

    assert Counter(reply.status for reply in replies) == {201: 10, 403: 20}
    refused = [reply.body for reply in replies if reply.status == 403]
    assert all(body["schemas"] == [ERROR] and "waitlist" in body["detail"] for body in refused)
    waiting = _db(
        django_db_blocker,
        live,
        lambda: list(
            WaitlistEntry.objects.order_by("created_at", "id").values_list("user_name", flat=True)
        ),
    )
    assert len(waiting) == 20
    assert set(waiting) == {n for n, r in zip(names, replies, strict=True) if r.status == 403}

    # The limit raised by 5 while the IdP retries every waiting person and pushes 10 more.
    def raise_limit() -> Any:
        return _db(
            django_db_blocker,
            live,
            lambda: (
                seat_limit_set(
                    company=Company.objects.get(pk=company_id), limit=15, actor="support"
                ).now
            ),
        )

    newcomers = [f"new{n:02d}@race.test" for n in range(10)]
    calls: list[Callable[[], Any]] = [raise_limit]
    calls += [_create(idp, name) for name in waiting + newcomers]
    results = _together(calls)

    assert results[0] == 5
    oldest, rest = waiting[:5], waiting[5:]
    retried = dict(zip(waiting + newcomers, results[1:], strict=True))
    # The 5 oldest were provisioned once each: their own retries find them (409) or, sent
    # before the raise, are told they wait (403); nobody else got a seat.
    assert all(retried[name].status in (403, 409) for name in oldest)
    assert all(retried[name].status == 403 for name in rest + newcomers)

    def state() -> tuple[dict[str, int], Counter[str], int, list[str]]:
        members = Counter(
            Member.objects.filter(user_name__in=waiting).values_list("user_name", flat=True)
        )
        from_waitlist = Counter(
            ProvisioningEvent.objects.filter(
                idp="Headcount waitlist", outcome="succeeded"
            ).values_list("user_name", flat=True)
        )
        used = Company.objects.get(pk=company_id).seats_used
        line = list(
            WaitlistEntry.objects.order_by("created_at", "id").values_list("user_name", flat=True)
        )
        return dict(members), from_waitlist, used, line

    members, from_waitlist, used, line = _db(django_db_blocker, live, state)
    assert members == dict.fromkeys(oldest, 1)
    assert from_waitlist == Counter(oldest)
    assert used == 15
    assert line[:15] == rest and sorted(line[15:]) == newcomers

    # A deactivation frees a seat: the next in line (the oldest still waiting) gets it.
    seated = next(r.body["id"] for r in replies if r.status == 201)
    assert idp.call("PATCH", f"/Users/{seated}", DEACTIVATE).status == 200

    members, from_waitlist, used, line = _db(django_db_blocker, live, state)
    assert members.get(rest[0]) == 1 and line[0] == rest[1] and used == 15

    # Okta's retry of the person provisioned for it: the pre-check finds the user, the PUT
    # of its profile succeeds.
    found = idp.call("GET", f"/Users?filter=userName%20eq%20%22{rest[0]}%22")
    assert found.status == 200 and found.body["totalResults"] == 1
    user = found.body["Resources"][0]
    user["title"] = "Engineer"
    assert idp.call("PUT", f"/Users/{user['id']}", user).status == 200
