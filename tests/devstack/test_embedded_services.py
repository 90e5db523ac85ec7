"""The fresh-machine path of `make run` / `make test`: embedded PostgreSQL and Redis."""

import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from devstack.services import resolve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch):
    # Under .data/ as `make run` uses it (pytest's tmp_path is private to root; as root the
    # server runs as `nobody`).
    data_dir = ROOT / ".data" / f"selftest-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HEADCOUNT_EMBEDDED", "1")
    # A bare machine's locale (containers often have none): nothing may depend on it.
    monkeypatch.setenv("LANG", "C")
    monkeypatch.setenv("LC_ALL", "C")
    monkeypatch.delenv("PG_DUMP", raising=False)
    services = resolve(data_dir=data_dir, database="headcount_selftest", redis_index=3)
    yield services
    services.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.live
def test_embedded_postgres_and_redis_start_answer_and_stop(embedded) -> None:
    with psycopg.connect(embedded.database_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("headcount_selftest",)
    client = redis.Redis.from_url(embedded.redis_url)
    assert client.ping()
    client.close()
    assert "embedded" in " ".join(embedded.notes)

    embedded.stop()

    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(embedded.redis_url, socket_connect_timeout=1).ping()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(embedded.database_url, connect_timeout=2)


@pytest.mark.live
def test_embedded_postgres_answers_on_a_loopback_host_and_port(embedded) -> None:
    # What a TCP relay (tests/security/test_database_outage.py) or a second process needs.
    url = urlsplit(embedded.database_url)

    with psycopg.connect(
        host=url.hostname, port=url.port, user="postgres", dbname="headcount_selftest"
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert url.hostname == "127.0.0.1"


@pytest.mark.live
def test_the_embedded_server_brings_a_pg_dump_that_can_dump_it(embedded) -> None:
    # Schema cloning (tenants/schema_clone.py) runs PG_DUMP first: it must accept this server.
    pg_dump = embedded.env["PG_DUMP"]

    dumped = subprocess.run(  # noqa: S603
        [pg_dump, "--schema-only", embedded.database_url], capture_output=True, text=True
    )

    assert dumped.returncode == 0, dumped.stderr
    assert "PostgreSQL database dump" in dumped.stdout


@pytest.mark.live
def test_the_embedded_server_folds_case_by_unicode_whatever_the_machines_locale(
    embedded,
) -> None:
    # userName uniqueness and filters fold with the database's lower() (docs/architecture.md):
    # a "C" ctype, which an unset LANG gives initdb, would fold ASCII letters only.
    with psycopg.connect(embedded.database_url) as conn:
        folded = conn.execute("SELECT lower(%s)", ["İNCI ΣΊΣΥΦΟΣ \uff21"]).fetchone()

    assert folded == ("inci σίσυφοσ \uff41",)  # full-width A folds too
