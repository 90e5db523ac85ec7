"""The cuttable TCP relay the outage test and the soak run put between the server and
PostgreSQL: it must relay a real session, drop it on a cut, refuse while cut, and heal."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from devstack.relay import Relay


def _through(relay: Relay) -> str:
    database = urlsplit(os.environ["DATABASE_URL"])
    netloc = f"{database.username or 'postgres'}@127.0.0.1:{relay.port}"
    return urlunsplit(database._replace(netloc=netloc, path="/postgres"))


@pytest.fixture
def relay() -> Iterator[Relay]:
    database = urlsplit(os.environ["DATABASE_URL"])
    relay = Relay((database.hostname or "127.0.0.1", database.port or 5432))
    yield relay
    relay.close()


def test_a_cut_drops_open_sessions_refuses_new_ones_and_restore_heals(relay: Relay) -> None:
    session = psycopg.connect(_through(relay), connect_timeout=5, autocommit=True)
    before = session.execute("SELECT 1").fetchone()
    open_before = relay.open_connections

    relay.cut()
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(_through(relay), connect_timeout=2)
    open_during = relay.open_connections

    relay.restore()
    with psycopg.connect(_through(relay), connect_timeout=5) as again:
        after = again.execute("SELECT 2").fetchone()

    assert before == (1,)
    assert open_before == 1
    assert open_during == 0
    assert after == (2,)


def test_closed_sessions_are_forgotten(relay: Relay) -> None:
    for _ in range(5):
        with psycopg.connect(_through(relay), connect_timeout=5) as session:
            session.execute("SELECT 1")

    # The relay's pipes notice the close asynchronously.
    deadline = time.monotonic() + 5
    while relay.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)

    assert relay.accepted >= 5
    assert relay.open_connections == 0
