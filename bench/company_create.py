"""Benchmark: how long creating a company takes (target ≤ 0.5 s, flat in the migration count),
and, optionally, how long a no-op `migrate_schemas` takes over all companies.

    make bench-company                      # 20 companies
    make bench-company ARGS="--count 100 --migrate-noop"

Runs against its own database (`headcount_bench`) on the same PostgreSQL that `make run`
would use, and drops the companies it made unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20, help="companies to create (default 20)")
    parser.add_argument(
        "--migrate-noop", action="store_true", help="also time a no-op migrate_schemas"
    )
    parser.add_argument("--keep", action="store_true", help="keep the companies afterwards")
    parser.add_argument(
        "--pool",
        action="store_true",
        help="clone --count schemas into the pool first (timed apart), so each creation "
        "is a rename (tenants.schema_pool)",
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    sys.path.insert(0, str(ROOT))
    from devstack.services import resolve

    services = resolve(data_dir=ROOT / ".data", database="headcount_bench", redis_index=2)
    os.environ.update(DATABASE_URL=services.database_url, REDIS_URL=services.redis_url, DEBUG="1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from tenants.models import Company
    from tenants.services import company_create

    call_command("migrate_schemas", interactive=False, verbosity=0)
    migrations = len(MigrationLoader(connection, ignore_no_migrations=True).disk_migrations)

    from django.conf import settings

    # No refill queued after each creation: the pool is filled here, before timing, or not.
    settings.SCHEMA_POOL_SIZE = 0
    fill_s = None
    if args.pool:
        from tenants.schema_pool import pool_fill

        started = time.perf_counter()
        pool_fill(args.count)
        fill_s = round((time.perf_counter() - started) / args.count, 3)
        print(f"  pool filled: {fill_s} s per schema", flush=True)
    run = uuid.uuid4().hex[:6]
    timings: list[float] = []
    created: list[Company] = []
    present = Company.objects.customers().count()
    # Creation time as the database fills: the clone reads the catalogs, which grow with
    # every company (see docs/performance.md, "Company sweep").
    growth: list[dict[str, float]] = []
    for index in range(args.count):
        started = time.perf_counter()
        created.append(
            company_create(slug=f"bench-{run}-{index}", name=f"Bench {run} {index}", actor="bench")
        )
        timings.append(time.perf_counter() - started)
        if index % 10 == 9 or index == args.count - 1:
            recent = timings[-10:]
            growth.append(
                {"companies": present + index + 1, "median_s": round(statistics.median(recent), 3)}
            )
            print(f"  {present + index + 1:>6} companies: {growth[-1]['median_s']} s", flush=True)

    result: dict[str, object] = {
        "benchmark": "company_create",
        "companies_created": args.count,
        "migrations_on_disk": migrations,
        "median_s": round(statistics.median(timings), 3),
        "p95_s": round(sorted(timings)[max(0, int(len(timings) * 0.95) - 1)], 3),
        "max_s": round(max(timings), 3),
        "first_s": round(timings[0], 3),
        "companies_in_database": Company.objects.customers().count(),
        "median_s_as_companies_grow": growth,
        "pool": bool(args.pool),
        "pool_fill_s_per_schema": fill_s,
    }
    if args.migrate_noop:
        started = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0)
        result["migrate_noop_s"] = round(time.perf_counter() - started, 2)

    if not args.keep:
        for company in created:
            company.delete(force_drop=True)
    services.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
