"""The fresh-machine path of `make run` / `make test`: embedded PostgreSQL and Redis."""

from pathlib import Path

import psycopg
import pytest
import redis

from devstack.services import resolve

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.live
def test_embedded_postgres_and_redis_start_answer_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADCOUNT_EMBEDDED", "1")
    data_dir = ROOT / ".data" / "embedded-selftest"

    services = resolve(data_dir=data_dir, database="headcount_selftest", redis_index=3)
    try:
        with psycopg.connect(services.database_url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("headcount_selftest",)
        client = redis.Redis.from_url(services.redis_url)
        assert client.ping()
        client.close()
        assert "embedded" in " ".join(services.notes)
    finally:
        services.stop()

    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(services.redis_url, socket_connect_timeout=1).ping()
