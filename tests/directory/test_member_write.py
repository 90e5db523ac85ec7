"""The member's statement (`directory.services._write`) with the write's events riding in it:
an update that finds no row writes neither the row nor an event, and takes no event number."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from django.utils import timezone

from directory.errors import MemberNotFound
from directory.ledger import CallContext, Subject, success_row
from directory.models import Member, ProvisioningEvent
from directory.services import _write
from events.feed.models import EventStream
from events.outbox import EventType, NewEvent, Origin, emission
from events.selectors import company_events_after
from tenants.models import Company

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
