"""Real processes for end-to-end tests: a gunicorn server on the test database, and
committed companies that those processes can see (the usual per-test transaction is
invisible to another process)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from tenants.models import Company
from tenants.services import InitialAdmin, company_create

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """DATABASE_URL of the runner, pointed at the test database pytest-django created."""
    name = settings.DATABASES["default"]["NAME"]
    if not name.startswith("test_"):
        raise RuntimeError("No test database is set up: mark the test with django_db.")
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + name))


def process_env(**extra: str) -> dict[str, str]:
    """Environment of a server or worker process: the test database, DEBUG off."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_CONN_MAX_AGE": "0",
        "EXPORT_ROOT": str(settings.EXPORT_ROOT),
        # The OAuth test's identity provider listens on a loopback http callback.
        "OAUTH_ALLOW_HTTP_REDIRECTS": "1",
        **extra,
    }


@contextmanager
def celery_worker(
    tmp_dir: Path, *options: str, **settings_env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker on the real broker (REDIS_URL), consuming this run's queue.
    `options` are extra worker options (e.g. -Q), `settings_env` extra environment."""
    log = (tmp_dir / "worker.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own worker command
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--purge",
            "-l",
            "info",
            *options,
        ],
        cwd=ROOT,
        env=process_env(**settings_env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while b"ready" not in (tmp_dir / "worker.log").read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the Celery worker did not start: " + (tmp_dir / "worker.log").read_text()
                )
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def gunicorn_server(
    tmp_dir: Path, config: str = "config.gunicorn", **settings_env: str
) -> Iterator[str]:
    """Serve the project with gunicorn (DEBUG off) on a free port; yield its base URL.
    `config` names the gunicorn settings module, `settings_env` adds environment variables
    (settings) for this server only."""
    port = free_port()
    env = process_env(STATIC_ROOT=str(tmp_dir / "static"), **settings_env)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log = (tmp_dir / "gunicorn.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--config",
            f"python:{config}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url + "/healthz", process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
                return
        except urllib.error.HTTPError:
            return  # it answers: up, though not healthy (some tests serve a broken database)
        except OSError:  # refused, reset, or a first answer slower than 2 s (a loaded machine)
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 30 s")


@contextmanager
def committed_company(
    *, scim_enabled: bool, admin_email: str, admin_password: str
) -> Iterator[Company]:
    """A company whose rows are committed (so a server process sees them), dropped after."""
    connection.set_schema_to_public()
    slug = f"live-{uuid.uuid4().hex[:8]}"
    company = company_create(
        slug=slug,
        name=f"Live {slug[5:]}",
        scim_enabled=scim_enabled,
        admin=InitialAdmin(email=admin_email, password=admin_password),
        actor="tests",
    )
    try:
        yield company
    finally:
        connection.set_schema_to_public()
        company.delete(force_drop=True)


T = TypeVar("T")


def in_thread(work: Callable[[], T]) -> T:
    """Run `work` on another thread, hence another database connection: outside the test's
    transaction, so what it writes is committed and visible to server processes."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def on_own_connection(django_db_blocker: Any, work: Callable[[], T]) -> T:
    """`in_thread`, with database access allowed there and the thread's connection closed
    after `work`: what it writes is committed, outside the test's transaction."""

    def unblocked() -> T:
        try:
            with django_db_blocker.unblock():
                return work()
        finally:
            connection.close()

    return in_thread(unblocked)


def until_a_session_waits_for_a_lock(django_db_blocker: Any, timeout: float = 10) -> None:
    """Return once some session of the test database waits for a lock (another thread's
    write queued behind the one holding it), so a lock-order test releases the holder only
    when the other write really is queued; AssertionError after `timeout` seconds."""

    def waiting() -> bool:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock')"
            )
            (found,) = cursor.fetchone()
        connection.close()
        return bool(found)

    deadline = time.monotonic() + timeout
    while not in_thread(waiting):
        assert time.monotonic() < deadline, "no session came to wait for a lock"
        time.sleep(0.02)


