"""The member's statement (`directory.services._write`) with the write's events riding in it,
a create's seat and waiting reports, a deactivation's seat: an update that finds no row
writes neither the row nor an event, and takes no event number; a create locks the reports
waiting for it, then its seat, then its userName; a deactivation gives its seat back before
its event locks the stream row, and an update keeping a user deactivated forgets its waiting
reactivation before that too."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.errors import MemberNotFound
from directory.ledger import CallContext, Subject, success_row
from directory.models import Member, ProvisioningEvent, WaitlistEntry
from directory.seats import seats_take
from directory.selectors import members_waiting_for
from directory.services import _write, member_create, member_patch
from directory.waitlist import waitlist_add
from events.feed.models import EventStream
from events.outbox import EventType, NewEvent, Origin, emission, emit
from events.selectors import company_events_after
from scim_protocol.errors import Uniqueness
from tenants.models import Company
from tests.live import in_thread, live_scim_company, lock_order_race

pytestmark = pytest.mark.django_db
T = TypeVar("T")


def test_an_update_of_a_row_gone_raises_and_writes_no_event(acme: Company) -> None:
    now = timezone.now()
    ghost = Member(
        id=uuid.uuid4(), user_name="ghost@acme.test", attributes={}, created_at=now, updated_at=now
    )
    ghost._state.adding = False
    subject = Subject("User", ghost.id, user_name=ghost.user_name)
    built = emission(
        [NewEvent(type=EventType.USER_UPDATED, resource_type="User", resource_id=ghost.id)],
        origin=Origin(),
        along=success_row("patch", subject, CallContext(), 200),
    )
    assert built is not None and built.bound
    last = EventStream.objects.filter(schema_name=acme.schema_name).first()
    events = company_events_after(acme.schema_name, 0, 10_000)

    with pytest.raises(MemberNotFound), transaction.atomic():
        _write(ghost, insert=False, values=True, recording=built)

    assert company_events_after(acme.schema_name, 0, 10_000) == events
    now_last = EventStream.objects.filter(schema_name=acme.schema_name).first()
    assert (now_last and now_last.last_seq) == (last and last.last_seq)
    assert not ProvisioningEvent.objects.filter(resource_id=ghost.id).exists()


@pytest.mark.live
def test_a_create_takes_its_seat_before_its_username(django_db_blocker: Any) -> None:
    """The seat (the company's row) is locked before the new userName's index entry, in the
    one statement of a create: a write holding the seat lock and then writing that userName
    (a reactivation renaming its member) makes the create wait and then answer 409, where
    the other order deadlocked."""
    with live_scim_company(django_db_blocker) as live:
        company = live.company

        def rename_into_the_name() -> None:
            taken = Member(
                id=uuid.uuid4(),
                user_name="x@live.test",
                attributes={},
                created_at=timezone.now(),
                updated_at=timezone.now(),
            )
            _write(taken, insert=True, values=False)

        def create() -> int:
            try:
                member_create(
                    company=company, payload={"userName": "x@live.test"}, context=CallContext()
                )
            except Uniqueness as refused:
                return refused.status
            return 201

        status = lock_order_race(
            django_db_blocker,
            company.schema_name,
            holder_first=lambda: seats_take(company),
            holder_then=rename_into_the_name,
            other=create,
        )
        assert status == 409

        def seats() -> int:
            with django_db_blocker.unblock():
                used = Company.objects.get(pk=company.pk).seats_used
            connection.close()
            return used

        assert in_thread(seats) == 1


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _lock_the_stream_row() -> None:
    """What every write does last: an event, which locks the company's stream row."""
    emit(
        [NewEvent(type=EventType.USER_CREATED, resource_type="User", user_name="h")],
        origin=Origin(),
    )


def _committed(django_db_blocker: Any, company: Company, payload: dict[str, Any]) -> str:
    """Create a member in a transaction of its own (visible to the racing connections)."""

    def create() -> str:
        with django_db_blocker.unblock(), schema_context(company.schema_name):
            created = member_create(company=company, payload=payload, context=CallContext())
        connection.close()
        return str(created.pk)

    return in_thread(create)


def _read(django_db_blocker: Any, company: Company, read: Callable[[], T]) -> T:
    def run() -> T:
        with django_db_blocker.unblock(), schema_context(company.schema_name):
            found = read()
        connection.close()
        return found

    return in_thread(run)


@pytest.mark.live
def test_a_create_locks_the_reports_waiting_for_it_before_its_seat(
    django_db_blocker: Any,
) -> None:
    """A create's one statement locks the reports waiting for it before the seat (the
    company's row): a write holding such a report and then taking the seat, in
    directory.selectors' order, makes the create wait and then adopt the report, where the
    other order deadlocked."""
    with live_scim_company(django_db_blocker) as live:
        company = live.company
        report = _committed(
            django_db_blocker,
            company,
            {"userName": "r@live.test", ENTERPRISE: {"manager": {"value": "boss@live.test"}}},
        )

        boss = lock_order_race(
            django_db_blocker,
            company.schema_name,
            holder_first=lambda: members_waiting_for(uuid.uuid4(), "boss@live.test"),
            holder_then=lambda: seats_take(company),
            other=lambda: member_create(
                company=company, payload={"userName": "boss@live.test"}, context=CallContext()
            ),
        )

        adopted = _read(
            django_db_blocker, company, lambda: Member.objects.get(pk=report).manager_id
        )
        assert adopted == boss.pk


@pytest.mark.live
@pytest.mark.parametrize(("active", "event"), [(False, "deactivated"), (True, "reactivated")])
def test_an_update_flipping_active_locks_the_seat_before_the_stream(
    django_db_blocker: Any, active: bool, event: str
) -> None:
    """A deactivation's or reactivation's one statement gives back or takes the seat (the
    company's row) before its event locks the stream row: a write holding the seat lock and
    then writing an event makes the update wait and then follow it, where the other order
    deadlocked."""
    with live_scim_company(django_db_blocker) as live:
        company = live.company
        member_id = _committed(
            django_db_blocker, company, {"userName": "d@live.test", "active": not active}
        )

        lock_order_race(
            django_db_blocker,
            company.schema_name,
            holder_first=lambda: seats_take(company),
            holder_then=_lock_the_stream_row,
            other=lambda: member_patch(
                company=company,
                member_id=member_id,
                operations=[{"op": "replace", "path": "active", "value": active}],
                context=CallContext(),
            ),
        )

        events = _read(
            django_db_blocker,
            company,
            lambda: [e.type for e in company_events_after(company.schema_name, 0, 100)],
        )
        assert events[-2:] == ["user.created", f"user.{event}"]
        now = _read(django_db_blocker, company, lambda: Member.objects.get(pk=member_id).active)
        assert now is active


@pytest.mark.live
def test_an_update_keeping_a_user_deactivated_forgets_its_reactivation_before_the_stream(
    django_db_blocker: Any,
) -> None:
    """An update of a deactivated user that stays so deletes the user's waiting reactivation
    in its statement before its event locks the stream row: a write holding that waitlist
    row and then writing an event (a drain, which holds the line's head while it writes)
    makes the update wait and then follow it, where the other order deadlocked."""
    with live_scim_company(django_db_blocker) as live:
        company = live.company
        member_id = _committed(
            django_db_blocker, company, {"userName": "w@live.test", "active": False}
        )

        def wait_for_a_seat() -> None:
            with transaction.atomic():
                waitlist_add(
                    operation=WaitlistEntry.Operation.REACTIVATE,
                    resource={"userName": "w@live.test"},
                    member_id=uuid.UUID(member_id),
                    idp="tests",
                )

        _read(django_db_blocker, company, wait_for_a_seat)

        lock_order_race(
            django_db_blocker,
            company.schema_name,
            holder_first=lambda: list(WaitlistEntry.objects.select_for_update()),
            holder_then=_lock_the_stream_row,
            other=lambda: member_patch(
                company=company,
                member_id=member_id,
                operations=[{"op": "replace", "path": "displayName", "value": "Still away"}],
                context=CallContext(),
            ),
        )

        events = _read(
            django_db_blocker,
            company,
            lambda: [e.type for e in company_events_after(company.schema_name, 0, 100)],
        )
        assert events[-2:] == ["user.created", "user.updated"]
        assert not _read(django_db_blocker, company, lambda: WaitlistEntry.objects.exists())
