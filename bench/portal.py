"""The company portal's heavy pages under load: member search (infix, short, broad), sorted
and deep member pages, the provisioning log and the Activity charts, as a signed-in company
admin sees them, against gunicorn with DEBUG off.

    make bench ARGS="--portal"                      # SCIM workloads, then these, at 100k
    python -m bench.portal --users 100000,1000000   # these alone (companies seeded with
                                                    # `bench_seed --profiles`, or --seed)

The company must hold `bench_seed --profiles` data: titles and departments to search, and a
30-day ledger to page through and chart.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402

Request = tuple[str, str, Any]
PASSWORD = "Bench-portal-password-1"  # noqa: S105 - a throwaway login in the bench database
SORTS = ("name", "-name", "userName", "email", "-created", "status")


def portal_workloads(total: int) -> dict[str, Callable[[random.Random], Request]]:
    """Each page's request generator (paths under /t/<slug>/)."""

    def get(path: str, **query: object) -> Request:
        return "GET", path + ("?" + urlencode(query) if query else ""), None

    return {
        # Unfiltered, provisioning order, a random page of the first 200 (the cap).
        "members_page": lambda rng: get("members/", page=rng.randint(1, 200)),
        "members_sorted": lambda rng: get(
            "members/", sort=rng.choice(SORTS), page=rng.randint(1, 200)
        ),
        # A person by part of their email: "4821@example" (user4821@…, user14821@… …).
        "search_email": lambda rng: get("members/", q=f"{rng.randint(1, total)}@example"),
        # By name, as typed: "User 4821" (display names "User 4821", "User 48210" …).
        "search_name": lambda rng: get("members/", q=f"User {rng.randint(1, total)}"),
        # Broad: a department (1 in 50 members), sorted by name.
        "search_department": lambda rng: get(
            "members/", q=f"Department {rng.randint(0, 49)}", sort="name"
        ),
        # The same department as an exact filter (the picker beside the search box).
        "filter_department": lambda rng: get(
            "members/", department=f"Department {rng.randint(0, 49)}", sort="name"
        ),
        # A title (bench_seed gives 1 member in 700 each), in the default order.
        "filter_title": lambda rng: get("members/", title=f"Engineer {rng.randint(0, 99)}"),
        # Two characters: the prefix indexes, not the trigram index.
        "search_short": lambda rng: get("members/", q=rng.choice(["us", "zz", "Us", "u1"])),
        "log_page": lambda rng: get("log/", page=rng.randint(1, 200)),
        "log_failed": lambda rng: get("log/", outcome="failed", page=rng.randint(1, 20)),
        "activity": lambda rng: get("activity/"),
    }


PORTAL_WORKLOADS = tuple(portal_workloads(1))


