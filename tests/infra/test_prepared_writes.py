"""A SCIM write's own statements (the member row with its searchable values, the ledger row
with the change event) are sent with their values bound and prepared on the connection
(`connection.prepared_cursor()`, DB_PREPARED_STATEMENTS), write into the schema of the company
of each request however companies alternate on the connection, and store every value exactly
as sent; switched off, they are sent as every other statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from directory import change_events
from directory.models import Member, MemberValue, ProvisioningEvent
from events.selectors import company_events_after
from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim, okta_user
from tokens.services import token_issue

pytestmark = pytest.mark.django_db
RUNS_BEFORE_PREPARED = 5  # psycopg's threshold (settings: OPTIONS["prepare_threshold"])


def _scim(company: Company, client: Client) -> Scim:
    with schema_context(company.schema_name):
        issued = token_issue(company=company, name="Okta", actor="tests")
    return Scim(client, issued.secret, base=f"/t/{company.slug}/scim/v2")


def _prepared() -> list[str]:
    """The texts of the statements prepared on this connection that write members or events."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements "
            "WHERE statement LIKE '%%directory_member%%' "
            "OR statement LIKE '%%events_changeevent%%' ORDER BY prepare_time"
        )
        return [row[0] for row in cursor.fetchall()]


def _placed(company: Company, uid: str) -> dict[str, Any]:
    """Where the member `uid` and its records are, as seen from `company`'s schema."""
    with schema_context(company.schema_name):
        return {
            "member": Member.objects.filter(pk=uid).exists(),
            "ledger": ProvisioningEvent.objects.filter(resource_id=uid).count(),
            "events": [
                event.type
                for event in company_events_after(company.schema_name, 0, 10_000)
                if str(event.resource_id) == uid
            ],
        }


def test_two_companies_alternating_on_one_connection_each_write_their_own_schema(
    acme: Company, outsider: Company, client: Client, settings: Any
) -> None:
    settings.DB_PREPARED_STATEMENTS = True  # whatever the suite runs with (CI's embedded lane: off)
    idps = {acme.slug: _scim(acme, client), outsider.slug: _scim(outsider, client)}
    created: dict[str, list[str]] = {acme.slug: [], outsider.slug: []}

    # Each company's creates and updates run the same prepared statements, in turn, on the
    # test's one connection: the search_path changes between every two of them.
    for round_ in range(3):
        for slug, idp in idps.items():
            name = f"r{round_}@{slug}.test"
            response = idp.post("/Users", okta_user(name, externalId=name))
            assert response.status_code == 201, response.json()
            uid = response.json()["id"]
            renamed = idp.put(f"/Users/{uid}", okta_user(name, externalId=name, title="T"))
            assert renamed.status_code == 200, renamed.json()
            created[slug].append(uid)

    # The create's statement and the update's, each with its events and ledger row, however
    # long the connection has been open (the read before an update may or may not be among
    # them: other statements may have taken its place in psycopg's cache).
    prepared = _prepared()
    assert any(text.lstrip().startswith("WITH waiting AS") for text in prepared), prepared
    assert any(
        text.lstrip().startswith("WITH member AS (\nUPDATE directory_member SET")
        for text in prepared
    ), prepared
    for company, other in ((acme, outsider), (outsider, acme)):
        for uid in created[company.slug]:
            assert _placed(company, uid) == {
                "member": True,
                "ledger": 2,
                "events": ["user.created", "user.updated"],
            }
            assert _placed(other, uid) == {"member": False, "ledger": 0, "events": []}


def test_a_write_sends_its_values_bound_to_a_statement_prepared_once(
    acme: Company, scim: Scim, settings: Any
) -> None:
    settings.DB_PREPARED_STATEMENTS = True
    # The connection prepares a statement once it has run it RUNS_BEFORE_PREPARED times.
    for n in range(RUNS_BEFORE_PREPARED + 1):
        scim.post("/Users", okta_user(f"first{n}@acme.test", externalId=f"first{n}"))
    prepared = _prepared()

    scim.post("/Users", okta_user("second@acme.test", externalId="second"))

    # The same statements, with the values as parameters ($1…), not quoted into the text.
    assert _prepared() == prepared
    # The create's one statement: the reports waiting for it, its seat, the member with its
    # values, its event.
    assert any(
        text.lstrip().startswith("WITH waiting AS") and "events_changeevent" in text
        for text in prepared
    )
    assert all("$1" in text and "first0@acme.test" not in text for text in prepared)


def test_values_that_quoting_would_escape_are_stored_as_sent(acme: Company, scim: Scim) -> None:
    awkward = 'O\'Brien \\ 100% $1 %(id)s ::jsonb "Ünïcødé" 🙂'
    body = okta_user(
        "obrien@acme.test",
        displayName=awkward,
        name={"givenName": awkward, "familyName": "x" * 250},
        emails=[{"value": "O'Brien@Acme.test", "type": awkward, "primary": True}],
    )

    response = scim.post("/Users", body)

    assert response.status_code == 201, response.json()
    uid = response.json()["id"]
    read = scim.get(f"/Users/{uid}").json()
    assert read["displayName"] == awkward
    assert read["name"] == {"givenName": awkward, "familyName": "x" * 250}
    with schema_context(acme.schema_name):
        assert Member.objects.get(pk=uid).primary_email == "o'brien@acme.test"
        value = MemberValue.objects.get(member_id=uid)
    assert (value.value_lower, value.type_lower) == ("o'brien@acme.test", awkward.lower())
    (event,) = [
        e for e in company_events_after(acme.schema_name, 0, 100) if str(e.resource_id) == uid
    ]
    assert event.data["displayName"] == awkward


