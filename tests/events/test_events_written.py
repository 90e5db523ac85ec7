"""Every directory change becomes an event in the company's outbox, in the transaction of the
change: SCIM calls as an IdP sends them, through the API client."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from directory.models import ProvisioningEvent
from events.feed.models import EventStream
from events.outbox import Along, EventType, NewEvent, Origin, emission, emit
from events.selectors import Event, company_events_after
from tenants.models import Company
from tenants.services import company_set_scim
from tests.conftest import max_queries
from tests.scim_client import PATCH_OP, Scim, okta_user
from tokens.services import basic_issue, basic_regenerate, credential_revoke, token_issue

pytestmark = pytest.mark.django_db


def _last_seq(company: Company) -> int:
    events = company_events_after(company.schema_name, 0, 10**6)
    return events[-1].seq if events else 0


class Outbox:
    """The events written since the test began."""

    def __init__(self, company: Company):
        self.company, self.seen = company, _last_seq(company)

    def new(self) -> list[Event]:
        events = company_events_after(self.company.schema_name, self.seen, 10_000)
        if events:
            self.seen = events[-1].seq
        return events

    def types(self) -> list[str]:
        return [event.type for event in self.new()]


@pytest.fixture
def outbox(acme: Company, scim: Scim) -> Outbox:
    return Outbox(acme)  # after the `scim` fixture issued its token (an event of its own)


def test_user_lifecycle_events_carry_the_resource_and_the_call(
    scim: Scim, outbox: Outbox, settings: Any
) -> None:
    # Events are written outside any request's host: their URLs come from PUBLIC_BASE_URL.
    settings.PUBLIC_BASE_URL = "http://testserver"
    created = scim.post("/Users", okta_user("ada@acme.test"), HTTP_X_REQUEST_ID="req-1").json()
    uid = created["id"]
    (event,) = outbox.new()
    assert event.type == EventType.USER_CREATED
    assert (str(event.resource_id), event.user_name, event.external_id) == (
        uid,
        "ada@acme.test",
        "00ujl29u0le5T6Aj10h7",
    )
    assert event.data == created  # the resource exactly as the API answered it
    assert "password" not in event.data
    assert event.idp == "Okta SCIM Client 1.0.0"
    assert event.request_id

    scim.patch(
        f"/Users/{uid}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]},
    )
    (updated,) = outbox.new()
    assert updated.type == EventType.USER_UPDATED and updated.changed == ["title"]
    assert updated.data["title"] == "CTO"
    assert updated.data == scim.get(f"/Users/{uid}").json()

    deactivate = {"op": "replace", "value": {"active": False}}
    scim.patch(f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [deactivate]})
    (deactivated,) = outbox.new()
    assert deactivated.type == EventType.USER_DEACTIVATED and deactivated.changed == ["active"]
    assert deactivated.data["active"] is False

    scim.put(f"/Users/{uid}", okta_user("ada@acme.test", title="CTO", active=True))
    (reactivated,) = outbox.new()
    assert reactivated.type == EventType.USER_REACTIVATED
    assert reactivated.changed == ["active"]

    scim.delete(f"/Users/{uid}")
    (deleted,) = outbox.new()
    assert deleted.type == EventType.USER_DELETED and deleted.data is None
    assert (str(deleted.resource_id), deleted.user_name) == (uid, "ada@acme.test")
    assert [event.seq for event in (event, updated, deactivated, reactivated, deleted)] == list(
        range(event.seq, event.seq + 5)
    )


def test_an_update_that_changes_nothing_writes_no_event(scim: Scim, outbox: Outbox) -> None:
    uid = scim.post("/Users", okta_user("same@acme.test")).json()["id"]
    outbox.new()

    assert scim.put(f"/Users/{uid}", okta_user("same@acme.test")).status_code == 200

    assert outbox.types() == []


def test_group_events_one_per_member_change(scim: Scim, outbox: Outbox) -> None:
    ids = [scim.post("/Users", {"userName": f"m{i}@acme.test"}).json()["id"] for i in range(3)]
    outbox.new()

    group = scim.post(
        "/Groups", {"displayName": "Admins", "members": [{"value": ids[0]}, {"value": ids[1]}]}
    ).json()
    created = outbox.new()
    assert [e.type for e in created] == [EventType.GROUP_CREATED] + [
        EventType.GROUP_MEMBER_ADDED
    ] * 2
    assert created[0].data["displayName"] == "Admins" and "members" not in created[0].data
    assert {str(e.resource_id) for e in created[1:]} == {ids[0], ids[1]}
    assert created[1].data["group"] == {"id": group["id"], "displayName": "Admins"}
    assert created[1].user_name in ("m0@acme.test", "m1@acme.test")

    # Okta: remove by filter, then add, in one PATCH (the fast path).
    scim.patch(
        f"/Groups/{group['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
                {"op": "add", "path": "members", "value": [{"value": ids[2]}]},
                {"op": "add", "path": "members", "value": [{"value": ids[1]}]},  # already in
            ],
        },
    )
    changes = [(e.type, str(e.resource_id)) for e in outbox.new()]
    assert changes == [
        (EventType.GROUP_MEMBER_REMOVED, ids[0]),
        (EventType.GROUP_MEMBER_ADDED, ids[2]),
    ]

    rename = {"op": "replace", "path": "displayName", "value": "Owners"}
    scim.patch(f"/Groups/{group['id']}", {"schemas": [PATCH_OP], "Operations": [rename]})
    (renamed,) = outbox.new()
    assert renamed.type == EventType.GROUP_RENAMED and renamed.changed == ["displayName"]
    assert renamed.data["displayName"] == "Owners"

    # PUT (the general path): new externalId, members exactly ids[0].
    scim.put(
        f"/Groups/{group['id']}",
        {"displayName": "Owners", "externalId": "g-1", "members": [{"value": ids[0]}]},
    )
    put = [(e.type, e.changed, str(e.resource_id)) for e in outbox.new()]
    assert put[0] == (EventType.GROUP_UPDATED, ["externalId"], group["id"])
    assert sorted(put[1:]) == sorted(
        [
            (EventType.GROUP_MEMBER_REMOVED, [], ids[1]),
            (EventType.GROUP_MEMBER_REMOVED, [], ids[2]),
            (EventType.GROUP_MEMBER_ADDED, [], ids[0]),
        ]
    )

    scim.delete(f"/Groups/{group['id']}")
    assert outbox.types() == [EventType.GROUP_DELETED]


def test_a_group_push_writes_its_member_events_in_one_statement(scim: Scim, outbox: Outbox) -> None:
    ids = [scim.post("/Users", {"userName": f"p{i}@acme.test"}).json()["id"] for i in range(40)]
    group = scim.post("/Groups", {"displayName": "Push"}).json()
    outbox.new()
    add = {"op": "add", "path": "members", "value": [{"value": i} for i in ids]}

    with max_queries(100) as counted:
        scim.patch(f"/Groups/{group['id']}", {"schemas": [PATCH_OP], "Operations": [add]})

    inserts = [sql for sql in counted.statements if "events_changeevent" in sql]
    assert len(inserts) == 1
    assert outbox.types() == [EventType.GROUP_MEMBER_ADDED] * 40


def test_a_refused_write_leaves_no_event(scim: Scim, outbox: Outbox) -> None:
    scim.post("/Users", okta_user("taken@acme.test", externalId="x-1"))
    outbox.new()

    assert scim.post("/Users", okta_user("taken@acme.test", externalId="x-2")).status_code == 409
    bad = {"op": "replace", "path": "members", "value": [{"value": "not-a-user"}]}
    group = scim.post("/Groups", {"displayName": "G"}).json()
    outbox.new()
    assert (
        scim.patch(
            f"/Groups/{group['id']}", {"schemas": [PATCH_OP], "Operations": [bad]}
        ).status_code
        == 400
    )

    assert outbox.types() == []


def test_a_rolled_back_transaction_takes_its_events_and_numbers_with_it(
    acme: Company, outbox: Outbox
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        emit([NewEvent(type=EventType.USER_CREATED, resource_type="User")], origin=Origin())
        raise Boom

    assert outbox.new() == []
    with transaction.atomic():
        emit([NewEvent(type=EventType.USER_DELETED, resource_type="User")], origin=Origin())
    (kept,) = outbox.new()
    assert kept.seq == outbox.seen  # the rolled-back number was given again: no gap


# A write's statement with the events riding in it: `written` stands for the write's
# RETURNING, a row or none.
_RIDDEN = """
WITH written AS (SELECT 1 AS one WHERE %(wrote)s),
{ctes}
SELECT count(*) FROM written
"""
_NOTE = Along(
    "INSERT INTO directory_provisioningevent (created_at, operation, resource_type, "
    "resource_id, user_name, external_id, display_name, outcome, status, scim_type, detail, "
    "idp, credential, request_id) SELECT now(), 'create', 'User', NULL, %(note_name)s, '', "
    "'', 'succeeded', 201, '', '', '', '', ''",
    {"note_name": "rider@acme.test"},
)


def _ride(wrote: bool) -> None:
    built = emission(
        [NewEvent(type=EventType.USER_CREATED, resource_type="User", user_name="rider")],
        origin=Origin(),
        along=_NOTE,
    )
    assert built is not None and built.bound
    ctes, params = built.riding("written", {"wrote": wrote})
    with connection.cursor() as cursor:
        cursor.execute(_RIDDEN.format(ctes=ctes), params)


def test_events_riding_a_write_are_numbered_next_and_written_with_its_along_row(
    acme: Company, outbox: Outbox
) -> None:
    with transaction.atomic():
        _ride(wrote=True)

    (event,) = outbox.new()
    assert (event.type, event.user_name) == (EventType.USER_CREATED, "rider")
    assert EventStream.objects.get(schema_name=acme.schema_name).last_seq == event.seq
    assert ProvisioningEvent.objects.filter(user_name="rider@acme.test").count() == 1


def test_events_riding_a_write_that_wrote_nothing_take_no_number_and_leave_no_row(
    acme: Company, outbox: Outbox
) -> None:
    last = EventStream.objects.get(schema_name=acme.schema_name).last_seq

    with transaction.atomic():
        _ride(wrote=False)

    # Nothing of the statement is left, though its transaction committed: such a statement
    # may be its whole transaction (infra.transactions).
    assert outbox.new() == []
    assert EventStream.objects.get(schema_name=acme.schema_name).last_seq == last
    assert not ProvisioningEvent.objects.filter(user_name="rider@acme.test").exists()


def test_riding_refuses_another_companys_events_and_a_parameter_clash(acme: Company) -> None:
    event = NewEvent(type=EventType.USER_CREATED, resource_type="User")
    own = emission([event], origin=Origin())
    other = emission([event], origin=Origin(), schema_name="public")
    assert own is not None and other is not None

    with pytest.raises(ValueError, match="own company"):
        other.riding("written", {})
    with pytest.raises(ValueError, match="count"):
        own.riding("written", {"count": 1})


def test_emit_refuses_to_run_outside_a_transaction(acme: Company) -> None:
    assert connection.in_atomic_block  # the test's own transaction: leave it for a moment
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError):
            emit([NewEvent(type=EventType.USER_CREATED, resource_type="User")], origin=Origin())
    finally:
        connection.in_atomic_block = True


def test_seat_limit_reached_is_an_event_though_the_create_is_refused(
    scim: Scim, acme: Company, outbox: Outbox
) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=acme.seats_used)

    response = scim.post("/Users", okta_user("late@acme.test"))

    assert response.status_code == 403
    (event,) = outbox.new()
    assert event.type == EventType.SEAT_LIMIT_REACHED
    assert event.data["refusedUserName"] == "late@acme.test"


@pytest.mark.parametrize("frees", ["deactivate", "delete"])
def test_a_freed_seat_is_an_event_before_the_waiting_persons_create(
    scim: Scim, acme: Company, outbox: Outbox, frees: str
) -> None:
    seated = scim.post("/Users", okta_user("seated@acme.test", externalId="s")).json()["id"]
    Company.objects.filter(pk=acme.pk).update(seat_limit=1)
    assert scim.post("/Users", okta_user("waiting@acme.test", externalId="w")).status_code == 403
    outbox.new()

    if frees == "delete":
        assert scim.delete(f"/Users/{seated}").status_code == 204
    else:
        deactivate = {"op": "replace", "path": "active", "value": False}
        response = scim.patch(
            f"/Users/{seated}", {"schemas": [PATCH_OP], "Operations": [deactivate]}
        )
        assert response.status_code == 200

    # A vendor replaying the stream never sees two active people on one seat.
    assert [(event.type, event.user_name) for event in outbox.new()] == [
        (f"user.{frees}d", "seated@acme.test"),
        (EventType.USER_CREATED, "waiting@acme.test"),
    ]


def test_company_level_events(acme: Company, outbox: Outbox) -> None:
    connection.set_schema_to_public()
    company_set_scim(company=acme, enabled=False, actor="support@headcount.test", reason="Test")
    company_set_scim(company=acme, enabled=True, actor="support@headcount.test")
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Entra", actor="owner@acme.test")
        credential_revoke(credential_id=str(issued.credential.pk), actor="owner@acme.test")

    events = outbox.new()

    assert [e.type for e in events] == [
        EventType.SCIM_DISABLED,
        EventType.SCIM_ENABLED,
        EventType.CREDENTIAL_CREATED,
        EventType.CREDENTIAL_REVOKED,
    ]
    assert events[0].data == {
        "company": "acme",
        "scimEnabled": False,
        "actor": "support@headcount.test",
    }
    stored: Any = [e.data for e in events[2:]]
    assert stored[0]["credential"]["name"] == "Entra"
    assert issued.secret not in repr(stored) and issued.secret[:12] not in repr(stored)


def test_regenerating_the_basic_secret_is_an_event_without_the_secret(
    acme: Company, outbox: Outbox
) -> None:
    issued = basic_issue(company=acme, actor="owner@acme.test")
    outbox.new()

    renewed = basic_regenerate(
        company=acme, credential_id=str(issued.credential.pk), actor="admin@acme.test"
    )

    (event,) = outbox.new()
    assert event.type == EventType.CREDENTIAL_REGENERATED
    assert event.data == {
        "credential": {
            "id": str(issued.credential.pk),
            "kind": "basic",
            "name": "Basic credentials",
        },
        "actor": "admin@acme.test",
    }
    assert renewed.secret not in repr(event) and renewed.secret[:12] not in repr(event)
    assert issued.secret[:12] not in repr(event)
