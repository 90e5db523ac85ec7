"""Webhooks end to end: SCIM calls through gunicorn in three companies, a real Celery worker
delivering (its sweeper driven from here through the real broker), a real HTTP receiver
checking every delivery with the `standardwebhooks` verifier; then the receiver down and
failing, the worker SIGKILLed mid-delivery, and the broker (a private Redis) down during
the writes. Each ends with every event delivered, in order per company.

WEBHOOK_TEST_CHANGES sets how many SCIM changes the first test makes (default the issue's
1,000: about 30 s on the shared 2-core VM).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.live import IdP, LiveCompany, celery_worker, free_port, in_thread, live_scim_company
from tests.webhooks.receiver import Receiver, receiving
from webhooks.models import WebhookEndpoint
from webhooks.services import IssuedEndpoint, endpoint_add
from webhooks.tasks import sweep

pytestmark = [pytest.mark.live, pytest.mark.django_db]

CHANGES = int(os.environ.get("WEBHOOK_TEST_CHANGES", "1000"))
QUEUE = "webhooks-test"
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_SECONDS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "5",
    "WEBHOOK_KICK_SECONDS": "3",
    "CELERY_VISIBILITY_TIMEOUT": "5",
}


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_ALLOW_HTTP = True


@contextmanager
def sweeping(broker_url: str | None = None) -> Iterator[None]:
    """Beat's part: queue the sweeper every half second (onto the test queue, on `broker_url`
    or the suite's broker). A broker that is down only makes a round fail."""
    from config.celery import app

    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.5):
            try:
                with app.connection_for_write(broker_url) as conn:
                    sweep.apply_async(queue=QUEUE, connection=conn, retry=False)
            except Exception:  # noqa: S112 - the broker is down on purpose; next round
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def endpoint(django_db_blocker: Any, url: str) -> Iterator[str]:
    """A committed endpoint for all companies (yields its secret), deleted after: left behind,
    it would send later tests' companies' events to a receiver that is gone."""

    def arrange() -> IssuedEndpoint:
        with django_db_blocker.unblock():
            return endpoint_add(url=url, actor="tests")

    def clean_up() -> None:
        with django_db_blocker.unblock():
            WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).delete()

    issued = in_thread(arrange)
    try:
        yield issued.secret
    finally:
        in_thread(clean_up)


def make_users(server: str, live: LiveCompany, prefix: str, count: int) -> list[str]:
    """`count` users created; returns "user.created userName" for each, in order."""
    idp = IdP.bearer(server, live)
    names = [f"{prefix}{n}@live.test" for n in range(count)]
    for name in names:
        assert idp.call("POST", "/Users", {"userName": name}).status == 201
    return [f"user.created {name}" for name in names]


def make_changes(server: str, live: LiveCompany, prefix: str, count: int) -> list[str]:
    """`count` SCIM changes: creates, and every fourth call a PATCH deactivating the user
    created just before. Returns "type userName" per change, in order."""
    idp = IdP.bearer(server, live)
    done: list[str] = []
    last_id = last_name = None
    for n in range(count):
        if n % 4 == 3 and last_id:
            body = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": False}}],
            }
            assert idp.call("PATCH", f"/Users/{last_id}", body).status == 200
            done.append(f"user.deactivated {last_name}")
            last_id = None
            continue
        last_name = f"{prefix}{n}@live.test"
        reply = idp.call("POST", "/Users", {"userName": last_name})
        assert reply.status == 201
        last_id = reply.body["id"]
        done.append(f"user.created {last_name}")
    return done


def delivered(receiver: Receiver, secret: str) -> dict[str, list[str]]:
    """ "type userName" per company in arrival order, each body verified; duplicates (at least
    once) dropped by webhook-id as a consumer would."""
    seen: set[str] = set()
    by_company: dict[str, list[str]] = {}
    for got in receiver.accepted():
        body = Webhook(secret).verify(got.body, got.headers)
        if got.headers["webhook-id"] in seen:
            continue
        seen.add(got.headers["webhook-id"])
        by_company.setdefault(body["data"]["company"], []).append(
            f"{body['type']} {body['data']['userName']}"
        )
    return by_company


def expect_all(receiver: Receiver, secret: str, expected: dict[str, list[str]]) -> None:
    wait_for(
        lambda: (
            {k: len(v) for k, v in delivered(receiver, secret).items()}
            == {k: len(v) for k, v in expected.items()}
        ),
        "every delivery",
    )
    assert delivered(receiver, secret) == expected


