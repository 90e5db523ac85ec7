"""The brake on mass deprovisioning under a real burst: an IdP deactivating all of a company's
100 users at once, against a live server (two gunicorn workers) on committed data. The count
is kept under the seat lock, so exactly the allowance goes through whatever the interleaving.
(Who is emailed is tested in process, with Django's locmem backend: tests/directory/test_brake.py.)"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django_tenants.utils import schema_context

from directory.brake import brake_release
from directory.models import Member, ProvisioningEvent
from tenants.models import Company
from tests.live import IdP, LiveCompany, Reply, in_thread, live_scim_company
from tests.scim_client import PATCH_OP, okta_user

T = TypeVar("T")
DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


@pytest.fixture(scope="module")
def live(live_server_url: str, django_db_blocker: Any) -> Iterator[LiveCompany]:
    with live_scim_company(django_db_blocker) as company:
        yield company


def _db(blocker: Any, live: LiveCompany, work: Callable[[], T]) -> T:
    def run() -> T:
        with blocker.unblock(), schema_context(live.company.schema_name):
            return work()

    return in_thread(run)


def _burst(calls: list[Callable[[], Reply]], workers: int = 16) -> list[Reply]:
    start = threading.Barrier(workers)

    def go(index: int) -> list[tuple[int, Reply]]:
        start.wait()
        return [(i, calls[i]()) for i in range(index, len(calls), workers)]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = [pair for chunk in pool.map(go, range(workers)) for pair in chunk]
    return [reply for _, reply in sorted(done, key=lambda pair: pair[0])]


@pytest.mark.live
@pytest.mark.django_db
def test_a_burst_of_deactivations_is_held_after_the_allowance_until_released(
    live: LiveCompany, live_server_url: str, django_db_blocker: Any
) -> None:
    idp = IdP.bearer(live_server_url, live, "Okta")
    created = _burst(
        [
            (
                lambda n=n: idp.call(
                    "POST", "/Users", okta_user(f"u{n}@burst.test", externalId=f"{n}")
                )
            )
            for n in range(100)
        ]
    )
    assert {reply.status for reply in created} == {201}
    ids = [reply.body["id"] for reply in created]

    def deactivate(user_id: str) -> Callable[[], Reply]:
        return lambda: idp.call("PATCH", f"/Users/{user_id}", DEACTIVATE)

    replies = _burst([deactivate(user_id) for user_id in ids])

    # max(10, 20% of 100): the first 20 go through, the other 80 are held, unchanged.
    assert Counter(reply.status for reply in replies) == {200: 20, 503: 80}
    held = [user_id for user_id, reply in zip(ids, replies, strict=True) if reply.status == 503]
    assert all(r.headers.get("Retry-After") for r in replies if r.status == 503)
    assert all("Deprovisioning is paused" in r.body["detail"] for r in replies if r.status == 503)

    def state() -> tuple[int, int, int, bool]:
        company = Company.objects.get(pk=live.company.pk)
        return (
            Member.objects.filter(pk__in=held, active=True).count(),
            ProvisioningEvent.objects.filter(outcome="held").count(),
            company.seats_used,
            company.deprovision_held_since is not None,
        )

    assert _db(django_db_blocker, live, state) == (80, 80, 80, True)

    # An owner releases the brake: the IdP's retries of the held requests go through.
    assert (
        _db(
            django_db_blocker,
            live,
            lambda: brake_release(
                company=Company.objects.get(pk=live.company.pk), actor="owner", confirmed=False
            ),
        )
        == 80
    )
    retried = _burst([deactivate(user_id) for user_id in held])

    assert Counter(reply.status for reply in retried) == {200: 80}
    active, _held_rows, used, tripped = _db(django_db_blocker, live, state)
    assert (active, used, tripped) == (0, 0, False)
