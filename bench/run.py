"""`make bench`: seed a company, start the production server (gunicorn, DEBUG off) with the
ceiling endpoints, drive every workload, write JSON and a Markdown table to bench/results/.

    make bench                                   # 100,000 users, 10 s per workload
    make bench ARGS="--users 1000,100000,1000000 --duration 20"   # the scale sweep
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu, interleave, load, peer_run, portal, settle, wrk  # noqa: E402
from bench.bare import seed as bare_seed  # noqa: E402
from devstack.services import resolve  # noqa: E402


def bench_env(services: Any) -> dict[str, str]:
    """The server's environment: the benchmark's database and Redis, production settings."""
    return {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only",
        "BENCH_ENDPOINTS": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DB_CONN_MAX_AGE": "600",
        # Rate limiting stays on (its Redis round trip is part of every request's cost), with
        # limits far above what one machine can send.
        "SCIM_RATE_LIMIT_PER_MINUTE": "100000000",
        "SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE": "100000000",
    }


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    env: dict[str, str],
    workers: int,
    app: str = "config.wsgi:application",
    ready_path: str = "/healthz",
    threads: int = 1,
) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn serving `app` with the production settings (config/gunicorn.py), once
    `ready_path` answers; with `threads` > 1, gunicorn's gthread workers."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--config",
            "python:config.gunicorn",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    peer_run.wait_until_answering(server, url + ready_path, f"gunicorn ({app})")
    return server, url


def worker_pids(server: subprocess.Popen[bytes]) -> set[int]:
    """The gunicorn master's worker processes."""
    return {child.pid for child in psutil.Process(server.pid).children()}


def workers_replaced(before: set[int], after: set[int]) -> int:
    """How many of the workers of `before` are gone by `after`: a worker the master was still
    forking when the first workload began is new, not a replacement. One replaced twice
    within a workload counts once; at the default max_requests no workload sends a worker
    that many requests."""
    return len(before - after)


def worker_rss_mb(server: subprocess.Popen[bytes]) -> list[float]:
    return [
        round(child.memory_info().rss / 2**20, 1) for child in psutil.Process(server.pid).children()
    ]


@dataclass(frozen=True)
class Target:
    """A server under load: its gunicorn master (for the CPU split), the base URL and token
    the workloads are sent with, each workload's request generator, and its name in the
    console lines."""

    label: str
    server: subprocess.Popen[bytes]
    base: str
    token: str
    plans: dict[str, Any]


def bench_size(env: dict[str, str], users: int, args: argparse.Namespace) -> dict[str, Any]:
    slug = f"bench-{users}"
    print(f"\n== {users:,} users: seeding {slug} …", flush=True)
    print(
        "   "
        + manage(
            env,
            "bench_seed",
            "--company",
            slug,
            "--users",
            str(users),
            "--groups",
            str(args.groups),
            "--reset",
            *(["--profiles"] if args.portal else []),
        ),
        flush=True,
    )
    token = manage(env, "token_issue", "--company", slug, "--name", f"bench {time.time_ns()}")
    peer_results: list[dict[str, Any]] = []
    server, url = start_server(env, args.workers, threads=args.threads)
    try:
        base = f"{url}/t/{slug}/scim/v2"
        users_sample = load.sample_users(base, token, users)
        group_id = load.Client(base, token).call(
            "GET", "/Groups?filter=" + load.quote('displayName eq "Group 0"')
        )[1]["Resources"][0]["id"]
        ours = Target(
            "Headcount", server, base, token, load.workloads(users_sample, users, group_id)
        )
        chosen = [name for name in ours.plans if not args.workloads or name in args.workloads]
        if args.peer:
            # Both servers up before the first workload, so that each shared one alternates.
            with peer_serving(users, args) as peer:
                results, peer_results = drive_interleaved(ours, peer, chosen, args)
        else:
            results = drive(ours, chosen, args)
        if args.sweep:
            results.append(load.import_sweep(base, token))
            print(f"   import_sweep {results[-1]}", flush=True)
            results.append(load.cursor_sweep(base, token))
            print(f"   cursor_sweep {results[-1]}", flush=True)
        rss = worker_rss_mb(server)
        portal_measures = None
        if args.portal:
            portal_measures = portal.measure(
                manage,
                env,
                url,
                slug,
                users,
                duration=args.duration,
                concurrency=args.concurrency,
            )
    finally:
        _stop(server)
    bare = bare_ceilings(env, slug, users, args) if args.bare else None
    measured: dict[str, Any] = {
        "users": users,
        "results": load.summarize(results, bare),
        "worker_rss_mb": rss,
    }
    if portal_measures is not None:
        measured["portal"] = portal_measures
    if args.peer:
        measured["peer"] = peer_results
        measured["versus_peer"] = peer_run.ratios(measured["results"], measured["peer"])
    return measured


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(10)


