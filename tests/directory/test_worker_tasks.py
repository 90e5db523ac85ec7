"""Periodic tasks, queued on the real broker and run by a real Celery worker (not eager)."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import ProvisioningEvent
from directory.tasks import ledger_purge_all, seat_check_all
from tenants.models import Company, SeatUsage
from tests.live import IdP, company_update, in_thread, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]


def eventually(check: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            log = sorted(
                Path(tempfile.gettempdir()).glob("pytest-of-*/pytest-*/worker*/worker.log")
            )
            tail = log[-1].read_text()[-3000:] if log else "(no worker log found)"
            pytest.fail(f"the worker did not do it in time; its log ends with:\n{tail}")
        time.sleep(0.2)


def test_seat_check_and_retention_run_in_the_worker(
    live_server_url: str, celery_worker_process: Any, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta")
        for name in ("a", "b", "c", "d"):
            assert idp.call("POST", "/Users", {"userName": f"{name}@live.test"}).status == 201

        def arrange() -> None:
            with django_db_blocker.unblock():
                Company.objects.filter(pk=live.company.pk).update(seat_limit=5, seats_used=0)
                with schema_context(live.company.schema_name):
                    oldest = ProvisioningEvent.objects.order_by("id").first()
                    ProvisioningEvent.objects.filter(pk=oldest.pk).update(
                        created_at=timezone.now() - dt.timedelta(days=120)
                    )

        in_thread(arrange)
        seat_check_all.delay()
        ledger_purge_all.delay()

        def checked() -> bool:
            with django_db_blocker.unblock():
                company = Company.objects.get(pk=live.company.pk)
                with schema_context(company.schema_name):
                    purged = ProvisioningEvent.objects.count() == 3
                return company.seats_checked_at is not None and purged

        eventually(lambda: in_thread(checked))

        def state() -> tuple[int, str, int]:
            with django_db_blocker.unblock():
                company = Company.objects.get(pk=live.company.pk)
                return (
                    company.seats_used,
                    company.seat_level,
                    SeatUsage.objects.filter(company=company).count(),
                )

        assert in_thread(state) == (4, "warning", 1)


@pytest.mark.live
@pytest.mark.django_db
def test_a_limit_raise_past_one_batch_is_drained_by_the_worker(
    live_server_url: str, celery_worker_process: Any, django_db_blocker: Any, settings: Any
) -> None:
    """More people fit than one transaction provisions: the rest go to the Celery task, which
    provisions them through the same services, oldest first, and queues itself while more fit."""
    from directory.models import WaitlistEntry
    from directory.services import seat_limit_set

    settings.WAITLIST_DRAIN_BATCH = 2  # in this process only: the worker drains 100 at a time
    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta")
        company_update(django_db_blocker, live.company, seat_limit=0)
        for n in range(6):
            assert idp.call("POST", "/Users", {"userName": f"w{n}@live.test"}).status == 403

        def raise_limit() -> int:
            with django_db_blocker.unblock():
                company = Company.objects.get(pk=live.company.pk)
                return seat_limit_set(company=company, limit=5, actor="tests").now

        assert in_thread(raise_limit) == 2

        def waiting() -> list[str]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                return list(WaitlistEntry.objects.values_list("user_name", flat=True))

        eventually(lambda: in_thread(waiting) == ["w5@live.test"])

        def state() -> tuple[int, list[str]]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                provisioned = ProvisioningEvent.objects.filter(
                    idp="Headcount waitlist", outcome="succeeded"
                ).order_by("id")
                return (
                    Company.objects.get(pk=live.company.pk).seats_used,
                    list(provisioned.values_list("user_name", flat=True)),
                )

        assert in_thread(state) == (5, [f"w{n}@live.test" for n in range(5)])


def test_the_hourly_recount_that_frees_seats_provisions_the_waiting_in_the_worker(
    live_server_url: str, celery_worker_process: Any, django_db_blocker: Any
) -> None:
    # The stored count drifted above the real one: the company looked full, a create was
    # waitlisted. The recount finds the free seat and gives it to the oldest waiting person.
    from directory.models import Member, WaitlistEntry

    with live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(live_server_url, live, "Okta")
        assert idp.call("POST", "/Users", {"userName": "seated@live.test"}).status == 201
        company_update(django_db_blocker, live.company, seat_limit=2, seats_used=2)
        for name in ("first", "second"):
            assert idp.call("POST", "/Users", {"userName": f"{name}@live.test"}).status == 403

        seat_check_all.delay()

        def provisioned() -> bool:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                return Member.objects.filter(user_name="first@live.test", active=True).exists()

        eventually(lambda: in_thread(provisioned))

        def state() -> tuple[int, str, list[str], list[str]]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                company = Company.objects.get(pk=live.company.pk)
                return (
                    company.seats_used,
                    company.seat_level,
                    list(WaitlistEntry.objects.values_list("user_name", flat=True)),
                    list(
                        ProvisioningEvent.objects.filter(
                            idp="Headcount waitlist", outcome="succeeded"
                        ).values_list("user_name", flat=True)
                    ),
                )

        assert in_thread(state) == (2, "full", ["second@live.test"], ["first@live.test"])
