"""Smoke check of the reference server: each request shape Headcount's benchmark sends (bench/
load.py), once, against a running, seeded peer, plus the variations an IdP might send where
django-scim2 refuses the benchmark's shape. Stdlib only; a few dozen requests, no load.

    python bench/peer/smoke.py --base http://127.0.0.1:8100/scim/v2 [--token T] [--users N]

Prints one line per call (works / FAILS, status, time, body excerpt) and exits 1 when any of
the benchmark's own shapes fails. It writes, and puts things back: creates a user and deletes it,
flips user 7's active flag and sets it back, PUTs user 123 with its seeded values, adds user 5
to Group 0 and removes it (with the shape django-scim2 accepts).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Peer:
    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.prefix = parts.path
        self.connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80
        )
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
        }
        self.failures: list[str] = []

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, float]:
        data = None if body is None else json.dumps(body)
        started = time.perf_counter()
        # One connection per call: gunicorn's sync workers close after every response anyway.
        self.connection.close()
        self.connection.request(
            method, self.prefix + path, body=data, headers=headers or self.headers
        )
        response = self.connection.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, parsed, elapsed

    def check(
        self,
        name: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int = 200,
        verify: Any = None,
        benchmark_shape: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One call; `verify(body)` returns a problem string or None."""
        status, parsed, elapsed = self.call(method, path, body, headers)
        problem = None
        if status != expect:
            problem = f"expected {expect}"
        elif verify is not None:
            problem = verify(parsed)
        excerpt = json.dumps(parsed)[:160] if parsed is not None else ""
        verdict = "works" if problem is None else f"FAILS ({problem})"
        print(f"{verdict:<10} {status} {elapsed * 1000:7.1f} ms  {name}\n           {excerpt}")
        if problem and benchmark_shape:
            self.failures.append(name)
        return parsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8100/scim/v2")
    parser.add_argument("--token", default=os.environ.get("PEER_TOKEN", "peer-bench-token"))
    parser.add_argument("--users", type=int, default=1000, help="how many users were seeded")
    args = parser.parse_args(argv)
    peer, rng = Peer(args.base, args.token), random.Random(7)

    peer.check(
        "no token -> 401",
        "GET",
        "/Users?count=1",
        headers={"Accept": "application/scim+json"},
        expect=401,
    )

    # (e) and the load's user sampling: pages of 100 at random depths.
    def page_ok(body: Any) -> str | None:
        resources = body.get("Resources") or []
        if len(resources) != 100 or body.get("totalResults") != args.users:
            return f"{len(resources)} resources, totalResults {body.get('totalResults')}"
        if not all("id" in r and "userName" in r for r in resources):
            return "a resource without id or userName"
        return None

    for _ in range(2):
        start = rng.randint(1, max(1, args.users - 100))
        sample = peer.check(
            f"GET /Users?startIndex={start}&count=100&attributes=userName",
            "GET",
            f"/Users?startIndex={start}&count=100&attributes=userName",
            verify=page_ok,
        )
    keys = sorted(sample["Resources"][0]) if sample else []
    print(f"           (attributes=userName: a resource has the keys {keys})")
    start = rng.randint(1, max(1, args.users - 100))
    peer.check(
        f"GET /Users?startIndex={start}&count=100",
        "GET",
        f"/Users?startIndex={start}&count=100",
        verify=page_ok,
    )
    last = peer.check(
        "GET the last page (import sweep's end condition)",
        "GET",
        f"/Users?startIndex={max(1, args.users - 49)}&count=100",
        verify=lambda b: None if b["itemsPerPage"] == min(50, args.users) else "short page",
    )
    if last:
        print(
            f"           startIndex {last['startIndex']} itemsPerPage {last['itemsPerPage']} "
            f"totalResults {last['totalResults']}"
        )

    # (a) filter userName eq.
    def seeded_user(i: int) -> Any:
        def verify(body: Any) -> str | None:
            user = body["Resources"][0] if "Resources" in body else body
            if "Resources" in body and body.get("totalResults") != 1:
                return f"totalResults {body.get('totalResults')}"
            wanted = {
                "userName": f"user{i}@example.com",
                "name.givenName": "User",
                "name.familyName": str(i),
                "primary email": f"user{i}@example.com",
                "active": True,
            }
            got = {
                "userName": user.get("userName"),
                "name.givenName": user.get("name", {}).get("givenName"),
                "name.familyName": user.get("name", {}).get("familyName"),
                "primary email": next(
                    (e["value"] for e in user.get("emails", []) if e.get("primary")), None
                ),
                "active": user.get("active"),
            }
            return None if wanted == got else f"{got} != {wanted}"

        return verify

    found = peer.check(
        'GET /Users?filter=userName eq "user7@example.com"',
        "GET",
        "/Users?filter=" + quote('userName eq "user7@example.com"'),
        verify=seeded_user(7),
    )
    peer.check(
        'GET /Users?filter=userName eq "USER7@example.com" (case-insensitive, RFC 7643)',
        "GET",
        "/Users?filter=" + quote('userName eq "USER7@example.com"'),
        verify=lambda b: None if b.get("totalResults") == 1 else "no match",
        benchmark_shape=False,
    )
    user_id = found["Resources"][0]["id"] if found and found.get("Resources") else "7"

    # (b) GET by id.
    peer.check(f"GET /Users/{user_id}", "GET", f"/Users/{user_id}", verify=seeded_user(7))

    # (c) POST with Okta's body.
    name = f"bench-{uuid.uuid4().hex}@example.com"
    okta = {
        "schemas": [USER],
        "userName": name,
        "name": {"givenName": "Bench", "familyName": "User"},
        "emails": [{"primary": True, "value": "bench@example.com", "type": "work"}],
        "password": "x",
        "active": True,
    }
    created = peer.check(
        "POST /Users (Okta's body)",
        "POST",
        "/Users",
        okta,
        expect=201,
        verify=lambda b: None if b.get("userName") == name and b.get("id") else "not echoed",
    )
    peer.check(
        "POST /Users again with the same userName (conflict)",
        "POST",
        "/Users",
        okta,
        expect=409,
        benchmark_shape=False,
    )
    if created:
        print(f"           new user's id: {created['id']!r}")

    # (d) PATCH active, without a path (Okta's deactivate) and with one (Entra's shape).
    def active_is(value: bool) -> Any:
        return lambda b: None if b.get("active") is value else f"active is {b.get('active')}"

    for value in (False, True):
        peer.check(
            f"PATCH /Users/{user_id} replace value {{active: {str(value).lower()}}}",
            "PATCH",
            f"/Users/{user_id}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": value}}]},
            verify=active_is(value),
        )
    for value in (False, True):
        peer.check(
            f"PATCH /Users/{user_id} replace path active value {str(value).lower()}",
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": value}],
            },
            verify=active_is(value),
            benchmark_shape=False,
        )
    peer.check(
        f"GET /Users/{user_id} after the PATCHes", "GET", f"/Users/{user_id}", verify=seeded_user(7)
    )

    # (f) PUT with the seeded values (familyName as seeded, so the data stays as seeded).
    target = peer.check(
        'GET /Users?filter=userName eq "user123@example.com"',
        "GET",
        "/Users?filter=" + quote('userName eq "user123@example.com"'),
        verify=seeded_user(123),
        benchmark_shape=False,
    )
    put_id = target["Resources"][0]["id"] if target and target.get("Resources") else "123"
    put_name = "user123@example.com"
    peer.check(
        f"PUT /Users/{put_id}",
        "PUT",
        f"/Users/{put_id}",
        {
            "schemas": [USER],
            "userName": put_name,
            "name": {"givenName": "User", "familyName": "123"},
            "emails": [{"value": put_name, "type": "work", "primary": True}],
            "active": True,
        },
        verify=seeded_user(123),
    )

    # (g) Group lookup and membership PATCH.
    groups = peer.check(
        'GET /Groups?filter=displayName eq "Group 0"',
        "GET",
        "/Groups?filter=" + quote('displayName eq "Group 0"'),
        verify=lambda b: (
            None if b.get("totalResults") == 1 else f"totalResults {b.get('totalResults')}"
        ),
    )
    group_id = groups["Resources"][0]["id"] if groups and groups.get("Resources") else "1"
    if groups and groups.get("Resources"):
        print(f"           Group 0 has {len(groups['Resources'][0]['members'])} members listed")
    member = peer.check(
        'GET /Users?filter=userName eq "user5@example.com"',
        "GET",
        "/Users?filter=" + quote('userName eq "user5@example.com"'),
        benchmark_shape=False,
    )
    member_id = member["Resources"][0]["id"] if member and member.get("Resources") else "5"

    def in_group(expected: bool) -> Any:
        def verify(body: Any) -> str | None:
            present = any(m.get("value") == member_id for m in body.get("members", []))
            return None if present is expected else f"member present: {present}"

        return verify

    peer.check(
        f"PATCH /Groups/{group_id} add members [{{value: {member_id}}}]",
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": member_id}]}],
        },
        verify=in_group(True),
    )
    peer.check(
        f'PATCH /Groups/{group_id} remove path members[value eq "{member_id}"]',
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{member_id}"]'}],
        },
        verify=in_group(False),
    )
    # Okta's and Entra ID's own remove: path "members" with the members as the value.
    peer.check(
        f"PATCH /Groups/{group_id} remove path members value [{{value: {member_id}}}]",
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": "members", "value": [{"value": member_id}]}],
        },
        verify=in_group(False),
        benchmark_shape=False,
    )
    peer.check(
        f"GET /Users/{member_id} after the group PATCHes (seeded membership: none in Group 0)",
        "GET",
        f"/Users/{member_id}",
        verify=lambda b: (
            None
            if all(g["value"] != group_id for g in b.get("groups", []))
            else f"groups {b.get('groups')}"
        ),
        benchmark_shape=False,
    )

    # Leave the seeded data as seeded (N users): the benchmark's totals and pages count on it.
    if created:
        peer.check(
            f"DELETE /Users/{created['id']} (the user POSTed above)",
            "DELETE",
            f"/Users/{created['id']}",
            expect=204,
            benchmark_shape=False,
        )

    print(f"\n{len(peer.failures)} of the benchmark's shapes failed: {peer.failures}")
    return 1 if peer.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
