"""What one SCIM request costs, counted in process — figures that hold on a shared machine.

`make bench` measures requests per second, which only mean something on a quiet machine.
This measures what a request *does*, through the whole WSGI application a gunicorn worker
runs (middleware, routing, authentication, rate limits, the view, request signals), minus
gunicorn's HTTP parsing:

- PostgreSQL statements and Redis round trips per request (every statement psycopg sends,
  `SET search_path` and the connection health check included);
- process CPU per request (median; moves with the machine's load), and the PostgreSQL
  backend's (`pg_cpu_ms`, a mean: parsing, planning, running and committing our statements),
  when the database runs on this machine;
- with `--instructions`, CPU instructions per request under valgrind's callgrind, which are
  the same from run to run whatever else the machine is doing: the figure to decide by.

    make bench-cost                                   # every request kind, 1,000 users
    make bench-cost ARGS="--kinds empty,get,post --instructions"

It seeds `cost-<N>` in the `headcount_cost` database (or DATABASE_URL) with `bench_seed`,
issues a token, then runs each kind: warm-up requests, then the measured ones, on one
persistent connection, with the benchmark server's settings (DEBUG off, rate limits on).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402

# The request kinds, by the name used in the report, and the workload of bench/load.py (or a
# ceiling) that generates each one's requests.
KINDS = {
    "routed_empty": "ceiling_empty",
    "empty": "authenticated_empty",
    "filter": "filter_username",
    "get": "get_by_id",
    "post": "post",
    "patch": "patch_active",
    "put": "put",
    "group_patch": "group_patch",
    "page": "page_random_depth",
}


def _environ(token: str, slug: str, method: str, path: str, body: Any) -> dict[str, Any]:
    full = f"/t/{slug}/scim/v2{path}"
    path_info, _, query = full.partition("?")
    data = b"" if body is None else json.dumps(body).encode()
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_ACCEPT": "application/scim+json",
        "HTTP_USER_AGENT": "Headcount bench-cost",
        "CONTENT_TYPE": "application/scim+json",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


class _Caller:
    """Calls the WSGI application in this process as gunicorn's sync worker does."""

    def __init__(self, token: str, slug: str) -> None:
        from django.core.servers.basehttp import get_internal_wsgi_application

        # settings.WSGI_APPLICATION: what gunicorn serves (config/gunicorn.py names it too).
        self.application = get_internal_wsgi_application()
        self.token, self.slug = token, slug

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        status: list[str] = []

        def start_response(
            line: str, headers: Any, exc_info: Any = None
        ) -> Callable[[bytes], object]:
            status.append(line)
            return lambda data: None

        result = self.application(
            _environ(self.token, self.slug, method, path, body), start_response
        )
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(status[0].split()[0]), content


def _marker() -> None:
    """A phase boundary for callgrind (`--dump-before=os_getppid`): it writes the instructions
    counted since the last boundary to a file of their own. Outside valgrind, nothing."""
    os.getppid()


