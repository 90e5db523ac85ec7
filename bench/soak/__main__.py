"""`make soak`: the soak and fault run (bench/README.md). Starts its own stack, drives Okta
and Entra ID traffic at three companies for --minutes while it breaks Redis, PostgreSQL, a
web worker and the Celery worker on a schedule (bench/soak/faults.py), then checks that
every acknowledged write is in the database and that no answer was a 5xx no fault excuses
(bench/soak/verdict.py). Exits 1 when an invariant is broken.

    make soak                          # 30 minutes
    make soak ARGS="--minutes 2"       # the same faults, scaled down
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.run import manage  # noqa: E402
from bench.soak import faults as fault_schedule  # noqa: E402
from bench.soak.stack import Stack  # noqa: E402
from bench.soak.traffic import Clock, IdPClient, group_state, user_state  # noqa: E402
from bench.soak.verdict import Call, State, Verdict, Window, judge_calls, judge_state  # noqa: E402

LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
COMPANIES = 3


def soak_database(url: str | None, name: str) -> str:
    """URL of database `name` on the server of `url` (DATABASE_URL, else 127.0.0.1:5432),
    created when missing."""
    server = urlsplit(url or os.environ.get("DATABASE_URL") or LOCAL_SERVER)
    with psycopg.connect(
        urlunsplit(server._replace(path="/postgres")), autocommit=True, connect_timeout=5
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(server._replace(path=f"/{name}"))


def run_faults(
    stack: Stack, faults: list[fault_schedule.Fault], clock: Clock, windows: list[Window]
) -> None:
    """Inject each fault at its time; record from injection until the stack is whole."""
    for fault in faults:
        time.sleep(max(0.0, fault.at - clock.now()))
        start = clock.now()
        print(f"[{start:7.1f}s] fault: {fault.name} ({fault.seconds:.0f} s)", flush=True)
        if fault.name == "redis":
            stack.redis.kill()
            time.sleep(fault.seconds)
            stack.redis.start()
        elif fault.name == "database":
            stack.relay.cut()
            time.sleep(fault.seconds)
            stack.relay.restore()
        elif fault.name == "web_worker":
            killed = stack.kill_web_worker()
            print(f"           SIGKILLed gunicorn worker {killed}", flush=True)
            if not stack.wait_for_web_workers(killed):
                print("           gunicorn did not replace it within 60 s", flush=True)
        elif fault.name == "celery_worker":
            stack.kill_worker()
            time.sleep(fault.seconds)
            stack.start_worker()
        windows.append(Window(fault.name, start, clock.now()))
        print(f"[{clock.now():7.1f}s] healed: {fault.name}", flush=True)


def sample_memory(stack: Stack, clock: Clock, samples: list[dict[str, Any]], every: float) -> None:
    while time.monotonic() < clock.stop_at:
        samples.append({"at": round(clock.now(), 1), **stack.memory()})
        time.sleep(every)


def end_state(
    base_url: str, slug: str, token: str
) -> tuple[dict[tuple[str, str, str], State], dict[tuple[str, str, str], str]]:
    """Every user and group of the company, read page by page over the API."""
    reader = IdPClient(
        number=0,
        dialect="okta",
        base_url=base_url,
        company=slug,
        token=token,
        clock=Clock(time.monotonic(), 0, time.monotonic() + 60),
        pause=0,
        max_users=0,
        seed=0,
    )
    states: dict[tuple[str, str, str], State] = {}
    names: dict[tuple[str, str, str], str] = {}
    for kind in ("Users", "Groups"):
        start = 1
        while True:
            reply = reader.write("GET", f"/{kind}?startIndex={start}&count=100", "end state")
            if reply.status != 200:
                raise RuntimeError(f"reading the end state of {slug}: {reply.status} {reply.body}")
            for item in reply.body["Resources"]:
                key = (slug, kind[:-1], item["id"])
                if kind == "Users":
                    states[key] = user_state(bool(item.get("active")), item.get("title") or "")
                    names[key] = item["userName"]
                else:
                    members = frozenset(m["value"] for m in item.get("members") or [])
                    states[key] = group_state(item["displayName"], members)
                    names[key] = item["displayName"]
            start += len(reply.body["Resources"])
            if not reply.body["Resources"] or start > reply.body["totalResults"]:
                break
    return states, names


def log_findings(logs: Path) -> dict[str, Any]:
    """Tracebacks and ERROR lines each process logged, with the first few."""
    found: dict[str, Any] = {}
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        errors = [line for line in text.splitlines() if re.search(r"\bERROR\b|Traceback", line)]
        found[log.name] = {
            "error_lines": len(errors),
            "first": errors[:5],
            # Beat's periodic tasks, run by the worker: proof it works again after the faults.
            "tasks_succeeded": text.count(" succeeded in "),
        }
    return found


def markdown(report: dict[str, Any]) -> str:
    calls, state = report["calls"], report["state"]
    memory = report["memory"]
    lines = [
        f"# Soak run {report['started']}",
        "",
        f"{report['minutes']} minutes, {report['clients']} IdP clients (Okta and Entra ID) at "
        f"{COMPANIES} companies; gunicorn {report['web_workers']} workers, DEBUG off; "
        f"{report['machine']} ({report['cpus']} cores). Verdict: "
        + ("**all invariants hold**" if report["ok"] else "**invariants broken**"),
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests sent | {calls['requests']:,} |",
        f"| answered, by status | {', '.join(f'{k}: {v:,}' for k, v in calls['by_status'].items())} |",
        f"| writes sent / acknowledged (2xx) | {calls['writes_sent']:,} / {calls['writes_acknowledged']:,} |",
        f"| retries (no answer, 429, 503) | {report['retries']:,} |",
        f"| resources tracked / expected present / present | {state['tracked']:,} / "
        f"{state['expected_present']:,} / {state['present_tracked']:,} |",
        f"| acknowledged writes lost | {state['wrong_state']} |",
        f"| present but never acknowledged | {state['untracked_present']} |",
        f"| unacknowledged writes found kept | {state['unacknowledged_write_kept']} |",
        f"| 5xx other than 503 | {calls['other_5xx']} |",
        f"| 5xx no fault excuses | {calls['unexcused_5xx']} |",
        f"| no answer outside a web-worker kill | {calls['unexcused_no_answer']} |",
        f"| reads disagreeing with acknowledged writes | {len(report['stale_reads'])} |",
        f"| web worker RSS, start → end (MB) | {memory['web_workers_start']} → {memory['web_workers_end']} |",
        f"| Celery worker RSS, start → end (MB) | {memory['celery_start']} → {memory['celery_end']} |",
        f"| Celery tasks succeeded (worker log) | "
        f"{report['log_findings'].get('worker.log', {}).get('tasks_succeeded', 0)} |",
        "",
        "| fault | injected at | healed at | answers meanwhile (+ grace) |",
        "|---|---|---|---|",
    ]
    for window, counts in zip(report["faults"], calls["by_fault_window"].values(), strict=False):
        lines.append(
            f"| {window['fault']} | {window['start']:.0f} s | {window['end']:.0f} s | "
            f"{', '.join(f'{k}: {v}' for k, v in counts.items()) or '-'} |"
        )
    lines += [
        "",
        "Stack at the end: "
        + ", ".join(f"{k} {'up' if v else 'DOWN'}" for k, v in report["alive"].items()),
    ]
    if report["failures"]:
        lines += ["", "## Broken invariants", ""] + [f"- {line}" for line in report["failures"]]
    return "\n".join(lines) + "\n"


def summarize_memory(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def values(sample: dict[str, Any], role: str) -> list[float | None]:
        return list(sample[role].values()) if sample else []

    first, last = (samples[0], samples[-1]) if samples else ({}, {})
    return {
        "web_workers_start": values(first, "web_workers"),
        "web_workers_end": values(last, "web_workers"),
        "celery_start": values(first, "celery_worker"),
        "celery_end": values(last, "celery_worker"),
        "samples": samples,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30, help="length of the traffic (30)")
    parser.add_argument("--clients", type=int, default=6, help="IdP client threads (6)")
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds each client waits between operations"
    )
    parser.add_argument("--users-per-client", type=int, default=150)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--grace",
        type=float,
        default=5,
        help="seconds after a fault heals during which its symptoms are still excused",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server to use (its database is replaced by headcount_soak); default "
        "DATABASE_URL's server, else 127.0.0.1:5432",
    )
    parser.add_argument("--keep", action="store_true", help="keep the companies afterwards")
    args = parser.parse_args(argv)
    try:
        faults = fault_schedule.schedule(args.minutes)
    except ValueError as error:
        parser.error(str(error))

    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    logs = ROOT / ".data" / "soak" / stamp
    logs.mkdir(parents=True, exist_ok=True)
    database_url = soak_database(args.database_url, "headcount_soak")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "RATE_LIMIT_REDIS_URL", "REDIS_URL"}
    }
    env |= {
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "soak-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "EXPORT_ROOT": str(logs / "exports"),
        "STATIC_ROOT": str(ROOT / ".data" / "soak" / "static"),
        # The limiter stays in the path (its Redis is one of the faults); the limits are
        # far above what the clients send.
        "SCIM_RATE_LIMIT_PER_MINUTE": "100000000",
        "SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    print(f"· logs in {logs}; database {urlsplit(database_url).path[1:]}", flush=True)
    print("· migrating …", flush=True)
    # Migrations need no broker; companies are created once the stack's own Redis is up.
    setup_env = {**env, "DEBUG": "1"}
    manage(setup_env, "migrate_schemas", "--noinput", "-v", "0")
    manage(setup_env, "collectstatic", "--noinput", "-v", "0")
    slugs = [f"soak-{stamp[2:15].lower()}-{n}" for n in range(1, COMPANIES + 1)]
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "clients": args.clients,
        "web_workers": args.web_workers,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "companies": slugs,
        "logs": str(logs),
    }
    try:
        with Stack(
            database_url=database_url, logs=logs, env=env, web_workers=args.web_workers
        ) as stack:
            print(
                f"· stack up: {stack.base_url}, redis :{stack.redis.port}, "
                f"PostgreSQL via relay :{stack.relay.port}",
                flush=True,
            )
            setup_env["REDIS_URL"] = stack.redis.url
            tokens = {}
            for slug in slugs:
                manage(
                    setup_env, "company_create", "--slug", slug, "--name", slug, "--scim-enabled"
                )
                tokens[slug] = manage(setup_env, "token_issue", "--company", slug, "--name", "soak")
            verdict = soak(stack, args, faults, slugs, tokens, report)
            report["alive"] = stack.alive()
    finally:
        if not args.keep:
            drop_companies(setup_env, slugs)

    dead = [name for name, up in report["alive"].items() if not up]
    report["failures"] = verdict.failures + [f"{name} is down at the end" for name in dead]
    report["ok"] = not report["failures"]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"soak-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    (out / f"soak-{stamp}.md").write_text(markdown(report))
    print("\n" + markdown(report))
    print(f"Written: bench/results/soak-{stamp}.json and .md; process logs in {logs}")
    return 0 if report["ok"] else 1


def soak(
    stack: Stack,
    args: argparse.Namespace,
    faults: list[fault_schedule.Fault],
    slugs: list[str],
    tokens: dict[str, str],
    report: dict[str, Any],
) -> Verdict:
    """Drive the traffic with the faults, then judge; fills `report`."""
    now = time.monotonic()
    seconds = args.minutes * 60
    clock = Clock(now, now + seconds, now + seconds + 90)
    clients = [
        IdPClient(
            number=n,
            dialect=("okta", "entra")[n % 2],
            base_url=stack.base_url,
            company=slugs[n % COMPANIES],
            token=tokens[slugs[n % COMPANIES]],
            clock=clock,
            pause=args.pause,
            max_users=args.users_per_client,
            seed=n,
        )
        for n in range(args.clients)
    ]
    windows: list[Window] = []
    samples: list[dict[str, Any]] = []
    injector = threading.Thread(target=run_faults, args=(stack, faults, clock, windows))
    sampler = threading.Thread(
        target=sample_memory, args=(stack, clock, samples, max(5.0, seconds / 60)), daemon=True
    )
    for thread in (*clients, injector, sampler):
        thread.start()
    last_print = 0.0
    while any(client.is_alive() for client in clients) or injector.is_alive():
        time.sleep(1)
        if clock.now() - last_print >= 30:
            last_print = clock.now()
            sent = sum(len(client.calls) for client in clients)
            print(f"[{clock.now():7.1f}s] {sent:,} requests", flush=True)
    samples.append({"at": round(clock.now(), 1), **stack.memory()})

    calls: list[Call] = [call for client in clients for call in client.calls]
    call_verdict = judge_calls(calls, windows, args.grace)
    actual: dict[tuple[str, str, str], State] = {}
    names: dict[tuple[str, str, str], str] = {}
    for slug in slugs:
        states, found_names = end_state(stack.base_url, slug, tokens[slug])
        actual |= states
        names |= found_names
    expected = [item for client in clients for item in client.expectations()]
    unresolved = set().union(*(client.unresolved_names for client in clients))
    state_verdict = judge_state(expected, actual, unresolved, names)
    stale = [line for client in clients for line in client.stale_reads]
    crashed = [f"client {c.name} crashed: {c.error!r}" for c in clients if c.error]

    report["calls"] = call_verdict.counts
    report["state"] = state_verdict.counts
    report["retries"] = sum(client.retries for client in clients)
    report["stale_reads"] = stale[:50]
    report["faults"] = [window.__dict__ for window in windows]
    report["memory"] = summarize_memory(samples)
    report["celery_worker_starts"] = stack.worker_starts
    report["log_findings"] = log_findings(stack.logs)
    verdict = Verdict()
    verdict.failures = (
        call_verdict.failures
        + state_verdict.failures
        + [f"stale read: {line}" for line in stale[:20]]
        + crashed
    )
    if len(windows) != len(faults):
        verdict.failures.append(f"only {len(windows)} of {len(faults)} faults were injected")
    return verdict


def drop_companies(env: dict[str, str], slugs: list[str]) -> None:
    script = (
        "from tenants.models import Company\n"
        f"for company in Company.objects.filter(slug__in={slugs!r}):\n"
        "    company.delete(force_drop=True)\n"
    )
    manage(env, "shell", "-c", script)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