def test_a_refused_write_leaves_nothing_and_the_next_writes_run(acme: Company, scim: Scim) -> None:
    uid = scim.post("/Users", okta_user("taken@acme.test")).json()["id"]

    refused = scim.post("/Users", okta_user("TAKEN@acme.test"))
    again = scim.post("/Users", okta_user("next@acme.test", externalId="next"))
    patched = scim.patch(
        f"/Users/{uid}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )

    assert refused.status_code == 409 and refused.json()["scimType"] == "uniqueness"
    assert again.status_code == 201
    assert patched.status_code == 200 and patched.json()["active"] is False


def test_switched_off_they_are_sent_as_every_other_statement(
    acme: Company, scim: Scim, settings: Any
) -> None:
    settings.DB_PREPARED_STATEMENTS = False
    before = _prepared()  # the credential's event, written (bound) by the `scim` fixture

    created = scim.post("/Users", okta_user("plain@acme.test"))
    updated = scim.put(
        f"/Users/{created.json()['id']}", okta_user("plain@acme.test", title="Engineer")
    )

    assert (created.status_code, updated.status_code) == (201, 200)
    assert _prepared() == before
    assert _placed(acme, created.json()["id"])["events"] == ["user.created", "user.updated"]


@contextmanager
def _steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """While open, what a request does, in order: each statement's first word ("UPDATE
    seats" for the seat lock, which every seat-taking or seat-freeing statement names) and
    each rendering of an event's resource."""
    steps: list[str] = []
    render = change_events.user_to_scim

    def rendering(*args: Any, **kwargs: Any) -> Any:
        steps.append("render the event's resource")
        return render(*args, **kwargs)

    def statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        steps.append(sql.split()[0] + (" seats" if "seats_used" in sql else ""))
        return execute(sql, params, many, context)

    monkeypatch.setattr(change_events, "user_to_scim", rendering)
    with connection.execute_wrapper(statement):
        yield steps


def test_a_create_renders_what_it_records_before_the_seat_lock(
    acme: Company, scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _steps(monkeypatch) as steps:
        response = scim.post("/Users", okta_user("locks@acme.test", externalId="locks"))

    assert response.status_code == 201
    # From the seat lock to the commit only the write's statement runs (the seat, the
    # member, the event and the ledger row in one); the event and the ledger row were built
    # while the company's other writers could still go on.
    seat = steps.index("WITH seats")
    assert steps.index("render the event's resource") < seat
    assert [step for step in steps[seat:] if step != "RELEASE"] == ["WITH seats"]


def _all_prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_locks_and_lookups_of_writes_are_prepared_too(scim: Scim, settings: Any) -> None:
    settings.DB_PREPARED_STATEMENTS = True
    # Creates (the reports waiting for a new manager, the seat lock), deactivations (the
    # head of the seat waitlist, the brake's count) and reactivations (the seat lock again).
    for n in range(RUNS_BEFORE_PREPARED + 1):
        created = scim.post("/Users", okta_user(f"lock{n}@acme.test", externalId=f"lock{n}"))
        assert created.status_code == 201, created.json()
        for active in (False, True):
            flipped = scim.patch(
                f"/Users/{created.json()['id']}",
                {
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "active", "value": active}],
                },
            )
            assert flipped.status_code == 200, flipped.json()

    prepared = _all_prepared()

    for statement in (
        "seats_used = seats_used +",  # directory.seats
        "deprovision_window_count",  # directory.brake
        "manager_ref <> ''",  # directory.selectors.members_waiting_for
        "directory_waitlistentry",  # directory.waitlist.waitlist_entries
    ):
        assert any(statement in text for text in prepared), statement


@pytest.mark.parametrize("active", [False, True])
def test_an_update_flipping_active_renders_what_it_records_before_the_seat_lock(
    acme: Company, scim: Scim, monkeypatch: pytest.MonkeyPatch, active: bool
) -> None:
    uid = scim.post("/Users", okta_user("flip@acme.test", active=not active)).json()["id"]
    with _steps(monkeypatch) as steps:
        response = scim.patch(
            f"/Users/{uid}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": active}],
            },
        )

    assert response.status_code == 200, response.json()
    # A deactivation (the brake's count) or a reactivation (the seat taken) locks the
    # company's row in the member's statement, with the event and its ledger row (nobody
    # being in line for a freed seat): nothing runs after it.
    seat = steps.index("WITH seats")
    assert steps.index("render the event's resource") < seat
    assert [step for step in steps[seat:] if step != "RELEASE"] == ["WITH seats"]
