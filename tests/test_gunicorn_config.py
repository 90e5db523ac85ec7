"""The production server's settings: what Django loaded is kept out of garbage collection,
workers are forked from a master that loaded the application and what its first request
would load, and a worker that leaves does not tear its interpreter down."""

import gc
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest
from django.db import connection

from config import gunicorn
from tests.live import ROOT, IdP, gunicorn_server, live_scim_company, process_env
from tests.scim_client import okta_user


def test_a_worker_freezes_what_it_loaded() -> None:
    try:
        gunicorn.post_worker_init(object())

        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.live
@pytest.mark.django_db
def test_workers_forked_from_the_loaded_application_keep_serving_as_they_recycle(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    with (
        live_scim_company(django_db_blocker) as live,
        gunicorn_server(tmp_path, WEB_MAX_REQUESTS="3") as url,
    ):
        idp = IdP.bearer(url, live)
        created = idp.call("POST", "/Users", okta_user("recycled@live.test"))
        assert created.status == 201, created.body

        # Each worker serves three requests, then is replaced by a fork of the master.
        replies = [idp.call("GET", f"/Users/{created.body['id']}") for _ in range(24)]

        assert [reply.status for reply in replies] == [200] * 24
        assert {reply.body["userName"] for reply in replies} == {"recycled@live.test"}
        log = (tmp_path / "gunicorn.log").read_text()
        assert log.count("Autorestarting worker") >= 6
        # The master holds the application (orjson: a library the application loads and
        # gunicorn's own configuration does not), so each new worker starts from it.
        assert "orjson" in Path(f"/proc/{_master(tmp_path)}/maps").read_text()


@pytest.mark.live
@pytest.mark.django_db
def test_a_new_worker_inherits_what_requests_load_and_imports_nothing_to_serve(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    record = tmp_path / "workers.txt"
    with (
        live_scim_company(django_db_blocker) as live,
        gunicorn_server(
            tmp_path,
            config="tests.gunicorn_probe",
            WEB_MAX_REQUESTS="3",
            GUNICORN_PROBE_RECORD=str(record),
        ) as url,
    ):
        idp = IdP.bearer(url, live)
        created = idp.call("POST", "/Users", okta_user("inherited@live.test"))
        assert created.status == 201, created.body

        replies = [
            idp.call("GET", path)
            for _ in range(6)
            for path in (
                f"/Users/{created.body['id']}",
                "/Users?filter=" + quote('userName eq "inherited@live.test"'),
            )
        ]

        assert [reply.status for reply in replies] == [200] * 12

    # Read once the server has stopped: a worker writes after its reply is sent.
    lines = record.read_text().splitlines()
    forked = [line for line in lines if line.startswith("forked ")]
    assert len(forked) > 2, lines  # the first two workers and their replacements
    # The master froze what it loaded before forking, so no worker's collection walks it.
    assert all(not line.endswith(" frozen_objects=0") for line in forked), forked
    # Every worker, replacements too, found the URLconfs, views and the rest already
    # loaded: no request, the health check included, imported (and compiled) anything.
    served = [line for line in lines if line.startswith("served ")]
    assert len([line for line in served if "/scim/" in line]) == 13, lines
    assert all(line.endswith(" imported=") for line in served), served


def _master(tmp_path: Path) -> int:
    """The pid of the gunicorn master `gunicorn_server` started, from its log."""
    log = (tmp_path / "gunicorn.log").read_text()
    master = re.search(r"\[(\d+)\] \[INFO\] Listening at", log)
    assert master is not None, log
    return int(master.group(1))


def _workers(master: int, count: int = 2) -> set[int]:
    """The pids of the master's workers once all `count` of them (gunicorn_server's) are up:
    the server answers as soon as its first one is."""
    deadline = time.monotonic() + 30
    while True:
        workers = {child.pid for child in psutil.Process(master).children()}
        if len(workers) >= count or time.monotonic() > deadline:
            return workers
        time.sleep(0.05)


def _database_backends(master: int) -> set[int]:
    """The PostgreSQL backends (pids) of the gunicorn master's workers' connections, matched
    by the client port each worker's socket holds."""
    ports = {
        socket.laddr.port
        for worker in psutil.Process(master).children()
        for socket in worker.net_connections(kind="tcp")
        if socket.raddr and socket.raddr.port == int(connection.settings_dict["PORT"] or 5432)
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", [list(ports)]
        )
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.live
@pytest.mark.django_db
def test_a_workers_database_connections_end_with_their_age_while_the_worker_serves_on(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    # What bounds a backend's catalog cache (it grows with each company schema its connection
    # touches) is DB_CONN_MAX_AGE, not worker recycling, which is rare (WEB_MAX_REQUESTS).
    with (
        live_scim_company(django_db_blocker) as live,
        gunicorn_server(tmp_path, DB_CONN_MAX_AGE="1") as url,
        django_db_blocker.unblock(),
    ):
        idp = IdP.bearer(url, live)
        created = idp.call("POST", "/Users", okta_user("aged@live.test"))
        assert created.status == 201, created.body
        master = _master(tmp_path)
        workers = _workers(master)

        def serve() -> set[int]:
            replies = [idp.call("GET", f"/Users/{created.body['id']}") for _ in range(16)]
            assert [reply.status for reply in replies] == [200] * 16
            return _database_backends(master)

        young = serve()
        time.sleep(1.5)
        aged = serve()

        assert young, "the workers hold no connection to PostgreSQL"
        # Each connection a request found older than its age was closed and opened anew.
        assert young - aged, (young, aged)
        assert {child.pid for child in psutil.Process(master).children()} == workers


# Load the application as the master does with preload_app, prepare for forking, and print
# whether anything is frozen and which sockets the process holds.
PREPARE_AS_THE_MASTER = """
import gc, os
from config import wsgi, gunicorn
gunicorn.prepare_for_forking()
sockets = []
for fd in os.listdir("/proc/self/fd"):
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # the directory listing's own descriptor, gone by now
        continue
    if target.startswith("socket:"):
        sockets.append(target)
print(gc.get_freeze_count() > 0, sockets)
"""


@pytest.mark.django_db
def test_the_master_prepares_for_forking_without_opening_a_connection() -> None:
    prepared = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", PREPARE_AS_THE_MASTER],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Frozen, and no socket a worker would inherit and share with its siblings.
    assert prepared.stdout.splitlines() == ["True []"], prepared.stderr


def _leave(status: int) -> subprocess.CompletedProcess[str]:
    """A process that leaves as a gunicorn worker does: SystemExit(status) raised inside
    gunicorn's `try`, worker_exit called from its `finally`; an exit handler reports whether
    the interpreter's teardown ran."""
    script = (
        "import atexit\n"
        "from config import gunicorn\n"
        "atexit.register(print, 'teardown ran')\n"
        "print('served')\n"
        "try:\n"
        f"    raise SystemExit({status})\n"
        "finally:\n"
        "    gunicorn.worker_exit(None, None)\n"
    )
    env = process_env()
    # Output still in the buffer, as when the log is a file, must reach it all the same.
    env.pop("PYTHONUNBUFFERED", None)
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db
def test_a_worker_leaving_normally_skips_the_teardown_and_keeps_its_output() -> None:
    left = _leave(0)

    assert left.returncode == 0, left.stderr
    assert left.stdout.splitlines() == ["served"]


@pytest.mark.django_db
def test_a_worker_leaving_on_an_error_keeps_its_exit_status_for_the_master() -> None:
    # gunicorn halts on a worker that could not boot (status 3) rather than forking another.
    left = _leave(3)

    assert left.returncode == 3, left.stderr
    assert left.stdout.splitlines() == ["served", "teardown ran"]