@contextmanager
def _counting() -> Iterator[dict[str, int]]:
    """Counts, while open, every statement psycopg is asked to run, every exchange with
    PostgreSQL it waits on (statements, and the BEGIN and COMMIT of transactions, and the
    health check: each one round trip) and every command batch redis-py sends. Measurement
    only: the instruction pass runs without it."""
    import psycopg
    import psycopg._cursor_base
    import psycopg.generators
    import redis.connection

    counts = {"statements": 0, "round_trips": 0, "redis": 0}
    originals = (
        psycopg.Cursor.execute,
        psycopg.Cursor.executemany,
        redis.connection.AbstractConnection.send_packed_command,
    )
    exchanges = (psycopg.generators.execute, psycopg._cursor_base.execute)

    def exchange_of(original: Any) -> Any:
        def exchange(*args: Any, **kwargs: Any) -> Any:
            counts["round_trips"] += 1
            return original(*args, **kwargs)

        return exchange

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        return originals[0](self, *args, **kwargs)

    def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        return originals[1](self, *args, **kwargs)

    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["redis"] += 1
        return originals[2](self, *args, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    psycopg.generators.execute = exchange_of(exchanges[0])
    psycopg._cursor_base.execute = exchange_of(exchanges[1])
    try:
        yield counts
    finally:
        psycopg.generators.execute, psycopg._cursor_base.execute = exchanges
        psycopg.Cursor.execute = originals[0]  # type: ignore[method-assign]
        psycopg.Cursor.executemany = originals[1]  # type: ignore[method-assign]
        redis.connection.AbstractConnection.send_packed_command = originals[2]  # type: ignore[method-assign]


def _plans(call: _Caller, users: int) -> dict[str, Callable[[random.Random], load.Request]]:
    status, content = call("GET", "/Users?startIndex=1&count=500&attributes=userName")
    _check("sample", status, content)
    sample = [{"id": u["id"], "userName": u["userName"]} for u in json.loads(content)["Resources"]]
    status, content = call("GET", "/Groups?filter=" + quote('displayName eq "Group 0"'))
    _check("group", status, content)
    group_id = json.loads(content)["Resources"][0]["id"]
    return load.workloads(sample, users, group_id)


def measure(state: dict[str, Any], kinds: list[str], warmup: int, requests: int) -> dict[str, Any]:
    """Runs in the measured process: each kind's warm-up, then its measured requests, each
    phase between two callgrind boundaries; then a counting pass (outside any boundary)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    call = _Caller(state["token"], state["slug"])
    plans = _plans(call, state["users"])
    report: dict[str, Any] = {}
    _marker()  # start-up ends
    for kind in kinds:
        plan, rng = plans[KINDS[kind]], random.Random(kind)
        for _ in range(warmup):
            _check(kind, *call(*plan(rng)))
        # Read before the boundary: its first call imports psutil, tens of millions of
        # instructions that would otherwise be counted as the first kind's requests.
        database_before = _database_cpu()
        _marker()  # warm-up ends
        cpu, wall = [], []
        for _ in range(requests):
            request = plan(rng)
            started_cpu, started = time.process_time(), time.perf_counter()
            status, content = call(*request)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
            _check(kind, status, content)
        _marker()  # measured requests end
        database_after = _database_cpu()
        report[kind] = {
            "cpu_ms": round(1000 * statistics.median(cpu), 3),
            "wall_ms": round(1000 * statistics.median(wall), 3),
        }
        # The same backend throughout, or the figure would mix processes.
        if database_before and database_after and database_before[0] == database_after[0]:
            report[kind]["pg_cpu_ms"] = round(
                1000 * (database_after[1] - database_before[1]) / requests, 3
            )
    for kind in kinds:
        plan, rng = plans[KINDS[kind]], random.Random(f"count {kind}")
        sent = max(20, requests // 10)
        with _counting() as counts:
            for _ in range(sent):
                _check(kind, *call(*plan(rng)))
        report[kind]["statements"] = round(counts["statements"] / sent, 2)
        report[kind]["pg_round_trips"] = round(counts["round_trips"] / sent, 2)
        report[kind]["redis_round_trips"] = round(counts["redis"] / sent, 2)
    return report


def _database_cpu() -> tuple[int, float] | None:
    """The PostgreSQL backend serving this process's connection, and its CPU seconds so far (what
    the database spent parsing, planning and running our statements, committing included), or
    None when that backend is not a process of this machine. A mean over the measured
    requests: the kernel counts in clock ticks, too coarse for one request."""
    import psutil
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return pid, float(times.user + times.system)


def _check(kind: str, status: int, content: bytes) -> None:
    if not 200 <= status < 300:
        raise SystemExit(f"{kind}: HTTP {status}: {content[:300]!r}")


def _callgrind_totals(prefix: Path) -> list[int]:
    """Instructions of each phase, in order: the numbered dumps are the phases that ended at
    a boundary; the unnumbered file is what ran after the last one."""
    numbered = sorted(
        (p for p in prefix.parent.glob(prefix.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
    )
    totals = []
    for path in numbered:
        for line in path.read_text().splitlines():
            if line.startswith("totals:"):
                totals.append(int(line.split()[1]))
                break
    return totals


def prepare(env: dict[str, str], users: int) -> dict[str, Any]:
    """Seed `cost-<users>` afresh on every run: the writes of an earlier run would otherwise
    grow its tables and leave its deprovisioning brake tripped (a 503 for every PATCH)."""
    from bench.run import manage

    slug = f"cost-{users}"
    manage({**env, "DEBUG": "1"}, "migrate_schemas", "--noinput", "-v", "0")
    print(
        manage(env, "bench_seed", "--company", slug, "--users", str(users), "--reset"),
        flush=True,
    )
    token = manage(env, "token_issue", "--company", slug, "--name", f"cost {time.time_ns()}")
    return {"slug": slug, "token": token, "users": users}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated: " + ", ".join(KINDS)
    )
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (callgrind)"
    )
    # Kept so that older command lines still run: every run seeds afresh now.
    parser.add_argument("--reseed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", default="headcount_cost")
    parser.add_argument("--redis-index", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if unknown := [k for k in kinds if k not in KINDS]:
        parser.error(f"unknown kind(s): {', '.join(unknown)}; known: {', '.join(KINDS)}")

    if args.child is not None:
        state = json.loads(args.child.read_text())
        report = measure(state, kinds, args.warmup, args.requests)
        Path(state["out"]).write_text(json.dumps(report))
        return 0

    from bench.run import bench_env
    from devstack.services import resolve

    services = resolve(
        data_dir=ROOT / ".data", database=args.database, redis_index=args.redis_index
    )
    env = bench_env(services)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as scratch:
        state = prepare(env, args.users)
        state["out"] = str(Path(scratch) / "report.json")
        state_file = Path(scratch) / "state.json"
        state_file.write_text(json.dumps(state))
        command = [sys.executable, "-m", "bench.request_cost", "--child", str(state_file)]
        command += ["--kinds", ",".join(kinds), "--warmup", str(args.warmup)]
        command += ["--requests", str(args.requests)]
        prefix = Path(scratch) / "callgrind.out"
        if args.instructions:
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={prefix}",
                "--dump-before=os_getppid",
                "--dump-instr=no",
                "--dump-line=no",
                *command,
            ]
        child = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE if args.instructions else None,
            text=True,
        )
        if child.returncode:
            # valgrind's own lines start with ==pid==; the rest is why the child stopped.
            said = [line for line in (child.stderr or "").splitlines() if not line.startswith("==")]
            raise SystemExit("\n".join([*said[-20:], f"measuring failed ({child.returncode})"]))
        report = json.loads(Path(state["out"]).read_text())
        if args.instructions:
            totals = _callgrind_totals(prefix)
            if len(totals) != 1 + 2 * len(kinds):
                raise SystemExit(f"callgrind wrote {len(totals)} phases, not {1 + 2 * len(kinds)}")
            # Phases: start-up, then (warm-up, measured) per kind.
            for i, kind in enumerate(kinds):
                report[kind]["instructions_k"] = round(totals[2 + 2 * i] / args.requests / 1000)
    print(_table(report, kinds, args))
    if args.json:
        args.json.write_text(
            json.dumps({"users": args.users, "requests": args.requests, "kinds": report}, indent=2)
        )
    services.stop()
    return 0


def _table(report: dict[str, Any], kinds: list[str], args: argparse.Namespace) -> str:
    columns = [
        "statements",
        "pg_round_trips",
        "redis_round_trips",
        "cpu_ms",
        "pg_cpu_ms",
        "wall_ms",
    ]
    if args.instructions:
        columns.append("instructions_k")
    lines = [
        f"{args.users:,} users, {args.requests} measured requests per kind after {args.warmup} warm-up",
        "| kind | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for kind in kinds:
        lines.append(
            f"| {kind} | " + " | ".join(str(report[kind].get(c, "")) for c in columns) + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
