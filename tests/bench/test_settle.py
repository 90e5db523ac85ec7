"""`make bench` measures each workload, and then the import sweeps, only once the server has
served what the workload before left in flight (bench/settle.py): wrk stops at its deadline
with requests unanswered, and gunicorn runs them anyway."""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context

from bench import load, run, settle, wrk
from directory.models import Member
from tests.live import in_thread, live_scim_company, process_env


def test_a_request_whose_client_left_is_owed_until_the_server_closes_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        client.close()  # as wrk does at its deadline: the request stays queued, unanswered
        time.sleep(0.1)  # the client's FIN reaches the queued connection
        owed_while_queued = settle.connections_owed(port)
        accepted, _ = server.accept()
        owed_while_running = settle.connections_owed(port)
        accepted.close()  # the worker is done with it

        assert (owed_while_queued, owed_while_running) == (1, 1)
        assert settle.connections_owed(port) == 0


def test_a_connection_a_live_client_keeps_open_is_not_waited_for() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()

            assert settle.connections_owed(port) == 0
            accepted.close()


@pytest.mark.django_db
@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (apt install wrk)")
def test_a_workload_ends_once_the_server_has_written_what_wrk_left_in_flight(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    with live_scim_company(django_db_blocker) as live:
        env = process_env(
            SCIM_RATE_LIMIT_PER_MINUTE="100000000",
            SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE="100000000",
            STATIC_ROOT=str(tmp_path / "static"),
        )
        # One sync worker, four connections: when wrk stops, one /Bulk runs and three wait.
        server, url = run.start_server(env, workers=1)
        try:
            base = f"{url}/t/{live.company.slug}/scim/v2"
            options = argparse.Namespace(client="wrk", duration=1, concurrency=4)
            plans = {"bulk_post": lambda rng: load.bulk_creates(rng, size=25)}

            def members() -> int:  # from the database: a request would queue behind the rest
                with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                    return Member.objects.count()

            target = run.Target("Headcount", server, base, live.bearer, plans)
            (result,) = run.drive(target, ["bulk_post"], options)
            members_when_it_ends = in_thread(members)
            time.sleep(2)  # time enough for a queued /Bulk of 25 to land, were one left
            members_later = in_thread(members)
        finally:
            server.terminate()
            server.wait(10)

    assert members_when_it_ends == members_later > 0
    assert result["settled_s"] > 0  # the waiting is in the results
    # Who paid for the requests: the server's workers ran them, PostgreSQL stored them.
    assert result["cpu_ms"]["app"] > 0
    assert result["cpu_ms"]["postgres"] > 0
