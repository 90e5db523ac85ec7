"""A SCIM create is one statement (member, seat, searchable values, change event, ledger row)
and, when nothing comes before it in its transaction, runs as that statement alone: no
BEGIN or COMMIT round trip (infra.transactions). An update that keeps the user active, its
userName and its manager reads the user without a lock and writes it in one statement only
if unchanged since (directory.services `_member_update`). What the IdP and the vendor rely
on stays: every record of a write, nothing of a refused one, its failure row, a waitlisted
create's entry, no update lost to a concurrent one; writes that lock more keep their
transaction.

Requests run on another thread (its own connection, outside the test's transaction, which
would make every write a savepoint) against a committed company."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from directory.models import Member, MemberValue, ProvisioningEvent, WaitlistEntry
from events.selectors import company_events_after
from tenants.models import Company
from tests.live import (
    LiveCompany,
    company_update,
    in_thread,
    live_scim_company,
    on_own_connection,
)
from tests.protocol_trace import traced, transaction_commands
from tests.scim_client import PATCH_OP, Scim, okta_user

pytestmark = pytest.mark.django_db

T = TypeVar("T")


@pytest.fixture
def live(django_db_blocker: Any) -> Iterator[LiveCompany]:
    with live_scim_company(django_db_blocker) as company:
        yield company


@pytest.fixture
def requests(live: LiveCompany, django_db_blocker: Any) -> Callable[[Callable[[Scim], T]], T]:
    """Runs `work(scim)` on another thread, with a SCIM client of the live company whose
    connection has served one request already (routing, the credential's first use)."""

    def run(work: Callable[[Scim], T]) -> T:
        def with_client() -> T:
            scim = Scim(Client(), live.bearer, base=f"/t/{live.company.slug}/scim/v2")
            assert scim.get("/Users?count=1").status_code == 200
            return work(scim)

        return on_own_connection(django_db_blocker, with_client)

    return run


def _records(live: LiveCompany, user_name: str) -> dict[str, Any]:
    """What a create leaves, read committed from another connection."""

    def read() -> dict[str, Any]:
        with schema_context(live.company.schema_name):
            members = list(Member.objects.filter(user_name=user_name))
            ids = [str(member.id) for member in members]
            ledger = list(
                ProvisioningEvent.objects.filter(user_name=user_name)
                .order_by("id")
                .values_list("outcome", "status")
            )
            events = [
                event.type
                for event in company_events_after(live.company.schema_name, 0, 10_000)
                if str(event.resource_id) in ids
            ]
            return {
                "members": len(members),
                "values": MemberValue.objects.filter(member__in=members).count(),
                "ledger": ledger,
                "events": events,
                "seats": Company.objects.get(pk=live.company.pk).seats_used,
                "waiting": WaitlistEntry.objects.filter(user_name=user_name).count(),
            }

    return in_thread(read)


def test_a_create_sends_no_begin_or_commit_and_leaves_every_record(
    live: LiveCompany, requests: Any
) -> None:
    seats = _records(live, "nobody")["seats"]

    def create(scim: Scim) -> tuple[int, list[str]]:
        with traced() as sent:
            response = scim.post("/Users", okta_user("lone@example.test"))
        return response.status_code, transaction_commands(sent)

    status, commands = requests(create)

    assert status == 201
    assert commands == []
    assert _records(live, "lone@example.test") == {
        "members": 1,
        "values": 1,  # the work email, searchable
        "ledger": [("succeeded", 201)],
        "events": ["user.created"],
        "seats": seats + 1,
        "waiting": 0,
    }


def test_a_refused_create_leaves_nothing_but_its_failure_row(
    live: LiveCompany, requests: Any
) -> None:
    def create_twice(scim: Scim) -> list[int]:
        first = scim.post("/Users", okta_user("twice@example.test"))
        again = scim.post("/Users", okta_user("twice@example.test", externalId="other"))
        return [first.status_code, again.status_code]

    assert requests(create_twice) == [201, 409]
    records = _records(live, "twice@example.test")
    assert records["members"] == 1
    assert records["ledger"] == [("succeeded", 201), ("failed", 409)]
    assert records["events"] == ["user.created"]


def test_a_create_refused_its_seat_waits_and_writes_no_member(
    live: LiveCompany, requests: Any, django_db_blocker: Any
) -> None:
    full = _records(live, "nobody")["seats"]
    company_update(django_db_blocker, live.company, seat_limit=full)

    def create(scim: Scim) -> Any:
        return scim.post("/Users", okta_user("waiting@example.test"))

    response = requests(create)

    assert response.status_code == 403, response.content
    assert "waitlist" in response.json()["detail"]
    records = _records(live, "waiting@example.test")
    assert (records["members"], records["seats"], records["waiting"]) == (0, full, 1)
    assert records["ledger"] == [("failed", 403)]


def test_a_create_locking_its_manager_keeps_its_transaction(
    live: LiveCompany, requests: Any
) -> None:
    def create_report(scim: Scim) -> tuple[int, list[str]]:
        manager = scim.post("/Users", okta_user("boss@example.test", externalId="boss"))
        enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        report = okta_user(
            "report@example.test",
            externalId="report",
            **{enterprise: {"manager": {"value": manager.json()["id"]}}},
        )
        report["schemas"].append(enterprise)
        with traced() as sent:
            response = scim.post("/Users", report)
        return response.status_code, transaction_commands(sent)

    status, commands = requests(create_report)

    # The manager's row is locked by the lookup until the create commits.
    assert status == 201
    assert commands == ["BEGIN", "COMMIT"]
    assert _records(live, "report@example.test")["members"] == 1


def _patch(path: str, value: Any) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]}


