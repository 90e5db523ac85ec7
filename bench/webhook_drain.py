"""Benchmark: webhook delivery keeping up with a sustained event rate (issue #18: 200 events/s
drained by one worker, p95 delivery delay under 2 s).

    make bench-webhooks                                  # 200 events/s for 30 s, 3 companies
    make bench-webhooks ARGS="--rate 400 --seconds 60 --companies 10"

Runs on its own database (`headcount_bench`, like bench-company) and Redis db 2 unless
DATABASE_URL / REDIS_URL say otherwise. Starts one Celery worker (threads pool) and Celery beat
(the real sweeper schedule), registers one all-companies endpoint pointing at a receiver in this
process, then writes events into the companies' outboxes at the given rate (events.outbox.emit,
one event per transaction, round-robin over the companies: the cost of the SCIM write itself
is measured by `make bench`, not here). Delay = arrival at the receiver - the event's commit
timestamp. Prints and writes bench/results/webhooks-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _receiver(arrivals: dict[str, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.setdefault(self.headers["webhook-id"], time.time())
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200, help="events per second (200)")
    parser.add_argument("--seconds", type=float, default=30, help="how long to write (30)")
    parser.add_argument("--companies", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="the worker's threads")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.companies < 1:
        parser.error("--rate and --seconds must be positive, --companies at least 1")

    sys.path.insert(0, str(ROOT))
    from devstack.services import resolve

    services = resolve(data_dir=ROOT / ".data", database="headcount_bench", redis_index=2)
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
        "WEBHOOK_ALLOW_HTTP": "1",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from events.outbox import EventType, NewEvent, Origin, emit
    from tenants.models import Company
    from tenants.services import company_create
    from webhooks.models import WebhookEndpoint
    from webhooks.services import endpoint_add

    call_command("migrate_schemas", interactive=False, verbosity=0)
    companies = []
    for n in range(1, args.companies + 1):
        slug = f"bench-hooks-{n}"
        companies.append(
            Company.objects.filter(slug=slug).first()
            or company_create(slug=slug, name=slug, scim_enabled=True, actor="bench")
        )
    # One endpoint: earlier runs' endpoints would be delivered to as well.
    WebhookEndpoint.objects.all().delete()
    arrivals: dict[str, float] = {}
    receiver = _receiver(arrivals)
    endpoint_add(url=f"http://127.0.0.1:{receiver.server_port}/hooks", actor="bench")

    logs = ROOT / ".data" / "bench-webhooks"
    logs.mkdir(parents=True, exist_ok=True)
    common = [sys.executable, "-m", "celery", "-A", "config"]
    worker = subprocess.Popen(
        [
            *common,
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(args.concurrency),
            "--without-gossip",
            "--without-mingle",
            "--purge",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=(logs / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    beat = subprocess.Popen(
        [*common, "beat", "-l", "warning"],
        cwd=ROOT,
        env=env,
        stdout=(logs / "beat.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    written: dict[str, dt.datetime] = {}
    try:
        time.sleep(5)  # worker and beat up
        interval = 1 / args.rate
        total = int(args.rate * args.seconds)
        started = time.monotonic()
        for n in range(total):
            company = companies[n % len(companies)]
            with transaction.atomic():
                emit(
                    [
                        NewEvent(
                            type=EventType.USER_UPDATED, resource_type="User", user_name=f"u{n}"
                        )
                    ],
                    origin=Origin(request_id=f"bench-{n}"),
                    schema_name=company.schema_name,
                )
            time.sleep(max(0.0, started + (n + 1) * interval - time.monotonic()))
        wrote_s = time.monotonic() - started
        # Commit timestamps and ids of what was written (the outboxes name them).
        for company in companies:
            table = f"{connection.ops.quote_name(company.schema_name)}.events_changeevent"
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, occurred_at FROM {table} WHERE request_id LIKE 'bench-%%'"  # noqa: S608
                )
                written.update({str(pk): at for pk, at in cursor.fetchall()})
        deadline = time.monotonic() + 120
        while (
            len([i for i in written if i in arrivals]) < len(written)
            and time.monotonic() < deadline
        ):
            time.sleep(0.5)
    finally:
        for process in (beat, worker):
            process.terminate()
            process.wait(30)
        receiver.shutdown()
    for company in companies:  # the next run starts from empty outboxes
        with connection.cursor() as cursor:
            table = f"{connection.ops.quote_name(company.schema_name)}.events_changeevent"
            cursor.execute(f"DELETE FROM {table} WHERE request_id LIKE 'bench-%%'")  # noqa: S608

    delays = [arrivals[i] - at.timestamp() for i, at in written.items() if i in arrivals]
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rate_target": args.rate,
        "rate_written": round(len(written) / wrote_s, 1),
        "seconds": args.seconds,
        "companies": args.companies,
        "worker_threads": args.concurrency,
        "events": len(written),
        "delivered": len(delays),
        "delay_p50_s": round(statistics.median(delays), 3) if delays else None,
        "delay_p95_s": round(_percentile(delays, 0.95), 3) if delays else None,
        "delay_p99_s": round(_percentile(delays, 0.99), 3) if delays else None,
        "delay_max_s": round(max(delays), 3) if delays else None,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"webhooks-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(
        json.dumps(report, indent=2)
    )
    return 0 if report["delivered"] == report["events"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