def test_changes_in_three_companies_are_delivered_signed_and_in_order(
    live_server_url: str, django_db_blocker: Any, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        companies = [stack.enter_context(live_scim_company(django_db_blocker)) for _ in range(3)]
        receiver = stack.enter_context(receiving())
        secret = stack.enter_context(endpoint(django_db_blocker, receiver.url))
        stack.enter_context(celery_worker(tmp_path, "-Q", QUEUE, **WORKER_ENV))
        stack.enter_context(sweeping())

        expected: dict[str, list[str]] = {}

        def write(live: LiveCompany, index: int) -> None:
            count = CHANGES // 3 + (1 if index < CHANGES % 3 else 0)
            expected[live.company.slug] = make_changes(live_server_url, live, f"c{index}-", count)

        threads = [
            threading.Thread(target=write, args=(live, i)) for i, live in enumerate(companies)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        expect_all(receiver, secret, expected)
        assert len(receiver.accepted()) == CHANGES  # nothing failed, so nothing twice
        assert sum(len(changes) for changes in expected.values()) == CHANGES


def test_a_receiver_down_then_failing_gets_everything_after_in_order(
    live_server_url: str, django_db_blocker: Any, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        live = stack.enter_context(live_scim_company(django_db_blocker))
        receiver = stack.enter_context(receiving())
        secret = stack.enter_context(endpoint(django_db_blocker, receiver.url))
        stack.enter_context(celery_worker(tmp_path, "-Q", QUEUE, **WORKER_ENV))
        stack.enter_context(sweeping())

        receiver.stop()  # connection refused
        names = make_users(live_server_url, live, "down-", 5)
        time.sleep(3)  # several refused attempts
        receiver.status = 500
        receiver.start()
        names += make_users(live_server_url, live, "failing-", 5)
        time.sleep(3)
        assert receiver.accepted() == []
        receiver.status = 200
        expect_all(receiver, secret, {live.company.slug: names})


def test_a_worker_killed_mid_delivery_is_redelivered(
    live_server_url: str, django_db_blocker: Any, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        live = stack.enter_context(live_scim_company(django_db_blocker))
        receiver = stack.enter_context(receiving())
        secret = stack.enter_context(endpoint(django_db_blocker, receiver.url))
        stack.enter_context(sweeping())
        hold = threading.Event()
        receiver.hold = hold
        names = make_users(live_server_url, live, "kill-", 4)
        (tmp_path / "first").mkdir()
        with celery_worker(tmp_path / "first", "-Q", QUEUE, **WORKER_ENV) as first:
            wait_for(receiver.held.is_set, "the worker to be mid-delivery")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        receiver.hold = None
        hold.set()
        (tmp_path / "second").mkdir()
        stack.enter_context(celery_worker(tmp_path / "second", "-Q", QUEUE, **WORKER_ENV))
        expect_all(receiver, secret, {live.company.slug: names})


@contextmanager
def private_redis(port: int, data: Path) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is needed for the broker-outage test (apt-get install redis-server)"
        )
    process = subprocess.Popen(  # noqa: S603 - the system's redis-server
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        wait_for(lambda: _pings(client), "the private Redis", timeout=20)
        yield process
    finally:
        process.terminate()
        process.wait(10)


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def test_events_written_while_the_broker_is_down_are_delivered_once_it_is_back(
    live_server_url: str, django_db_blocker: Any, tmp_path: Path
) -> None:
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    env = {**WORKER_ENV, "REDIS_URL": broker, "CELERY_BROKER_URL": broker}
    with ExitStack() as stack:
        live = stack.enter_context(live_scim_company(django_db_blocker))
        receiver = stack.enter_context(receiving())
        secret = stack.enter_context(endpoint(django_db_blocker, receiver.url))
        redis_process = stack.enter_context(private_redis(port, tmp_path))
        stack.enter_context(celery_worker(tmp_path, "-Q", QUEUE, **env))
        stack.enter_context(sweeping(broker))
        names = make_users(live_server_url, live, "before-", 2)
        wait_for(lambda: len(receiver.accepted()) == 2, "deliveries before the outage")

        redis_process.terminate()
        redis_process.wait(10)
        names += make_users(live_server_url, live, "outage-", 5)  # the writes do not need it
        time.sleep(2)
        assert len(receiver.accepted()) == 2

        stack.enter_context(private_redis(port, tmp_path))
        expect_all(receiver, secret, {live.company.slug: names})
