"""Readers never skip an event that commits late, and never see one twice, while writers run:
committed companies, threads with their own connections, a real gunicorn server and a real
Celery worker running the relay."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from directory.ledger import CallContext
from directory.models import Member, ProvisioningEvent
from directory.services import member_create
from events.feed.models import VendorKey
from events.outbox import EventType, NewEvent, Origin, emit
from events.selectors import company_events_after
from events.tasks import relay
from tests.live import IdP, in_thread, live_scim_company, lock_order_race
from tests.scim_client import PATCH_OP
from tokens.vendor_keys import vendor_key_issue

pytestmark = [pytest.mark.live, pytest.mark.django_db]


TITLE = {"op": "replace", "path": "title", "value": "Engineer"}


def _event(name: str) -> NewEvent:
    return NewEvent(type=EventType.USER_CREATED, resource_type="User", user_name=name)


def test_a_later_writer_waits_for_the_earlier_commit_so_no_reader_skips_it(
    django_db_blocker: Any,
) -> None:
    with live_scim_company(django_db_blocker) as live:
        schema = live.company.schema_name
        emitted, release = threading.Event(), threading.Event()

        def slow_writer() -> None:
            with django_db_blocker.unblock(), transaction.atomic():
                emit([_event("slow")], origin=Origin(), schema_name=schema)
                emitted.set()
                release.wait(10)  # committed only when the test says so
            connection.close()

        def fast_writer() -> None:
            with django_db_blocker.unblock(), transaction.atomic():
                emit([_event("fast")], origin=Origin(), schema_name=schema)
            connection.close()

        def read() -> list[tuple[int, str]]:
            with django_db_blocker.unblock():
                found = [(e.seq, e.user_name) for e in company_events_after(schema, 0, 100)]
            connection.close()
            return found

        with ThreadPoolExecutor(max_workers=2) as pool:
            slow = pool.submit(slow_writer)
            assert emitted.wait(10)
            fast = pool.submit(fast_writer)
            time.sleep(0.5)
            # The fast write cannot commit a number past the slow one's: it waits for it.
            seen_meanwhile = in_thread(read)
            fast_waited = not fast.done()
            release.set()
            slow.result(10)
            fast.result(10)

        before = [event for event in seen_meanwhile if event[1] in ("slow", "fast")]
        assert fast_waited and before == []
        after = [event for event in in_thread(read) if event[1] in ("slow", "fast")]
        assert [name for _, name in after] == ["slow", "fast"]
        assert after[1][0] == after[0][0] + 1


def _get(url: str, key: str) -> Any:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}", headers={"Authorization": key})
        response = conn.getresponse()
        assert response.status == 200, response.read()[:300]
        return json.loads(response.read())
    finally:
        conn.close()


def test_parallel_writes_reach_the_api_once_each_in_order_while_they_run(
    live_server_url: str, celery_worker_process: Any, django_db_blocker: Any
) -> None:
    def issue_key() -> tuple[str, str]:
        with django_db_blocker.unblock():
            issued = vendor_key_issue(name="concurrency test", actor="tests")
        return str(issued.key.pk), f"Bearer {issued.secret}"

    key_id, key = in_thread(issue_key)
    with live_scim_company(django_db_blocker) as live:
        slug = live.company.slug
        idp = IdP.bearer(live_server_url, live, "Okta")
        # The company's creation wrote events already (its credentials): start after them.
        start = _get(f"{live_server_url}/api/v1/events?company={slug}&limit=1000", key)["next"]
        writers_done = threading.Event()
        seen: list[dict[str, Any]] = []
        feed: list[dict[str, Any]] = []

        def write(worker: int) -> None:
            for i in range(15):
                reply = idp.call("POST", "/Users", {"userName": f"w{worker}.{i}@live.test"})
                assert reply.status == 201, reply.body

        def follow_company() -> None:
            after = start
            while True:
                done = writers_done.is_set()
                page = _get(
                    f"{live_server_url}/api/v1/events?company={slug}&after={after}&limit=7", key
                )
                seen.extend(page["events"])
                after = page["next"]
                if done and not page["hasMore"]:
                    return

        def follow_feed() -> None:
            after = "0"
            while True:
                page = _get(f"{live_server_url}/api/v1/events?after={after}&limit=50", key)
                feed.extend(e for e in page["events"] if e["company"] == slug)
                after = page["next"]
                if writers_done.is_set() and len([e for e in feed if e["seq"] > int(start)]) >= 60:
                    return
                relay.delay()  # the worker copies new events into the feed
                time.sleep(0.1)

        with ThreadPoolExecutor(max_workers=6) as pool:
            readers = [pool.submit(follow_company), pool.submit(follow_feed)]
            writers = [pool.submit(write, worker) for worker in range(4)]
            for future in writers:
                future.result(120)
            writers_done.set()
            for future in readers:
                future.result(120)

        expected = list(range(int(start) + 1, int(start) + 61))
        assert [event["seq"] for event in seen] == expected
        assert {event["type"] for event in seen} == {EventType.USER_CREATED}
        assert len({event["userName"] for event in seen}) == 60
        relayed = [event["seq"] for event in feed if event["seq"] > int(start)]
        assert relayed == expected

    def clean_up() -> None:
        with django_db_blocker.unblock():
            VendorKey.objects.filter(pk=key_id).delete()

    in_thread(clean_up)


def test_concurrent_writes_with_their_events_in_their_statement_number_them_gap_free(
    live_server_url: str, django_db_blocker: Any
) -> None:
    """Creates (each name sent twice at once: one wins, one is a 409) and PATCHes of other
    users, all released together: the events ride in the members' statements, and still get
    gap-free numbers, one per successful write, each with its ledger row."""
    with live_scim_company(django_db_blocker) as live:
        schema = live.company.schema_name
        idp = IdP.bearer(live_server_url, live, "Okta")
        patched = []
        for n in range(6):
            reply = idp.call("POST", "/Users", {"userName": f"p{n}@live.test"})
            assert reply.status == 201, reply.body
            patched.append(reply.body["id"])

        def last_seq() -> int:
            with django_db_blocker.unblock():
                events = company_events_after(schema, 0, 10_000)
            connection.close()
            return events[-1].seq if events else 0

        start = in_thread(last_seq)
        names = [f"c{n:02d}@live.test" for n in range(10)]
        calls: list[tuple[str, str, Any]] = [("POST", "/Users", {"userName": n}) for n in names]
        calls += [("POST", "/Users", {"userName": n.upper()}) for n in names]
        calls += [
            ("PATCH", f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [TITLE]})
            for uid in patched
        ]
        together = threading.Barrier(len(calls))

        def call(method: str, path: str, body: Any) -> tuple[int, Any]:
            together.wait(30)
            reply = idp.call(method, path, body)
            return reply.status, reply.body

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            replies = list(pool.map(lambda c: call(*c), calls))

        statuses = [status for status, _ in replies]
        assert sorted(statuses[:20]) == [201] * 10 + [409] * 10
        assert statuses[20:] == [200] * 6

        def recorded() -> tuple[list[tuple[int, str, str]], list[tuple[str, str, int]]]:
            with django_db_blocker.unblock(), schema_context(schema):
                events = [
                    (event.seq, event.type, str(event.resource_id))
                    for event in company_events_after(schema, start, 10_000)
                ]
                rows = list(
                    ProvisioningEvent.objects.filter(
                        operation__in=("create", "patch"), created_at__isnull=False
                    )
                    .exclude(user_name__startswith="p", operation="create")
                    .values_list("user_name", "outcome", "status")
                )
            connection.close()
            return events, [(name.lower(), outcome, status) for name, outcome, status in rows]

        events, rows = in_thread(recorded)
        assert [seq for seq, _, _ in events] == list(range(start + 1, start + 17))
        created = {body["id"] for status, body in replies[:20] if status == 201}
        assert {uid for _, kind, uid in events if kind == EventType.USER_CREATED} == created
        assert {uid for _, kind, uid in events if kind == EventType.USER_UPDATED} == set(patched)
        assert sorted((name, outcome, status) for name, outcome, status in rows) == sorted(
            [(name, "succeeded", 201) for name in names]
            + [(name, "failed", 409) for name in names]
            + [(f"p{n}@live.test", "succeeded", 200) for n in range(6)]
        )


def test_a_create_with_its_events_in_its_statement_locks_the_bucket_row_before_the_stream(
    django_db_blocker: Any,
) -> None:
    """A DELETE locks the position index's bucket row (its trigger) and then the stream row
    (its event); a create carrying its event in its statement must lock them in that order
    too, or the two deadlock."""
    with live_scim_company(django_db_blocker) as live:
        company = live.company

        def arrange() -> str:
            with django_db_blocker.unblock(), schema_context(company.schema_name):
                gone = member_create(
                    company=company,
                    payload={"userName": "gone@live.test", "active": False},
                    context=CallContext(),
                )
            connection.close()
            return str(gone.pk)

        gone_id = in_thread(arrange)

        def delete() -> None:
            Member.objects.filter(pk=gone_id).delete()  # the bucket row, locked

        def create() -> None:
            member_create(
                company=company, payload={"userName": "new@live.test"}, context=CallContext()
            )

        lock_order_race(
            django_db_blocker,
            company.schema_name,
            holder_first=delete,
            holder_then=lambda: emit([_event("gone")], origin=Origin()),  # then the stream row
            other=create,
        )

        def names() -> list[str]:
            with django_db_blocker.unblock():
                found = [e.user_name for e in company_events_after(company.schema_name, 0, 100)]
            connection.close()
            return found

        assert in_thread(names)[-2:] == ["gone", "new@live.test"]
