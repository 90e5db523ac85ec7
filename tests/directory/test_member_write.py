"""The member's statement (`directory.services._write`) with the write's events riding in it,
and a create's seat: an update that finds no row writes neither the row nor an event, and
takes no event number; a create locks its seat before its userName."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from directory.errors import MemberNotFound
from directory.ledger import CallContext, Subject, success_row
from directory.models import Member, ProvisioningEvent
from directory.seats import seats_take
from directory.services import _write, member_create
from events.feed.models import EventStream
from events.outbox import EventType, NewEvent, Origin, emission
from events.selectors import company_events_after
from scim_protocol.errors import Uniqueness
from tenants.models import Company
from tests.live import in_thread, live_scim_company, lock_order_race

pytestmark = pytest.mark.django_db


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
