"""Writes racing a DELETE of the user they reference, against a live server (two gunicorn
workers) on committed data: every request gets a SCIM answer, never a 5xx, and its own row in
the provisioning log. Each shape runs many trials, both requests released at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from directory.models import ProvisioningEvent
from tests.live import IdP, LiveCompany, company_update, in_thread, live_scim_company
from tests.scim_client import PATCH_OP

TRIALS = 30
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    # What this request may answer: the status when it wins, and the SCIM errors it may get
    # when the other request came first.
    allowed: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Shape:
    name: str
    # Creates what the trial needs (committed, over HTTP) and returns the two racing calls.
    arrange: Callable[[IdP, int], tuple[Call, Call]]


def _user(idp: IdP, name: str, **extra: Any) -> str:
    reply = idp.call("POST", "/Users", {"userName": name, **extra})
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def _group(idp: IdP, name: str) -> str:
    reply = idp.call("POST", "/Groups", {"schemas": [GROUP], "displayName": name})
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def _delete(user_id: str) -> Call:
    return Call("DELETE", f"/Users/{user_id}", allowed=frozenset({204}))


def _manager(user_id: str) -> dict[str, Any]:
    return {ENTERPRISE: {"manager": {"value": user_id}}}


def _group_patch_add(idp: IdP, n: int) -> tuple[Call, Call]:
    doomed, group = _user(idp, f"doomed{n}@race.test"), _group(idp, f"Patched {n}")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": doomed}]}],
    }
    return _delete(doomed), Call("PATCH", f"/Groups/{group}", patch, frozenset({204, 400}))


def _group_post(idp: IdP, n: int) -> tuple[Call, Call]:
    doomed = _user(idp, f"doomed{n}@race.test")
    body = {"schemas": [GROUP], "displayName": f"Posted {n}", "members": [{"value": doomed}]}
    return _delete(doomed), Call("POST", "/Groups", body, frozenset({201, 400}))


def _group_put(idp: IdP, n: int) -> tuple[Call, Call]:
    doomed, group = _user(idp, f"doomed{n}@race.test"), _group(idp, f"Put {n}")
    body = {"schemas": [GROUP], "displayName": f"Put {n}", "members": [{"value": doomed}]}
    return _delete(doomed), Call("PUT", f"/Groups/{group}", body, frozenset({200, 400}))


# A user naming a manager who is being deleted: when the manager is gone first, the name is
# kept as a reference waiting for that manager (as for any manager not provisioned yet).
def _user_post_manager(idp: IdP, n: int) -> tuple[Call, Call]:
    doomed = _user(idp, f"doomed{n}@race.test")
    body = {"userName": f"report{n}@race.test", **_manager(doomed)}
    return _delete(doomed), Call("POST", "/Users", body, frozenset({201}))


def _user_put_manager(idp: IdP, n: int) -> tuple[Call, Call]:
    doomed, report = _user(idp, f"doomed{n}@race.test"), _user(idp, f"report{n}@race.test")
    body = {"userName": f"report{n}@race.test", **_manager(doomed)}
    return _delete(doomed), Call("PUT", f"/Users/{report}", body, frozenset({200}))


def _user_patch_manager(idp: IdP, n: int) -> tuple[Call, Call]:
    doomed, report = _user(idp, f"doomed{n}@race.test"), _user(idp, f"report{n}@race.test")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": doomed}],
    }
    return _delete(doomed), Call("PATCH", f"/Users/{report}", patch, frozenset({200}))


# The create of a manager adopts the users waiting for it, while one of them is deleted or
# deactivated (the deadlock window between the seat lock and the waiting reports' rows).
def _manager_created_while_report_deleted(idp: IdP, n: int) -> tuple[Call, Call]:
    waiting = _user(idp, f"waiting{n}@race.test", **_manager(f"boss{n}@race.test"))
    boss = Call("POST", "/Users", {"userName": f"boss{n}@race.test"}, frozenset({201}))
    return _delete(waiting), boss


def _manager_created_while_report_deactivated(idp: IdP, n: int) -> tuple[Call, Call]:
    waiting = _user(idp, f"waiting{n}@race.test", **_manager(f"boss{n}@race.test"))
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    deactivate = Call("PATCH", f"/Users/{waiting}", patch, frozenset({200}))
    boss = Call("POST", "/Users", {"userName": f"boss{n}@race.test"}, frozenset({201}))
    return deactivate, boss


SHAPES = [
    Shape("group PATCH adds the user", _group_patch_add),
    Shape("group POST with the user", _group_post),
    Shape("group PUT with the user", _group_put),
    Shape("user POST with the user as manager", _user_post_manager),
    Shape("user PUT with the user as manager", _user_put_manager),
    Shape("user PATCH with the user as manager", _user_patch_manager),
    Shape("manager created, waiting report deleted", _manager_created_while_report_deleted),
    Shape("manager created, waiting report deactivated", _manager_created_while_report_deactivated),
]


@pytest.fixture(scope="module")
def live(live_server_url: str, django_db_blocker: Any) -> Iterator[LiveCompany]:
    with live_scim_company(django_db_blocker) as company:
        # Hundreds of deletes in minutes, on purpose: no deprovisioning brake here.
        company_update(django_db_blocker, company.company, deprovision_brake_percent=0)
        yield company


def _ledger_rows(live: LiveCompany, request_ids: list[str], blocker: Any) -> dict[str, int]:
    from django_tenants.utils import schema_context

    def count() -> dict[str, int]:
        with blocker.unblock(), schema_context(live.company.schema_name):
            found = ProvisioningEvent.objects.filter(request_id__in=request_ids)
            rows: dict[str, int] = dict.fromkeys(request_ids, 0)
            for request_id in found.values_list("request_id", flat=True):
                rows[request_id] += 1
            return rows

    return in_thread(count)


def _send(idp: IdP, start: threading.Barrier, call: Call, request_id: str) -> Any:
    start.wait()
    return idp.call(call.method, call.path, call.body, {"X-Request-ID": request_id})


@pytest.mark.live
@pytest.mark.django_db
@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_a_write_racing_a_delete_gets_a_scim_answer_and_a_ledger_row(
    shape: Shape, live: LiveCompany, live_server_url: str, django_db_blocker: Any
) -> None:
    idp = IdP.bearer(live_server_url, live, "Okta")
    run = uuid.uuid4().hex[:8]
    answers: list[tuple[Call, Any, str]] = []

    for trial in range(TRIALS):
        calls = shape.arrange(idp, trial + TRIALS * SHAPES.index(shape))
        start = threading.Barrier(len(calls))
        ids = [f"race-{run}-{trial}-{i}" for i in range(len(calls))]
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            replies = list(pool.map(_send, [idp] * len(calls), [start] * len(calls), calls, ids))
        answers.extend(zip(calls, replies, ids, strict=True))

    wrong = [
        (call.method, call.path, reply.status, reply.body)
        for call, reply, _ in answers
        if reply.status not in call.allowed
        or (reply.status >= 400 and (reply.body or {}).get("schemas") != [ERROR])
        or (reply.status >= 400 and reply.body.get("status") != str(reply.status))
        or (reply.status == 400 and reply.body.get("scimType") != "invalidValue")
    ]
    assert wrong == []
    rows = _ledger_rows(live, [request_id for _, _, request_id in answers], django_db_blocker)
    assert {request_id: n for request_id, n in rows.items() if n != 1} == {}
