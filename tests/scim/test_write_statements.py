"""What one SCIM write costs in statements, pinned: the writes IdPs send most (a create, a
deactivation, a PUT of a changed user, a group push) and the records each must still leave
(the ledger row, the change event, the seat count, the searchable values).

A write whose member statement is its last carries its change event and ledger row in that
statement (events.outbox `Emission.riding`), one statement fewer than when they ran on their
own after it. A create locks the reports waiting for it, takes its seat and adopts the
reports there too (directory.seats.TAKE_ONE_CTE, directory.selectors.WAITING_CTE), and a
deactivation gives its seat back under the brake there (directory.brake.DEPROVISION_ONE_CTE)
when nobody waits for a seat, and a reactivation takes its seat there; when someone does, or
the brake holds, that statement writes nothing and the deactivation takes the long way: the
waitlist's head prepared, the seat, the member, the head provisioned, then the event and
ledger row on their own. An update that changes nothing has no event and keeps its version: its ledger row is
written alone, or, for a user kept deactivated, rides in the member's statement with the
deletion of its waiting reactivation."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import Member, MemberValue, ProvisioningEvent, WaitlistEntry
from events.selectors import company_events_after
from tenants.models import Company
from tests.conftest import max_queries
from tests.scim_client import PATCH_OP, Scim, okta_user

pytestmark = pytest.mark.django_db

# Every SCIM request: the company's route, read with the credential in one statement. The
# test's own transaction makes each write's transaction a savepoint (SAVEPOINT and RELEASE,
# counted here; a server's request has BEGIN and COMMIT instead, which are not statements).
BEFORE_THE_VIEW = 1
SAVEPOINT = 2


DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


def _ledger(resource_id: str) -> list[tuple[str, str, int]]:
    return list(
        ProvisioningEvent.objects.filter(resource_id=resource_id)
        .order_by("id")
        .values_list("operation", "outcome", "status")
    )


def _events(company: Company, resource_id: str) -> list[str]:
    events = company_events_after(company.schema_name, 0, 10_000)
    return [event.type for event in events if str(event.resource_id) == resource_id]


def test_a_create_is_one_statement_and_leaves_every_record(scim: Scim, acme: Company) -> None:
    scim.get("/Users?count=1")  # the credential's first use is written once, not counted here
    used = Company.objects.get(pk=acme.pk).seats_used

    # Reports waiting for this manager, the seat, the member, its searchable values, the
    # ledger row and the change event: one statement.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 1) as counted:
        response = scim.post("/Users", okta_user("ada@acme.test"))

    assert response.status_code == 201, counted.statements
    uid = response.json()["id"]
    assert _ledger(uid) == [("create", "succeeded", 201)]
    assert _events(acme, uid) == ["user.created"]
    assert Company.objects.get(pk=acme.pk).seats_used == used + 1
    with schema_context(acme.schema_name):
        values = list(MemberValue.objects.filter(member_id=uid).values_list("value_lower"))
    assert values == [("ada@acme.test",)]


def test_a_deactivation_with_nobody_waiting_is_two_statements(scim: Scim, acme: Company) -> None:
    uid = scim.post("/Users", okta_user("bo@acme.test")).json()["id"]
    used = Company.objects.get(pk=acme.pk).seats_used
    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }

    # The member under its row lock with its groups; then the waitlist's head (nobody), the
    # seat (and the brake), the member, the ledger row and the change event in one statement.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 2) as counted:
        response = scim.patch(f"/Users/{uid}", deactivate)

    assert response.status_code == 200, counted.statements
    assert _ledger(uid)[-1] == ("patch", "succeeded", 200)
    assert _events(acme, uid) == ["user.created", "user.deactivated"]
    assert Company.objects.get(pk=acme.pk).seats_used == used - 1


def test_a_reactivation_is_three_statements_and_one_refused_its_seat_writes_nothing(
    scim: Scim, acme: Company
) -> None:
    uid = scim.post("/Users", okta_user("rae@acme.test", active=False)).json()["id"]
    used = Company.objects.get(pk=acme.pk).seats_used
    reactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True}}],
    }

    # A PATCH setting `active` true is tried without locks (directory.services.member_patch):
    # that read finds the user inactive. Then the member under its row lock with its groups;
    # then the seat, the member, the ledger row and the change event in one statement.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 3) as counted:
        response = scim.patch(f"/Users/{uid}", reactivate)
    assert response.status_code == 200, counted.statements
    assert Company.objects.get(pk=acme.pk).seats_used == used + 1
    assert scim.patch(f"/Users/{uid}", DEACTIVATE).status_code == 200
    Company.objects.filter(pk=acme.pk).update(seat_limit=used)
    before = company_events_after(acme.schema_name, 0, 10_000)[-1].seq

    refused = scim.patch(f"/Users/{uid}", reactivate)

    assert refused.status_code == 403
    assert Company.objects.get(pk=acme.pk).seats_used == used
    with schema_context(acme.schema_name):
        assert Member.objects.get(pk=uid).active is False
        assert WaitlistEntry.objects.filter(member_id=uid).exists()
    events = company_events_after(acme.schema_name, before, 10_000)
    assert [event.type for event in events] == ["company.seat_limit_reached"]
    assert _events(acme, uid) == ["user.created", "user.reactivated", "user.deactivated"]
    assert _ledger(uid)[-1] == ("patch", "failed", 403)


def test_a_patch_keeping_a_user_deactivated_forgets_its_reactivation_in_its_statement(
    scim: Scim, acme: Company
) -> None:
    uid = scim.post("/Users", okta_user("uma@acme.test", active=False)).json()["id"]
    Company.objects.filter(pk=acme.pk).update(seat_limit=Company.objects.get(pk=acme.pk).seats_used)
    reactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True}}],
    }
    assert scim.patch(f"/Users/{uid}", reactivate).status_code == 403
    with schema_context(acme.schema_name):
        assert WaitlistEntry.objects.filter(member_id=uid).exists()

    # The member under its row lock with its groups; then the waiting reactivation deleted,
    # the member and its ledger row (no change: no event) in one statement.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 2) as counted:
        response = scim.patch(f"/Users/{uid}", DEACTIVATE)

    assert response.status_code == 200, counted.statements
    with schema_context(acme.schema_name):
        assert not WaitlistEntry.objects.filter(member_id=uid).exists()
    assert _ledger(uid)[-1] == ("patch", "succeeded", 200)
    assert _events(acme, uid) == ["user.created"]


def test_a_put_is_two_statements_with_a_change_or_without(scim: Scim, acme: Company) -> None:
    uid = scim.post("/Users", okta_user("cy@acme.test")).json()["id"]
    renamed = okta_user("cy@acme.test", name={"givenName": "Cy", "familyName": "New"})

    # The member under its row lock with its groups, the member with the ledger row and the
    # change event.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 2) as counted:
        response = scim.put(f"/Users/{uid}", renamed)
    assert response.status_code == 200, counted.statements
    # The same again: no change event, no new version (the member's statement, read without
    # its lock, still checks that nobody changed it meanwhile).
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 2) as counted:
        again = scim.put(f"/Users/{uid}", renamed)

    assert again.status_code == 200, counted.statements
    assert again.json()["meta"] == response.json()["meta"]
    assert [sql for sql in counted.statements if "INSERT INTO directory_provisioningevent" in sql]
    assert _ledger(uid) == [
        ("create", "succeeded", 201),
        ("replace", "succeeded", 200),
        ("replace", "succeeded", 200),
    ]
    assert _events(acme, uid) == ["user.created", "user.updated"]


def test_a_put_that_changes_nothing_as_read_still_loses_no_change_made_meanwhile(
    scim: Scim, acme: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    from directory import services

    uid = scim.post("/Users", okta_user("flo@acme.test", title="Engineer")).json()["id"]
    etag = scim.get(f"/Users/{uid}").json()["meta"]["version"]
    read = services.member_get_with_roles
    stale = read(uid)  # what the PUT's unlocked read will have seen ...
    member = Member.objects.get(pk=uid)  # ... before another writer committed this
    member.attributes = {**member.attributes, "title": "Director"}
    member.version += 1
    member.save(update_fields=["attributes", "version"])

    def read_before_the_other_write(member_id: str, **kwargs: object) -> object:
        return read(member_id, **kwargs) if kwargs.get("for_update") else stale

    monkeypatch.setattr(services, "member_get_with_roles", read_before_the_other_write)
    same = okta_user("flo@acme.test", title="Engineer")  # no change to what it read

    refused = scim.put(f"/Users/{uid}", same, HTTP_IF_MATCH=etag)
    replaced = scim.put(f"/Users/{uid}", same)

    # The If-Match named the version the other writer replaced: 412, not a 200 that hid it;
    # without one, the PUT is applied over the other change, not dropped as "no change".
    assert refused.status_code == 412, refused.content
    assert replaced.status_code == 200 and replaced.json()["title"] == "Engineer"
    assert replaced.json()["meta"]["version"] != etag
    assert Member.objects.get(pk=uid).attributes["title"] == "Engineer"


def test_a_refused_create_leaves_its_failure_row_and_no_success_row(
    scim: Scim, acme: Company
) -> None:
    first = scim.post("/Users", okta_user("dee@acme.test", externalId="x-1"))
    used = Company.objects.get(pk=acme.pk).seats_used

    taken = scim.post("/Users", okta_user("DEE@acme.test", externalId="x-2"))

    assert taken.status_code == 409
    assert taken.json()["scimType"] == "uniqueness"
    assert Company.objects.get(pk=acme.pk).seats_used == used  # the seat taken was given back
    rows = list(
        ProvisioningEvent.objects.filter(user_name__iexact="dee@acme.test")
        .order_by("id")
        .values_list("outcome", "status")
    )
    assert rows == [("succeeded", 201), ("failed", 409)]
    assert _events(acme, first.json()["id"]) == ["user.created"]


def test_a_create_refused_its_seat_in_its_statement_leaves_no_member_value_or_event(
    scim: Scim, acme: Company
) -> None:
    scim.post("/Users", okta_user("mo@acme.test", externalId="m-1"))
    used = Company.objects.get(pk=acme.pk).seats_used
    Company.objects.filter(pk=acme.pk).update(seat_limit=used)
    before = company_events_after(acme.schema_name, 0, 10_000)[-1].seq

    refused = scim.post("/Users", okta_user("ned@acme.test", externalId="n-1"))

    assert refused.status_code == 403
    assert f"Seat limit reached: {used} of {used} seats in use." in refused.json()["detail"]
    assert Company.objects.get(pk=acme.pk).seats_used == used
    with schema_context(acme.schema_name):
        assert not Member.objects.filter(user_name="ned@acme.test").exists()
        assert not MemberValue.objects.filter(value_lower="ned@acme.test").exists()
    events = company_events_after(acme.schema_name, before, 10_000)
    assert [(event.seq, event.type) for event in events] == [
        (before + 1, "company.seat_limit_reached")
    ]
    rows = ProvisioningEvent.objects.filter(user_name="ned@acme.test")
    assert list(rows.values_list("outcome", "status")) == [("failed", 403)]
    with schema_context(acme.schema_name):
        assert WaitlistEntry.objects.filter(user_name="ned@acme.test").exists()


def test_a_refused_create_takes_no_event_number(scim: Scim, acme: Company) -> None:
    scim.post("/Users", okta_user("fay@acme.test", externalId="f-1"))
    before = company_events_after(acme.schema_name, 0, 10_000)[-1].seq

    assert scim.post("/Users", okta_user("FAY@acme.test", externalId="f-2")).status_code == 409
    assert scim.post("/Users", okta_user("gil@acme.test", externalId="f-1")).status_code == 409
    uid = scim.post("/Users", okta_user("hal@acme.test", externalId="h-1")).json()["id"]

    (event,) = company_events_after(acme.schema_name, before, 10_000)
    assert (event.seq, event.type, str(event.resource_id)) == (before + 1, "user.created", uid)
    with schema_context(acme.schema_name):
        assert not Member.objects.filter(user_name="gil@acme.test").exists()
    assert ProvisioningEvent.objects.filter(user_name="gil@acme.test").get().status == 409


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _waiting_for(scim: Scim, manager: str, user_name: str) -> str:
    manager_named = {ENTERPRISE: {"manager": {"value": manager}}}
    reply = scim.post("/Users", okta_user(user_name, externalId=user_name, **manager_named))
    assert reply.status_code == 201
    return str(reply.json()["id"])


@pytest.mark.parametrize("active", [True, False])
def test_a_create_adopts_the_reports_waiting_for_it_in_its_statement(
    scim: Scim, acme: Company, active: bool
) -> None:
    reports = [_waiting_for(scim, "jo@acme.test", f"ivy{n}@acme.test") for n in range(2)]
    other = _waiting_for(scim, "someone-else@acme.test", "kit@acme.test")
    used = Company.objects.get(pk=acme.pk).seats_used

    # Active: one statement. Created deactivated: the reports locked, then the waitlist
    # entries under its userName and under its externalId deleted (the lock order), then
    # its statement.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + (1 if active else 4)) as counted:
        response = scim.post("/Users", okta_user("jo@acme.test", externalId="jo-1", active=active))

    assert response.status_code == 201, counted.statements
    uid = response.json()["id"]
    assert _ledger(uid) == [("create", "succeeded", 201)]
    assert _events(acme, uid) == ["user.created"]
    assert Company.objects.get(pk=acme.pk).seats_used == used + active
    for report in reports:
        assert scim.get(f"/Users/{report}").json()[ENTERPRISE]["manager"]["value"] == uid
    with schema_context(acme.schema_name):
        adopted = set(
            Member.objects.filter(pk__in=reports).values_list("manager_id", "manager_ref")
        )
        left = Member.objects.get(pk=other)
    assert adopted == {(uuid.UUID(uid), "")}
    assert (left.manager_id, left.manager_ref) == (None, "someone-else@acme.test")


def test_a_create_refused_its_seat_adopts_no_report(scim: Scim, acme: Company) -> None:
    report = _waiting_for(scim, "nia@acme.test", "oz@acme.test")
    Company.objects.filter(pk=acme.pk).update(seat_limit=Company.objects.get(pk=acme.pk).seats_used)

    refused = scim.post("/Users", okta_user("nia@acme.test", externalId="nia-1"))

    assert refused.status_code == 403
    with schema_context(acme.schema_name):
        waiting = Member.objects.get(pk=report)
        assert not Member.objects.filter(user_name="nia@acme.test").exists()
    assert (waiting.manager_id, waiting.manager_ref) == (None, "nia@acme.test")


def test_a_deactivation_the_brake_holds_writes_nothing(scim: Scim, acme: Company) -> None:
    uid = scim.post("/Users", okta_user("pia@acme.test", externalId="p-1")).json()["id"]
    Company.objects.filter(pk=acme.pk).update(
        deprovision_held_since=timezone.now(), deprovision_window_start=timezone.now()
    )
    used = Company.objects.get(pk=acme.pk).seats_used
    before = company_events_after(acme.schema_name, 0, 10_000)[-1].seq
    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }

    held = scim.patch(f"/Users/{uid}", deactivate)

    assert held.status_code == 503
    assert scim.get(f"/Users/{uid}").json()["active"] is True
    with schema_context(acme.schema_name):
        assert Member.objects.get(pk=uid).version == 1
    assert Company.objects.get(pk=acme.pk).seats_used == used
    assert company_events_after(acme.schema_name, before, 10_000) == []
    assert _ledger(uid) == [("create", "succeeded", 201), ("patch", "held", 503)]


def test_a_deactivation_giving_its_seat_to_the_next_in_line_records_both_in_order(
    scim: Scim, acme: Company
) -> None:
    seated = scim.post("/Users", okta_user("kim@acme.test", externalId="k-1")).json()["id"]
    Company.objects.filter(pk=acme.pk).update(seat_limit=Company.objects.get(pk=acme.pk).seats_used)
    assert scim.post("/Users", okta_user("lee@acme.test", externalId="l-1")).status_code == 403
    before = company_events_after(acme.schema_name, 0, 10_000)[-1].seq
    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }

    assert scim.patch(f"/Users/{seated}", deactivate).status_code == 200

    # The deactivation's event, written on its own, then the waitlist's create (its own
    # statement with its event), in the same transaction: the seat is freed before it is taken.
    events = company_events_after(acme.schema_name, before, 10_000)
    assert [(event.seq, event.type, event.user_name) for event in events] == [
        (before + 1, "user.deactivated", "kim@acme.test"),
        (before + 2, "user.created", "lee@acme.test"),
    ]
    assert _ledger(seated)[-1] == ("patch", "succeeded", 200)
    lee = ProvisioningEvent.objects.filter(user_name="lee@acme.test").order_by("id")
    assert list(lee.values_list("outcome", "status")) == [("failed", 403), ("succeeded", 201)]


def test_a_put_changing_an_email_rewrites_the_searchable_values_in_the_same_statement(
    scim: Scim, acme: Company
) -> None:
    uid = scim.post("/Users", okta_user("eve@acme.test")).json()["id"]
    moved = okta_user(
        "eve@acme.test",
        emails=[
            {"value": "Eve@New.test", "type": "work", "primary": True},
            {"value": "eve@home.test", "type": "home"},
        ],
    )

    # The member under its row lock with its groups, the member with its searchable values,
    # the ledger row and the change event.
    with max_queries(BEFORE_THE_VIEW + SAVEPOINT + 2) as counted:
        response = scim.put(f"/Users/{uid}", moved)

    assert response.status_code == 200, counted.statements
    with schema_context(acme.schema_name):
        values = sorted(MemberValue.objects.filter(member_id=uid).values_list("value_lower"))
        stored = Member.objects.get(pk=uid).primary_email
    assert values == [("eve@home.test",), ("eve@new.test",)]
    assert stored == "eve@new.test"  # folded by the database, as filters fold
    found = scim.get('/Users?filter=emails[type eq "home" and value eq "eve@home.test"]').json()
    assert [user["id"] for user in found["Resources"]] == [uid]
    assert scim.get('/Users?filter=emails eq "eve@acme.test"').json()["totalResults"] == 0
    assert scim.get(f"/Users/{uid}").json()["emails"][0]["value"] == "Eve@New.test"


def test_a_scim_request_builds_no_header_mapping(scim: Scim) -> None:
    """Every middleware and view on the SCIM path reads the headers it needs from META:
    `request.headers` parses every header of every request into a new mapping."""
    response = scim.post("/Users", okta_user("ada@acme.test"), HTTP_X_REQUEST_ID="okta-req-1234")

    assert response.status_code == 201
    assert response["X-Request-ID"] == "okta-req-1234"
    assert "headers" not in response.wsgi_request.__dict__
