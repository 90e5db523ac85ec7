"""SCIM load generator: fixed duration, fixed concurrency, one keep-alive connection per
client thread. Reports req/s, p50/p95/p99 and errors per workload, and each workload as a
share of the ceiling measured on the same server in the same run.

The client is Python (forked processes + http.client) on the same 2 cores as the server, so
absolute figures are a lower bound; the shares of the ceiling are what compare across runs.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
Request = tuple[str, str, Any]  # method, path, body


@dataclass
class Result:
    name: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

        return {
            "workload": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "req_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
        }


class Client:
    """One keep-alive connection. `headers` replaces the SCIM ones (the portal benchmark
    sends a session cookie instead of a token); bodies are parsed only when they are JSON."""

    def __init__(self, base: str, token: str, headers: dict[str, str] | None = None):
        parts = urlsplit(base)
        self.host, self.port, self.prefix = (
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            parts.path,
        )
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
            "User-Agent": "Headcount bench",
        }
        if headers is not None:
            self.headers = headers
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        for attempt in range(2):
            try:
                self.connection.request(method, self.prefix + path, body=data, headers=self.headers)
                response = self.connection.getresponse()
                raw = response.read()
                is_json = "json" in (response.getheader("Content-Type") or "")
                return response.status, (json.loads(raw) if raw and is_json else None)
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def run(
    name: str,
    base: str,
    token: str,
    make: Callable[[random.Random], Request],
    duration: float,
    concurrency: int,
    ok: tuple[int, ...] = (200, 201, 204),
    headers: dict[str, str] | None = None,
) -> Result:
    """`concurrency` client processes (forked: no GIL shared between clients), each with one
    keep-alive connection, for `duration` seconds."""
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue()
    deadline = time.time() + duration

    def client_loop(seed: int) -> None:
        rng, client, mine = random.Random(seed), Client(base, token, headers), Result(name)
        while time.time() < deadline:
            method, path, body = make(rng)
            started = time.perf_counter()
            status, _ = client.call(method, path, body)
            mine.latencies.append(time.perf_counter() - started)
            mine.requests += 1
            mine.errors += status not in ok
        queue.put((mine.requests, mine.errors, mine.latencies))

    started = time.monotonic()
    processes = [context.Process(target=client_loop, args=(seed,)) for seed in range(concurrency)]
    for process in processes:
        process.start()
    result = Result(name)
    for _ in processes:
        requests, errors, latencies = queue.get()
        result.requests += requests
        result.errors += errors
        result.latencies += latencies
    for process in processes:
        process.join()
    result.seconds = time.monotonic() - started
    return result


def sample_users(base: str, token: str, total: int, wanted: int = 2000) -> list[dict[str, Any]]:
    """Users spread over the whole company (pages at random depths)."""
    client = Client(base, token)
    users: list[dict[str, Any]] = []
    rng = random.Random(7)
    while len(users) < wanted:
        start = rng.randint(1, max(1, total - 100))
        _, body = client.call("GET", f"/Users?startIndex={start}&count=100&attributes=userName")
        users += body["Resources"]
    return users[:wanted]


def import_sweep(base: str, token: str) -> dict[str, Any]:
    """Okta's import: every page of 100 by startIndex, in order, one client, timed end to
    end."""
    start = 1

    def next_page(body: dict[str, Any] | None) -> str | None:
        nonlocal start
        if body is not None:
            if not body["Resources"] or start + body["itemsPerPage"] > body["totalResults"]:
                return None
            start += body["itemsPerPage"]
        return f"/Users?startIndex={start}&count=100"

    return _sweep("import_sweep", Client(base, token), next_page)


def cursor_sweep(base: str, token: str) -> dict[str, Any]:
    """The same import by cursor (RFC 9865): every page of 100 after the previous page's
    nextCursor, one client, timed end to end."""

    def next_page(body: dict[str, Any] | None) -> str | None:
        if body is None:
            return "/Users?count=100&cursor="
        cursor = body.get("nextCursor")
        return None if cursor is None else f"/Users?count=100&cursor={cursor}"

    return _sweep("cursor_sweep", Client(base, token), next_page)


def _sweep(
    name: str, client: Client, next_page: Callable[[dict[str, Any] | None], str | None]
) -> dict[str, Any]:
    """Read pages while `next_page` (given the previous page's body) names one; the timings
    of the first, the last and the median page."""
    timings: list[float] = []
    began = time.perf_counter()
    body: dict[str, Any] | None = None
    while (path := next_page(body)) is not None:
        t0 = time.perf_counter()
        _, body = client.call("GET", path)
        timings.append(time.perf_counter() - t0)
    return {
        "workload": name,
        "pages": len(timings),
        "seconds": round(time.perf_counter() - began, 2),
        "first_page_ms": round(timings[0] * 1000, 2),
        "median_page_ms": round(median_of(timings) * 1000, 2),
        "last_page_ms": round(timings[-1] * 1000, 2),
    }


def bulk_creates(rng: random.Random, size: int = 100) -> Request:
    """One POST /Bulk creating `size` new users (unique names, so none is refused)."""
    operations = []
    for n in range(size):
        name = f"bulk-{uuid.UUID(int=rng.getrandbits(128)).hex}@example.com"
        operations.append(
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"u{n}",
                "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "name": {"givenName": "Bulk", "familyName": "User"},
                    "emails": [{"primary": True, "value": name, "type": "work"}],
                    "active": True,
                },
            }
        )
    return (
        "POST",
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": operations,
        },
    )


# The letters for the request workloads ((h), the import sweep, is --no-sweep's).
WORKLOAD_LETTERS = {
    "a": "filter_username",
    "b": "get_by_id",
    "c": "post",
    "d": "patch_active",
    "e": "page_random_depth",
    "f": "put",
    "g": "group_patch",
    "i": "bulk_post",
}
# Workloads django-scim2 (--peer) does not serve.
OURS_ONLY = frozenset({"bulk_post"})
# Requests per second to plan for wrk's pre-generated list (bench/wrk.py); a /Bulk request is
# 100 creates, so far fewer fit in a second and its list would otherwise be hundreds of MB.
PLANNED_PER_SECOND = {"bulk_post": 20}
CEILINGS = ("ceiling_empty", "authenticated_empty", "ceiling_lookup")
# The bare app's ceilings (bench/bare/): Django + DRF with nothing of Headcount, its own server.
BARE_CEILINGS = ("bare_empty", "bare_lookup")
WORKLOAD_NAMES = frozenset(WORKLOAD_LETTERS.values()) | frozenset(CEILINGS)


def bare_workloads(total: int) -> dict[str, Callable[[random.Random], Request]]:
    """The bare app's requests: an empty view, and the lookup Headcount's one-lookup ceiling
    makes (the same userNames, drawn the same way)."""
    return {
        "bare_empty": lambda rng: ("GET", "/empty", None),
        "bare_lookup": lambda rng: (
            "GET",
            f"/lookup?userName=user{rng.randint(1, total)}@example.com",
            None,
        ),
    }


def workloads(
    users: list[dict[str, Any]], total: int, group_id: str, *, group_remove: str = "filter"
) -> dict[str, Callable[[random.Random], Request]]:
    """Each workload's request generator. `group_remove` is how (g) removes a member:
    "filter" as Okta does (`path: members[value eq "…"]`), or "value" as Entra ID does
    (`path: members` with a value list; django-scim2 only takes this one)."""
    ids = [u["id"] for u in users]
    names = {u["id"]: u["userName"] for u in users}

    def put(rng: random.Random) -> Request:
        member_id = rng.choice(ids)
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": names[member_id],
            "name": {"givenName": "User", "familyName": str(rng.randint(1, 10**6))},
            "emails": [{"value": names[member_id], "type": "work", "primary": True}],
            "active": True,
        }
        return "PUT", f"/Users/{member_id}", body

    def group_patch(rng: random.Random) -> Request:
        op = rng.choice(["add", "remove"])
        member = rng.choice(ids)
        if op == "add":
            return (
                "PATCH",
                f"/Groups/{group_id}",
                {
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}],
                },
            )
        removal: dict[str, Any] = (
            {"op": "remove", "path": f'members[value eq "{member}"]'}
            if group_remove == "filter"
            else {"op": "remove", "path": "members", "value": [{"value": member}]}
        )
        return ("PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": [removal]})

    return {
        "ceiling_empty": lambda rng: ("GET", "/_bench/empty", None),
        "authenticated_empty": lambda rng: ("GET", "/_bench/authenticated", None),
        "ceiling_lookup": lambda rng: (
            "GET",
            f"/_bench/lookup?userName=user{rng.randint(1, total)}@example.com",
            None,
        ),
        "filter_username": lambda rng: (
            "GET",
            "/Users?filter=" + quote(f'userName eq "user{rng.randint(1, total)}@example.com"'),
            None,
        ),
        "get_by_id": lambda rng: ("GET", f"/Users/{rng.choice(ids)}", None),
        "post": lambda rng: (
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"bench-{uuid.uuid4().hex}@example.com",
                "name": {"givenName": "Bench", "familyName": "User"},
                "emails": [{"primary": True, "value": "bench@example.com", "type": "work"}],
                "password": "x",
                "active": True,
            },
        ),
        "patch_active": lambda rng: (
            "PATCH",
            f"/Users/{rng.choice(ids)}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "value": {"active": rng.random() < 0.5}}],
            },
        ),
        "page_random_depth": lambda rng: (
            "GET",
            f"/Users?startIndex={rng.randint(1, max(1, total - 100))}&count=100",
            None,
        ),
        "put": put,
        "group_patch": group_patch,
        "bulk_post": bulk_creates,
    }


def summarize(
    results: list[dict[str, Any]], bare: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Each workload's share of the one-lookup ceiling (behind Headcount's routing) and, when
    the bare app ran (`bare`, its rows appended), of the bare one-lookup ceiling."""
    by_name = {r["workload"]: r for r in [*results, *(bare or [])]}
    lookup = by_name.get("ceiling_lookup", {}).get("req_per_s") or 0
    bare_lookup = by_name.get("bare_lookup", {}).get("req_per_s") or 0
    for row in results:
        if lookup and "req_per_s" in row and not row["workload"].startswith("ceiling"):
            # authenticated_empty too: its share is the most any authenticated workload gets.
            row["share_of_lookup_ceiling"] = f"{100 * row['req_per_s'] / lookup:.0f}%"
        if bare_lookup and "req_per_s" in row:
            row["share_of_bare_lookup"] = f"{100 * row['req_per_s'] / bare_lookup:.0f}%"
    return [*results, *(bare or [])]


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