def lock_order_race(
    django_db_blocker: Any,
    schema_name: str,
    *,
    holder_first: Callable[[], object],
    holder_then: Callable[[], object],
    other: Callable[[], T],
) -> T:
    """Two writes of one company racing for the same locks: the holder's transaction runs
    `holder_first` (taking its first lock), then `other` starts on another connection and is
    let go only once it waits for a lock, then the holder runs `holder_then` (its second lock)
    and commits. Returns what `other` returned (or raises what it raised): with the two in
    opposite lock orders, PostgreSQL reports a deadlock here instead."""
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with (
                django_db_blocker.unblock(),
                schema_context(schema_name),
                transaction.atomic(),
            ):
                holder_first()
                holding.set()
                release.wait(10)
                holder_then()
        finally:
            connection.close()

    def racing() -> T:
        try:
            with django_db_blocker.unblock(), schema_context(schema_name):
                return other()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        held = pool.submit(holder)
        assert holding.wait(10)
        raced = pool.submit(racing)
        until_a_session_waits_for_a_lock(django_db_blocker)
        release.set()
        held.result(20)
        return raced.result(20)


@dataclass(frozen=True)
class LiveCompany:
    company: Company
    bearer: str
    basic_username: str
    basic_secret: str


@contextmanager
def live_scim_company(django_db_blocker: Any) -> Iterator[LiveCompany]:
    """A committed company with SCIM on, a Bearer token and Basic credentials; dropped after."""
    from django_tenants.utils import schema_context

    from tokens.services import basic_issue, token_issue

    manager = committed_company(
        scim_enabled=True, admin_email="owner@live.test", admin_password="Live-Owner-Pass-1"
    )

    def arrange() -> LiveCompany:
        with django_db_blocker.unblock():
            company = manager.__enter__()
            with schema_context(company.schema_name):
                token = token_issue(company=company, name="IdP", actor="tests")
                pair = basic_issue(company=company, actor="tests")
            return LiveCompany(company, token.secret, pair.credential.username or "", pair.secret)

    def clean_up() -> None:
        with django_db_blocker.unblock():
            manager.__exit__(None, None, None)

    live = in_thread(arrange)
    try:
        yield live
    finally:
        in_thread(clean_up)


def company_update(django_db_blocker: Any, company: Company, **fields: Any) -> None:
    """Change a committed company's row (settings a live test needs), from another thread."""

    def update() -> None:
        with django_db_blocker.unblock():
            Company.objects.filter(pk=company.pk).update(**fields)

    in_thread(update)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class IdP:
    """An HTTP client that talks like an identity provider."""

    def __init__(self, base: str, authorization: str, user_agent: str, content_type: str | None):
        self.base, self.authorization, self.user_agent, self.content_type = (
            base,
            authorization,
            user_agent,
            content_type,
        )

    @classmethod
    def bearer(cls, server_url: str, live: LiveCompany, user_agent: str = "Okta") -> IdP:
        """The company's SCIM API with its Bearer token, as a current IdP calls it."""
        return cls(
            f"{server_url}/t/{live.company.slug}/scim/v2",
            f"Bearer {live.bearer}",
            user_agent,
            "application/scim+json",
        )

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        # http.client, not urllib: urllib adds a form Content-Type to every body, and the
        # point here is to send exactly the headers the IdP sends (sometimes none).
        url = urlsplit(self.base + path)
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": self.authorization,
            "Accept": "application/scim+json",
            "User-Agent": self.user_agent,
            **(headers or {}),
        }
        if data is not None and self.content_type:
            headers["Content-Type"] = self.content_type
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=15)
        try:
            connection.request(
                method,
                url.path + (f"?{url.query}" if url.query else ""),
                body=data,
                headers=headers,
            )
            response = connection.getresponse()
            raw = response.read()
            return Reply(
                response.status, dict(response.getheaders()), json.loads(raw) if raw else None
            )
        finally:
            connection.close()