def session_cookie(url: str, slug: str, email: str, password: str) -> str:
    """Sign in through the portal's form, as a browser does; returns the Cookie header."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    login = f"/t/{slug}/login/"
    connection.request("GET", login)
    response = connection.getresponse()
    page = response.read().decode()
    cookies = _cookies(response)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError(f"No sign-in form at {login} ({response.status})")
    body = urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": email, "password": password}
    )
    connection.request(
        "POST",
        login,
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
    )
    response = connection.getresponse()
    response.read()
    if response.status != 302:
        raise RuntimeError(f"Sign-in as {email} failed ({response.status})")
    cookies.update(_cookies(response))
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    # Secure cookies too (DEBUG off marks them so): this client talks plain http to gunicorn.
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def measure(
    manage: Callable[..., str],
    env: dict[str, str],
    url: str,
    slug: str,
    users: int,
    *,
    duration: float,
    concurrency: int,
    chosen: tuple[str, ...] = PORTAL_WORKLOADS,
) -> list[dict[str, Any]]:
    """Sign a fresh owner in to `slug` and drive each chosen portal workload; a line each."""
    email = f"bench-{time.time_ns()}@portal.test"
    manage(
        env,
        "portal_user_add",
        "--company",
        slug,
        "--email",
        email,
        "--role",
        "owner",
        "--password",
        PASSWORD,
    )
    headers = {
        "Cookie": session_cookie(url, slug, email, PASSWORD),
        "User-Agent": "Headcount bench (portal)",
    }
    plans = portal_workloads(users)
    results = []
    for name in chosen:
        result = load.run(
            name,
            f"{url}/t/{slug}/",
            "",
            plans[name],
            duration,
            concurrency,
            ok=(200,),
            headers=headers,
        ).summary()
        results.append(result)
        print(
            f"   {name:<20} {result['req_per_s']:>8} req/s  p50 {result['p50_ms']:>7} ms  "
            f"p95 {result['p95_ms']:>7} ms  p99 {result['p99_ms']:>7} ms  "
            f"errors {result['errors']}",
            flush=True,
        )
    return results


def in_process(slug: str, users: int, requests: int = 25) -> dict[str, dict[str, float]]:
    """Each workload through Django's test client in this process, one request at a time
    after a warm-up: what the server spends, without HTTP or a load generator. Needs
    django.setup() with the benchmark's settings (main() does it)."""
    import statistics

    from django.test import Client
    from django_tenants.utils import schema_context

    from accounts.models import User
    from tenants.models import Company

    company = Company.objects.get(slug=slug)
    email = f"bench-{time.time_ns()}@portal.test"
    with schema_context(company.schema_name):
        User.objects.create_user(email=email, password=PASSWORD, role=User.Role.OWNER)
    browser = Client()
    browser.post(f"/t/{slug}/login/", {"username": email, "password": PASSWORD})
    plans, rng, measured = portal_workloads(users), random.Random(1), {}
    for name in PORTAL_WORKLOADS:
        times = []
        for attempt in range(requests + 1):
            _, path, _ = plans[name](rng)
            started = time.perf_counter()
            status = browser.get(f"/t/{slug}/{path}").status_code
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            if attempt:
                times.append(1000 * (time.perf_counter() - started))
        times.sort()
        measured[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(0.95 * len(times)) - 1)], 1),
        }
        print(
            f"   {name:<20} in-process p50 {measured[name]['p50_ms']:>7} ms  "
            f"p95 {measured[name]['p95_ms']:>7} ms",
            flush=True,
        )
    return measured


def main(argv: list[str]) -> int:
    from bench import run  # the server and manage() helpers, shared with `make bench`
    from devstack.services import resolve

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", default="100000", help="comma-separated company sizes")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="headcount_bench")
    parser.add_argument("--redis-index", type=int, default=2)
    parser.add_argument("--seed", action="store_true", help="(re)seed bench-<N> first")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="also time each page through Django's test client, one request at a time",
    )
    parser.add_argument(
        "--workloads", default="", help=f"comma-separated subset of {', '.join(PORTAL_WORKLOADS)}"
    )
    args = parser.parse_args(argv)
    chosen = tuple(w for w in args.workloads.split(",") if w) or PORTAL_WORKLOADS
    unknown = set(chosen) - set(PORTAL_WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")

    services = resolve(
        data_dir=ROOT / ".data", database=args.database, redis_index=args.redis_index
    )
    env = run.bench_env(services)
    run.manage({**env, "DEBUG": "1"}, "migrate_schemas", "--noinput", "-v", "0")
    run.manage(env, "collectstatic", "--noinput", "-v", "0")  # DEBUG off: the manifest
    report: dict[str, Any] = {"concurrency": args.concurrency, "duration": args.duration}
    for users in (int(u) for u in args.users.split(",")):
        slug = f"bench-{users}"
        if args.seed:
            print(
                run.manage(
                    env,
                    "bench_seed",
                    "--company",
                    slug,
                    "--users",
                    str(users),
                    "--profiles",
                    "--reset",
                ),
                flush=True,
            )
        print(f"\n== portal, {users:,} users ({slug})", flush=True)
        server, url = run.start_server(env, args.workers)
        try:
            report[str(users)] = measure(
                run.manage,
                env,
                url,
                slug,
                users,
                duration=args.duration,
                concurrency=args.concurrency,
                chosen=chosen,
            )
        finally:
            server.terminate()
            server.wait(10)
        if args.in_process:
            import django

            os.environ.update({**env, "ALLOWED_HOSTS": "testserver"})
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
            django.setup()
            report[f"{users} in-process"] = in_process(slug, users)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"portal-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(report, indent=2))
    services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