def test_an_update_keeping_the_user_active_is_one_statement_alone(
    live: LiveCompany, requests: Any
) -> None:
    def update(scim: Scim) -> tuple[list[int], list[list[str]], Any]:
        created = scim.post("/Users", okta_user("mover@example.test")).json()
        path = f"/Users/{created['id']}"
        sent: list[list[str]] = []
        statuses = []
        # Entra's way: `active` as the string "True", beside the attribute that changed.
        entra_patch = {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Replace", "path": "title", "value": "Lead"},
            ],
        }
        for write in (
            lambda: scim.put(path, okta_user("mover@example.test", title="Engineer")),
            lambda: scim.patch(path, _patch("displayName", "Mover Renamed")),
            lambda: scim.patch(path, entra_patch),
        ):
            with traced() as trace:
                statuses.append(write().status_code)
            sent.append(transaction_commands(trace))
        return statuses, sent, scim.get(path).json()

    statuses, commands, stored = requests(update)

    assert statuses == [200, 200, 200]
    assert commands == [[], [], []]
    assert (stored["title"], stored["displayName"]) == ("Lead", "Mover Renamed")
    assert stored["active"] is True
    assert stored["meta"]["version"] == 'W/"4"'
    records = _records(live, "mover@example.test")
    assert records["ledger"] == [("succeeded", 201)] + [("succeeded", 200)] * 3
    assert records["events"] == ["user.created"] + ["user.updated"] * 3


def test_updates_that_change_seats_keep_their_transaction(live: LiveCompany, requests: Any) -> None:
    def deactivate(scim: Scim) -> tuple[list[int], list[list[str]]]:
        created = scim.post("/Users", okta_user("leaver@example.test")).json()
        path = f"/Users/{created['id']}"
        sent: list[list[str]] = []
        statuses = []
        for write in (
            lambda: scim.patch(path, _patch("active", False)),
            lambda: scim.put(path, okta_user("leaver@example.test", active=True)),
            lambda: scim.patch(path, _patch("active", "False")),
            lambda: scim.patch(path, _patch("active", True)),
        ):
            with traced() as trace:
                statuses.append(write().status_code)
            sent.append(transaction_commands(trace))
        return statuses, sent

    statuses, commands = requests(deactivate)

    # A PATCH setting `active` false: locked from the start. The PUT and the last PATCH
    # reactivate: each one's optimistic read finds the user deactivated, and the update
    # takes the locked way.
    assert statuses == [200] * 4
    assert commands == [["BEGIN", "COMMIT"]] * 4
    records = _records(live, "leaver@example.test")
    assert records["events"] == ["user.created"] + ["user.deactivated", "user.reactivated"] * 2


def test_an_update_racing_another_loses_neither(
    live: LiveCompany, requests: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from directory import services

    def race(scim: Scim) -> tuple[int, Any]:
        created = scim.post("/Users", okta_user("raced@example.test")).json()
        path = f"/Users/{created['id']}"

        def other_write() -> int:
            return requests(lambda other: other.patch(path, _patch("title", "Racer")).status_code)

        prepare = services._update_prepare
        raced: list[int] = []

        def prepare_after_another_write(*args: Any, **kwargs: Any) -> Any:
            # Between this update's unlocked read and its write, another one commits (whose
            # own first try is not raced).
            if not kwargs.get("locked", True) and not raced:
                raced.append(0)
                raced[0] = other_write()
            return prepare(*args, **kwargs)

        monkeypatch.setattr(services, "_update_prepare", prepare_after_another_write)
        status = scim.patch(path, _patch("displayName", "Raced Renamed")).status_code
        assert raced == [200]
        return status, scim.get(path).json()

    status, stored = requests(race)

    # This update found the user changed, read it again locked and wrote on top of the
    # other's: both changes stand.
    assert status == 200
    assert (stored["title"], stored["displayName"]) == ("Racer", "Raced Renamed")
    assert stored["meta"]["version"] == 'W/"3"'
    records = _records(live, "raced@example.test")
    assert records["ledger"] == [("succeeded", 201), ("succeeded", 200), ("succeeded", 200)]
    assert records["events"] == ["user.created", "user.updated", "user.updated"]


def test_if_none_match_is_evaluated_against_the_version_an_optimistic_update_writes(
    live: LiveCompany, requests: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from directory import services

    def race(scim: Scim) -> tuple[Any, Any]:
        created = scim.post("/Users", okta_user("guarded@example.test")).json()
        path = f"/Users/{created['id']}"
        prepare = services._update_prepare
        raced: list[int] = []

        def prepare_after_another_write(*args: Any, **kwargs: Any) -> Any:
            # Between this update's unlocked read (version 1, which the header does not
            # name) and its version-checked statement, another one commits version 2.
            if not kwargs.get("locked", True) and not raced:
                raced.append(0)
                raced[0] = requests(
                    lambda other: other.patch(path, _patch("title", "Racer")).status_code
                )
            return prepare(*args, **kwargs)

        monkeypatch.setattr(services, "_update_prepare", prepare_after_another_write)
        response = scim.patch(
            path, _patch("displayName", "Guarded Renamed"), HTTP_IF_NONE_MATCH='W/"2"'
        )
        assert raced == [200]
        return response, scim.get(path).json()

    response, stored = requests(race)

    # Its statement found the version changed and wrote nothing; read again under the lock,
    # the user was at the version the header names.
    assert response.status_code == 412, response.content
    assert (
        response.json()["detail"] == 'If-None-Match names the current version, W/"2": not changed.'
    )
    assert (stored["title"], stored["displayName"]) == ("Racer", "Test User")
    assert stored["meta"]["version"] == 'W/"2"'
    records = _records(live, "guarded@example.test")
    assert records["ledger"] == [("succeeded", 201), ("succeeded", 200), ("failed", 412)]
    assert records["events"] == ["user.created", "user.updated"]