def bare_ceilings(
    env: dict[str, str], slug: str, users: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The bare app (bench/bare/) on a copy of `slug`'s users, served by the same gunicorn
    settings right after Headcount's server stopped, with the same load generator."""
    print(f"   bare app: {bare_seed.seed(env['DATABASE_URL'], slug):,} users copied", flush=True)
    bare_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.bare.settings"}
    server, url = start_server(
        bare_env, args.workers, "bench.bare.wsgi:application", "/empty", threads=args.threads
    )
    try:
        bare = Target("bare app", server, url, "", load.bare_workloads(users))
        return drive(bare, list(load.BARE_CEILINGS), args)
    finally:
        _stop(server)


def drive(target: Target, chosen: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each chosen workload once against `target` (see `measure`), a console line each."""
    results = []
    for name in chosen:
        results.append(measure(target, name, args))
        _print_row(name, results[-1])
    return results


# The routing-only ceiling and the authenticated empty view: their ratio is what
# authentication costs every request, so with rounds they take turns as the two servers do.
EMPTY_PAIR = ("ceiling_empty", "authenticated_empty")


def drive_alternating(
    target: Target, pair: tuple[str, str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Two workloads against `target` in `args.peer_rounds` rounds, taking turns in the
    order bench/interleave.py gives the two servers (the first as Headcount, the second as
    the peer), each one's rounds combined into one row; the two rows, in `pair`'s order."""
    first, second = pair
    runs: dict[interleave.Side, list[dict[str, Any]]] = {"headcount": [], "peer": []}
    for k, side in interleave.order(args.peer_rounds):
        name = first if side == "headcount" else second
        runs[side].append(measure(target, name, args))
        _print_row(name, runs[side][-1], f"round {k + 1} of {args.peer_rounds}")
    rows = [interleave.combine(runs["headcount"]), interleave.combine(runs["peer"])]
    shares = [
        f"{b['req_per_s'] / a['req_per_s']:.0%}" if a["req_per_s"] else "-"
        for a, b in zip(rows[0]["rounds"], rows[1]["rounds"], strict=True)
    ]
    print(
        f"   {second} {rows[1]['req_per_s']} req/s, {first} {rows[0]['req_per_s']} req/s "
        f"over all rounds (per round {' / '.join(shares)})",
        flush=True,
    )
    return rows


def drive_interleaved(
    ours: Target, peer: Target, chosen: list[str], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each chosen workload: when the peer serves it too, in `args.peer_rounds` rounds
    alternating the two servers (bench/interleave.py), each side's rounds combined into one
    row; otherwise (the ceilings, Headcount-only workloads) once against Headcount. Returns
    Headcount's rows and the peer's."""
    ours_rows, peer_rows = [], []
    targets = {"headcount": ours, "peer": peer}
    paired_ceilings = set(EMPTY_PAIR) <= set(chosen)
    if paired_ceilings:
        ours_rows += drive_alternating(ours, EMPTY_PAIR, args)
    for name in chosen:
        if paired_ceilings and name in EMPTY_PAIR:
            continue
        if name in load.CEILINGS or name in load.OURS_ONLY:
            ours_rows.append(measure(ours, name, args))
            _print_row(name, ours_rows[-1])
            continue
        runs: dict[interleave.Side, list[dict[str, Any]]] = {"headcount": [], "peer": []}
        for k, side in interleave.order(args.peer_rounds):
            runs[side].append(measure(targets[side], name, args))
            where = f"{targets[side].label}, round {k + 1} of {args.peer_rounds}"
            _print_row(name, runs[side][-1], where)
        ours_rows.append(interleave.combine(runs["headcount"]))
        peer_rows.append(interleave.combine(runs["peer"]))
        (paired,) = peer_run.ratios(ours_rows[-1:], peer_rows[-1:])
        print(
            f"   {name:<20} Headcount {ours_rows[-1]['req_per_s']} req/s, "
            f"{peer.label} {peer_rows[-1]['req_per_s']} req/s over all rounds: "
            f"{paired['ratio']}x (per round {_round_ratios(paired)})",
            flush=True,
        )
    return ours_rows, peer_rows


def measure(target: Target, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one workload against `target` for the set duration and concurrency, then wait
    until the server has served what the load generator left in flight (bench/settle.py);
    the row records the wait, where the CPU went (bench/cpu.py) and how many workers gunicorn
    replaced meanwhile (after its max_requests), whose start-up the row then carries."""
    port = urlsplit(target.base).port or 80
    workers = worker_pids(target.server)
    before = cpu.sample(target.server.pid)
    if args.client == "wrk":
        rate = load.PLANNED_PER_SECOND.get(name, 3_000)
        planned = max(rate * 20 // 3, int(args.duration * rate))
        # Both clients call the plan's generators afresh on every run, and a POST's userName
        # is a uuid4, so a later round never repeats (and conflicts with) an earlier create.
        row = wrk.run(
            name,
            target.base,
            target.token,
            target.plans[name],
            args.duration,
            args.concurrency,
            planned,
        )
    else:
        row = load.run(
            name,
            target.base,
            target.token,
            target.plans[name],
            args.duration,
            args.concurrency,
            ok=(200, 201, 204),
        ).summary()
    # What the workload left in flight is served before anything else is measured.
    row["settled_s"] = settle.wait_until_served(port)
    row["cpu_ms"] = cpu.per_request(before, cpu.sample(target.server.pid), row["requests"])
    row["workers_replaced"] = workers_replaced(workers, worker_pids(target.server))
    return row


def _print_row(name: str, row: dict[str, Any], where: str = "") -> None:
    """A workload's console line; `where` (which server, which round) when it ran in rounds."""
    label = f"{name:<20} {f'[{where}]':<29}" if where else f"{name:<20} "
    print(
        f"   {label}{row['req_per_s']:>8} req/s  p50 {row['p50_ms']:>7} ms  "
        f"p99 {row['p99_ms']:>7} ms  errors {row['errors']}  "
        f"settled in {row['settled_s']} s  CPU ms/request: {_cpu_line(row['cpu_ms'])}"
        f"{_replaced(row)}",
        flush=True,
    )


def _replaced(row: dict[str, Any]) -> str:
    """A note for a row during which gunicorn replaced workers; empty when none."""
    replaced = row.get("workers_replaced", 0)
    return f" ({replaced} worker{'s' if replaced > 1 else ''} replaced)" if replaced else ""


def _round_ratios(row: dict[str, Any]) -> str:
    ratios = row.get("round_ratios", [])
    return " / ".join("-" if r is None else f"{r:.2f}" for r in ratios) or "-"


def _cpu_line(split: dict[str, float]) -> str:
    if not split:
        return "-"
    parts = " ".join(f"{group} {split[group]:.2f}" for group in cpu.GROUPS)
    return f"{parts}, idle {split['idle_share']:.0%}"


def _app_and_database(split: dict[str, float]) -> str:
    return f"{split['app']:.2f} + {split['postgres']:.2f}" if split else "-"


@contextlib.contextmanager
def peer_serving(users: int, args: argparse.Namespace) -> Iterator[Target]:
    """django-scim2 (bench/peer_run.py) seeded to the same size and serving, its sample drawn
    and its requests planned; stopped on leaving."""
    print(f"   django-scim2: {peer_run.seed(users, args.groups)}", flush=True)
    server, base, token = peer_run.start(free_port(), args.workers)
    try:
        # The peer reads its whole user table for any page: sample from fewer pages.
        sample = load.sample_users(base, token, users, wanted=300)
        group_id = load.Client(base, token).call(
            "GET", "/Groups?filter=" + load.quote('displayName eq "Group 0"')
        )[1]["Resources"][0]["id"]
        plans = load.workloads(sample, users, group_id, group_remove="value")
        yield Target("django-scim2", server, base, token, plans)
    finally:
        _stop(server)


def _workers(report: dict[str, Any]) -> str:
    threads = report.get("threads", 1)
    if threads > 1:
        return f"{report['workers']} gthread workers of {threads} threads (the peer: sync)"
    return f"{report['workers']} sync workers"


def _interleaving(report: dict[str, Any]) -> str:
    rounds = report.get("peer_rounds", 1)
    if rounds == 1:
        return "One round per workload: Headcount, then django-scim2."
    return (
        f"{rounds} rounds per workload, alternating which server runs first (bench/interleave.py); "
        "req/s over all rounds, p50 the median of the rounds'."
    )


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Run {report['started']} on {report['machine']} ({report['cpus']} cores), gunicorn "
        f"{_workers(report)}, {report['concurrency']} clients ({report.get('client', 'python')}), {report['duration']} s per workload.",
        "",
    ]
    for size in report["sizes"]:
        lines += [
            f"### {size['users']:,} users (worker RSS after the run: {size['worker_rss_mb']} MB)",
            "",
            "| workload | req/s | p50 ms | p95 ms | p99 ms | errors | share of lookup ceiling "
            "| share of bare lookup | CPU ms per request (bench/cpu.py) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in size["results"]:
            if row["workload"] in ("import_sweep", "cursor_sweep"):
                kind = "import sweep" if row["workload"] == "import_sweep" else "cursor sweep"
                lines.append(
                    f"| {kind} ({row['pages']} pages of 100) | total {row['seconds']} s | first page {row['first_page_ms']} | median page {row.get('median_page_ms', '')} | last page {row['last_page_ms']} | | | | |"
                )
                continue
            lines.append(
                f"| {row['workload']}{_replaced(row)} | {row['req_per_s']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {row['errors']} | {row.get('share_of_lookup_ceiling', '')} | {row.get('share_of_bare_lookup', '')} | {_cpu_line(row.get('cpu_ms', {}))} |"
            )
        lines.append("")
        if size.get("versus_peer"):
            lines += [
                f"#### Against django-scim2, {size['users']:,} users, same run and load",
                "",
                _interleaving(report),
                "",
                "| workload | Headcount req/s (p50 ms) | django-scim2 req/s (p50 ms) | errors "
                "(peer) | Headcount / peer | per round | CPU ms per request, app + PostgreSQL: "
                "Headcount / peer |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {row['workload']} | {row['headcount_req_per_s']} ({row['headcount_p50_ms']}) "
                f"| {row['peer_req_per_s']} ({row['peer_p50_ms']}) | {row['peer_errors']} "
                f"| {row['ratio']}x | {_round_ratios(row)} "
                f"| {_app_and_database(row.get('headcount_cpu_ms', {}))} / "
                f"{_app_and_database(row.get('peer_cpu_ms', {}))} |"
                for row in size["versus_peer"]
            ]
            lines.append("")
    return "\n".join(lines)


def _workload_names(value: str) -> set[str]:
    names = set()
    for given in filter(None, (part.strip() for part in value.split(","))):
        name = load.WORKLOAD_LETTERS.get(given, given)
        if name not in load.WORKLOAD_NAMES:
            known = ", ".join(f"{k}={v}" for k, v in load.WORKLOAD_LETTERS.items())
            raise argparse.ArgumentTypeError(
                f"unknown workload {given!r}; choose from {known} or {', '.join(load.CEILINGS)}"
            )
        names.add(name)
    return names | set(load.CEILINGS) if names else names


def _rounds(value: str) -> int:
    rounds = int(value)
    if rounds < 1:
        raise argparse.ArgumentTypeError(f"at least one round, not {rounds}")
    return rounds


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", default="100000", help="comma-separated company sizes")
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker for Headcount and the bare app (> 1: gthread "
        "workers; the peer keeps its sync workers)",
    )
    parser.add_argument(
        "--workloads",
        default="",
        type=_workload_names,
        help="comma-separated subset, by name or by the issue's letter (a-g; i = bulk_post), "
        "e.g. a,b or "
        "filter_username; the ceilings always run, since every share is of them",
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if wrk.available() else "python",
        help="load generator: wrk (apt install wrk; the default when installed) or forked "
        "Python clients",
    )
    parser.add_argument(
        "--no-sweep",
        dest="sweep",
        action="store_false",
        help="skip the full import sweeps (by startIndex and by cursor)",
    )
    parser.add_argument(
        "--portal",
        action="store_true",
        help="seed titles, departments and a 30-day ledger too, and after the SCIM workloads "
        "drive the portal's member search, log and Activity pages (bench/portal.py)",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="also run the request workloads against django-scim2 (bench/peer; run "
        "bench/peer/setup.sh once), taking turns with Headcount (--peer-rounds), and report "
        "Headcount / peer ratios",
    )
    parser.add_argument(
        "--peer-rounds",
        type=_rounds,
        default=2,
        help="with --peer, the rounds per shared workload: Headcount then the peer in even "
        "rounds, the peer then Headcount in odd ones (2: ABBA; an even number cancels a "
        "linear drift of the machine's speed)",
    )
    parser.add_argument(
        "--no-bare",
        dest="bare",
        action="store_false",
        help="skip the bare one-lookup ceiling (bench/bare/: Django + DRF, no middleware, no "
        "auth, the same lookup on a copy of the users, its own server)",
    )
    return parser


def main(argv: list[str]) -> int:
    parser = argument_parser()
    args = parser.parse_args(argv)
    if args.peer and (problem := peer_run.available()):
        parser.error(f"--peer: {problem}")

    services = resolve(data_dir=ROOT / ".data", database="headcount_bench", redis_index=2)
    env = bench_env(services)
    manage({**env, "DEBUG": "1"}, "migrate_schemas", "--noinput", "-v", "0")
    # With DEBUG off, as the server runs: its static storage needs the manifest this writes.
    manage(env, "collectstatic", "--noinput", "-v", "0")
    report: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "threads": args.threads,
        "concurrency": args.concurrency,
        "duration": args.duration,
        "client": args.client,
        "sizes": [],
    }
    if args.peer:
        report["peer_rounds"] = args.peer_rounds
    for users in (int(u) for u in args.users.split(",")):
        report["sizes"].append(bench_size(env, users, args))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = report["started"].replace(":", "")
    (out / f"{stamp}.json").write_text(json.dumps(report, indent=2))
    (out / f"{stamp}.md").write_text(markdown(report))
    print("\n" + markdown(report))
    services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
