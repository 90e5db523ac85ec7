"""Identity-provider clients for the soak run: threads that call a company's SCIM API the way
Okta and Microsoft Entra ID do (../shared/references/idp-flows.md, tests/scim/test_idp_flows.py)
and remember, per user and group, what the server acknowledged.

Each client owns its users and groups (no other client writes them), so "the last
acknowledged state" is well defined. Like the real IdPs, a client retries a write that got
no answer, a 503 or a 429, honouring Retry-After, until the retry deadline; a create is
retried the IdP's way, by matching first (a create whose answer was lost may have committed).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bench.soak.verdict import ABSENT, Call, Expected, State

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
RETRY = frozenset({0, 429, 502, 503, 504})
TITLES = ("Engineer", "Manager", "Analyst", "Designer", "Director", "")


@dataclass
class Reply:
    status: int
    body: Any
    retry_after: float


@dataclass
class Clock:
    """Shared time base: seconds since the traffic started, and when to stop."""

    started: float
    stop_at: float  # no new operation after this
    retry_until: float  # no retry after this

    def now(self) -> float:
        return time.monotonic() - self.started


def user_state(active: bool, title: str) -> State:
    return ("present", active, title)


def group_state(name: str, members: frozenset[str]) -> State:
    return ("present", name, members)


@dataclass
class Tracked:
    expected: Expected
    user_name: str
    external_id: str = ""
    active: bool = True  # the state the client believes (last acknowledged)
    title: str = ""
    members: set[str] = field(default_factory=set)


class IdPClient(threading.Thread):
    """One identity provider connection to one company: `dialect` is "okta" or "entra"."""

    def __init__(
        self,
        *,
        number: int,
        dialect: str,
        base_url: str,
        company: str,
        token: str,
        clock: Clock,
        pause: float,
        max_users: int,
        seed: int,
    ):
        super().__init__(name=f"{dialect}-{number}", daemon=True)
        self.number, self.dialect, self.company, self.token = number, dialect, company, token
        self.prefix = f"/t/{company}/scim/v2"
        host_port = base_url.removeprefix("http://")
        self.host, self.port = host_port.split(":")[0], int(host_port.split(":")[1])
        self.clock, self.pause, self.max_users = clock, pause, max_users
        self.rng = random.Random(seed)
        self.calls: list[Call] = []
        self.users: dict[str, Tracked] = {}
        self.groups: dict[str, Tracked] = {}
        self.gone: list[Expected] = []  # deleted, still checked (absent)
        self.unresolved_names: set[str] = set()
        self.stale_reads: list[str] = []
        self.retries = 0
        self.attempts = 0  # of the last write
        self.error: BaseException | None = None
        self.serial = 0
        self.user_agent = (
            "Okta SCIM Client 1.0.0" if dialect == "okta" else "Microsoft.Identity.Provisioning"
        )

    # --- HTTP -----------------------------------------------------------------------------

    def call(self, method: str, path: str, label: str, body: Any = None) -> Reply:
        """One request on a fresh connection (gunicorn's sync workers close each one)."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/scim+json",
            "User-Agent": self.user_agent,
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json; charset=utf-8"
        started = self.clock.now()
        status, parsed, retry_after = 0, None, 1.0
        connection = http.client.HTTPConnection(self.host, self.port, timeout=40)
        try:
            connection.request(method, self.prefix + path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
            retry_after = float(response.getheader("Retry-After") or 1)
            if raw and "json" in (response.getheader("Content-Type") or ""):
                parsed = json.loads(raw)
        except (OSError, http.client.HTTPException):
            pass  # status 0: no answer
        finally:
            connection.close()
        self.calls.append(Call(started, self.clock.now(), method, label, status))
        return Reply(status, parsed, retry_after)

    def write(self, method: str, path: str, label: str, body: Any = None) -> Reply:
        """A write, retried as an IdP retries: after no answer, 429 or 503, until the retry
        deadline. The reply is the last one."""
        self.attempts = 0
        while True:
            reply = self.call(method, path, label, body)
            self.attempts += 1
            if reply.status not in RETRY or time.monotonic() > self.clock.retry_until:
                return reply
            self.retries += 1
            time.sleep(min(max(reply.retry_after, 0.2), 2.0))

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        operations = self.okta_operations() if self.dialect == "okta" else self.entra_operations()
        names = [name for name, _, _ in operations]
        weights = [weight for _, weight, _ in operations]
        actions = {name: action for name, _, action in operations}
        try:
            while time.monotonic() < self.clock.stop_at:
                actions[self.rng.choices(names, weights)[0]]()
                time.sleep(self.pause)
        except BaseException as error:  # reported, not swallowed: the run fails on it
            self.error = error

    def okta_operations(self) -> list[tuple[str, int, Callable[[], None]]]:
        return [
            ("create", 4, self.okta_create),
            ("get", 4, self.get_user),
            ("put_profile", 3, self.okta_put_profile),
            ("deactivate_reactivate", 3, self.okta_toggle_active),
            ("group_push", 3, self.okta_group_push),
            ("import_page", 1, self.import_page),
            ("test_credentials", 1, self.test_credentials),
        ]

    def entra_operations(self) -> list[tuple[str, int, Callable[[], None]]]:
        return [
            ("create", 4, self.entra_create),
            ("match_external_id", 4, self.entra_match),
            ("patch_attributes", 3, self.entra_patch_attributes),
            ("disable_restore", 3, self.entra_toggle_active),
            ("delete", 1, self.entra_delete),
            ("group", 3, self.entra_group),
        ]

    def pick_user(self) -> Tracked | None:
        candidates = [user for user in self.users.values() if not user.expected.doubtful]
        return self.rng.choice(candidates) if candidates else None

    def fresh_name(self, kind: str) -> str:
        self.serial += 1
        return f"{self.dialect}{self.number}-{kind}{self.serial}-{uuid.uuid4().hex[:6]}"

    def track_user(self, body: dict[str, Any], user_name: str, external_id: str) -> None:
        user = Tracked(
            Expected(self.company, "User", body["id"], user_name, []),
            user_name,
            external_id,
            bool(body.get("active", True)),
            body.get("title") or "",
        )
        user.expected.acknowledge(user_state(user.active, user.title))
        self.users[body["id"]] = user

    def settle(self, item: Tracked, reply: Reply, wanted: State) -> bool:
        """Record what a write's reply says about `item`; True when it was acknowledged."""
        if 200 <= reply.status < 300:
            item.expected.acknowledge(wanted)
            return True
        if reply.status in RETRY or reply.status >= 500:
            item.expected.in_doubt(wanted)  # it may have committed before the answer was lost
        return False

    def check_read(self, user: Tracked, body: dict[str, Any], label: str) -> None:
        """A read of a user no write is in doubt about must show its last acknowledged state."""
        seen = user_state(bool(body.get("active")), body.get("title") or "")
        if not user.expected.doubtful and seen != user.expected.candidates[0]:
            self.stale_reads.append(
                f"{label} {user.user_name}: {seen}, acknowledged {user.expected.candidates[0]}"
            )

    # --- Okta -----------------------------------------------------------------------------

    def okta_create(self) -> None:
        """O6: match by userName first; POST when nothing matches, else PUT the profile."""
        if len(self.users) >= self.max_users:
            return self.okta_put_profile()
        user_name = f"{self.fresh_name('user')}@okta.example"
        title = self.rng.choice(TITLES)
        body = {
            "schemas": [USER],
            "userName": user_name,
            "name": {"givenName": "Soak", "familyName": f"Okta {self.serial}"},
            "emails": [{"primary": True, "value": user_name, "type": "work"}],
            "displayName": f"Soak Okta {self.serial}",
            "locale": "en-US",
            "externalId": f"00u{uuid.uuid4().hex[:17]}",
            "title": title,
            "groups": [],
            "password": "1mz050nq",
            "active": True,
        }
        self.create_matching("userName", user_name, body, label="okta POST /Users")

    def create_matching(self, attribute: str, value: str, body: dict[str, Any], label: str) -> None:
        """Match, create when nothing matches; repeat while the outcome is unknown."""
        self.unresolved_names.add(body["userName"])
        while time.monotonic() <= self.clock.retry_until:
            spaces = "+" if self.rng.random() < 0.5 else "%20"
            found = self.call(
                "GET",
                f"/Users?filter={attribute}{spaces}eq{spaces}{quote(json.dumps(value))}"
                "&startIndex=1&count=100",
                f"{self.dialect} match {attribute}",
            )
            if found.status in RETRY:
                time.sleep(min(found.retry_after, 2.0))
                continue
            if found.status != 200:
                return
            if found.body["totalResults"]:
                # A create whose answer was lost had committed: take it over, as IdPs do.
                existing = found.body["Resources"][0]
                self.track_user(existing, body["userName"], body.get("externalId", ""))
                self.unresolved_names.discard(body["userName"])
                return
            created = self.call("POST", "/Users", label, body)
            if created.status == 201:
                self.track_user(created.body, body["userName"], body.get("externalId", ""))
                self.unresolved_names.discard(body["userName"])
                return
            if created.status not in RETRY and created.status < 500:
                self.unresolved_names.discard(body["userName"])  # refused: nothing was made
                return
            self.retries += 1
            time.sleep(min(max(created.retry_after, 0.2), 2.0))

    def get_user(self) -> None:
        user = self.pick_user()
        if user is None:
            return
        reply = self.call("GET", f"/Users/{user.expected.id}", f"{self.dialect} GET /Users/id")
        if reply.status == 200:
            self.check_read(user, reply.body, "GET")

    def okta_put_profile(self) -> None:
        """O10: GET the user, PUT the whole object back with the changed field."""
        user = self.pick_user()
        if user is None:
            return
        current = self.call("GET", f"/Users/{user.expected.id}", "okta GET before PUT")
        if current.status != 200:
            return
        self.check_read(user, current.body, "GET before PUT")
        title = self.rng.choice(TITLES)
        body = {**current.body, "title": title, "password": "1mz050nq"}
        if not title:
            body.pop("title", None)
        reply = self.write("PUT", f"/Users/{user.expected.id}", "okta PUT /Users/id", body)
        if self.settle(user, reply, user_state(user.active, title)):
            user.title = title

    def okta_toggle_active(self) -> None:
        """O11/O12: OIN apps' pathless replace of active."""
        user = self.pick_user()
        if user is None:
            return
        wanted = not user.active
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"active": wanted}}],
        }
        reply = self.write("PATCH", f"/Users/{user.expected.id}", "okta PATCH active", body)
        if self.settle(user, reply, user_state(wanted, user.title)):
            user.active = wanted

    def okta_group_push(self) -> None:
        """O14: create a group, then push memberships (remove by filter, add) with the rename
        Okta sends with every membership update; now and then a full push or an unlink."""
        live = [group for group in self.groups.values() if not group.expected.doubtful]
        if len(live) < 2:
            name = f"Okta {self.fresh_name('group')}"
            body: dict[str, Any] = {"schemas": [GROUP], "displayName": name, "members": []}
            return self.create_group(body, "okta POST /Groups")
        group = self.rng.choice(live)
        path = f"/Groups/{group.expected.id}"
        choice = self.rng.random()
        if choice < 0.05:
            return self.delete_group(group, "okta DELETE /Groups/id")
        members = set(group.members)
        operations: list[dict[str, Any]] = []
        users = [u for u in self.users.values() if not u.expected.doubtful]
        if choice < 0.15:
            chosen = {u.expected.id for u in self.rng.sample(users, min(len(users), 3))}
            operations.append(
                {"op": "replace", "path": "members", "value": [{"value": i} for i in chosen]}
            )
            members = chosen
        else:
            if members:
                gone = self.rng.choice(sorted(members))
                operations.append({"op": "remove", "path": f'members[value eq "{gone}"]'})
                members.discard(gone)
            if users:
                added = self.rng.choice(users)
                operations.append(
                    {
                        "op": "add",
                        "path": "members",
                        "value": [{"value": added.expected.id, "display": added.user_name}],
                    }
                )
                members.add(added.expected.id)
        operations.append(
            {"op": "replace", "value": {"id": group.expected.id, "displayName": group.user_name}}
        )
        body = {"schemas": [PATCH_OP], "Operations": operations}
        reply = self.write("PATCH", path, "okta PATCH /Groups/id", body)
        if self.settle(group, reply, group_state(group.user_name, frozenset(members))):
            group.members = members

    def import_page(self) -> None:
        """O13: a page of the import."""
        self.call("GET", "/Users?startIndex=1&count=100", f"{self.dialect} import page")

    def test_credentials(self) -> None:
        """O1: what "Test API Credentials" sends."""
        self.call("GET", "/Users?startIndex=1&count=2", "okta test credentials")
        self.call("GET", "/Groups?startIndex=1&count=100", "okta test credentials")

    # --- Entra ----------------------------------------------------------------------------

    def entra_create(self) -> None:
        """E3/E4: match by externalId, then POST the Entra body."""
        if len(self.users) >= self.max_users:
            return self.entra_delete()
        external_id = str(uuid.uuid4())
        user_name = f"{self.fresh_name('user')}@entra.example"
        body = {
            "schemas": [USER, ENTERPRISE],
            "externalId": external_id,
            "userName": user_name,
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": user_name}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Soak Entra", "familyName": "Entra", "givenName": "Soak"},
            "roles": [],
            ENTERPRISE: {"department": "Soak"},
        }
        self.create_matching("externalId", external_id, body, label="entra POST /Users")

    def entra_match(self) -> None:
        """E3: the matching query, by externalId."""
        user = self.pick_user()
        if user is None:
            return
        reply = self.call(
            "GET",
            "/Users?filter=" + quote(f'externalId eq "{user.external_id}"'),
            "entra match externalId",
        )
        if reply.status == 200:
            found = reply.body["Resources"]
            if len(found) != 1 and not user.expected.doubtful:
                self.stale_reads.append(f"filter externalId {user.user_name}: {len(found)} found")
            elif found:
                self.check_read(user, found[0], "filter externalId")

    def entra_patch_attributes(self) -> None:
        """E6: capitalised ops with paths."""
        user = self.pick_user()
        if user is None:
            return
        title = self.rng.choice([t for t in TITLES if t])
        body = {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "title", "value": title},
                {"op": "Replace", "path": "name.familyName", "value": f"Entra {self.serial}"},
            ],
        }
        reply = self.write("PATCH", f"/Users/{user.expected.id}", "entra PATCH attributes", body)
        if self.settle(user, reply, user_state(user.active, title)):
            user.title = title

    def entra_toggle_active(self) -> None:
        """E8: the string "False" / "True"."""
        user = self.pick_user()
        if user is None:
            return
        wanted = not user.active
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "active", "value": str(wanted)}],
        }
        reply = self.write("PATCH", f"/Users/{user.expected.id}", "entra PATCH active", body)
        if self.settle(user, reply, user_state(wanted, user.title)):
            user.active = wanted

    def entra_delete(self) -> None:
        """E9: hard delete. A 404 on a retry means an earlier attempt did it."""
        user = self.pick_user()
        if user is None:
            return
        path = f"/Users/{user.expected.id}"
        reply = self.write("DELETE", path, "entra DELETE /Users/id")
        if reply.status == 404 and self.attempts > 1:
            reply = Reply(204, None, 0)  # an earlier attempt, whose answer was lost, did it
        if self.settle(user, reply, ABSENT):
            del self.users[user.expected.id]
            self.gone.append(user.expected)
            for group in self.groups.values():
                if user.expected.id in group.members:
                    group.members.discard(user.expected.id)
                    group.expected.candidates = [
                        state
                        if state == ABSENT
                        else (state[0], state[1], state[2] - {user.expected.id})
                        for state in group.expected.candidates
                    ]

    def entra_group(self) -> None:
        """E10-E13: create, add several members, remove by value array, rename, read without
        members, now and then delete."""
        live = [group for group in self.groups.values() if not group.expected.doubtful]
        if len(live) < 2:
            name = f"Entra {self.fresh_name('group')}"
            body: dict[str, Any] = {
                "schemas": [GROUP, ADSCIM_GROUP],
                "externalId": str(uuid.uuid4()),
                "displayName": name,
                "meta": {"resourceType": "Group"},
            }
            return self.create_group(body, "entra POST /Groups")
        group = self.rng.choice(live)
        path = f"/Groups/{group.expected.id}"
        choice = self.rng.random()
        users = [u for u in self.users.values() if not u.expected.doubtful]
        if choice < 0.05:
            return self.delete_group(group, "entra DELETE /Groups/id")
        if choice < 0.25:
            self.call(
                "GET",
                "/Groups?excludedAttributes=members&filter="
                + quote(f'displayName eq "{group.user_name}"'),
                "entra GET /Groups filter",
            )
            return
        members = set(group.members)
        name = group.user_name
        operations: list[dict[str, Any]]
        if choice < 0.35:
            name = f"Entra {self.fresh_name('group')}"
            operations = [{"op": "Replace", "path": "displayName", "value": name}]
        elif choice < 0.7 or not members:
            added = {u.expected.id for u in self.rng.sample(users, min(len(users), 2))}
            operations = [
                {
                    "op": "Add",
                    "path": "members",
                    "value": [{"$ref": None, "value": i} for i in sorted(added)],
                }
            ]
            members |= added
        else:
            gone = self.rng.choice(sorted(members))
            operations = [
                {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": gone}]}
            ]
            members.discard(gone)
        body = {"schemas": [PATCH_OP], "Operations": operations}
        reply = self.write("PATCH", path, "entra PATCH /Groups/id", body)
        if self.settle(group, reply, group_state(name, frozenset(members))):
            group.members, group.user_name = members, name

    # --- groups, either dialect -----------------------------------------------------------

    def create_group(self, body: dict[str, Any], label: str) -> None:
        name = body["displayName"]
        self.unresolved_names.add(name)
        reply = self.write("POST", "/Groups", label, body)
        if reply.status == 201:
            group = Tracked(Expected(self.company, "Group", reply.body["id"], name, []), name)
            group.expected.acknowledge(group_state(name, frozenset()))
            self.groups[reply.body["id"]] = group
            self.unresolved_names.discard(name)
        elif reply.status == 409:
            # A retried create whose first attempt had committed: an IdP would match by name.
            found = self.call(
                "GET", "/Groups?filter=" + quote(f'displayName eq "{name}"'), f"{label} match"
            )
            if found.status == 200 and found.body["Resources"]:
                group_id = found.body["Resources"][0]["id"]
                group = Tracked(Expected(self.company, "Group", group_id, name, []), name)
                group.expected.acknowledge(group_state(name, frozenset()))
                self.groups[group_id] = group
                self.unresolved_names.discard(name)
        elif reply.status < 500 and reply.status not in RETRY:
            self.unresolved_names.discard(name)

    def delete_group(self, group: Tracked, label: str) -> None:
        reply = self.write("DELETE", f"/Groups/{group.expected.id}", label)
        if reply.status == 404 and self.attempts > 1:
            reply = Reply(204, None, 0)  # an earlier attempt, whose answer was lost, did it
        if self.settle(group, reply, ABSENT):
            del self.groups[group.expected.id]
            self.gone.append(group.expected)

    # --- results --------------------------------------------------------------------------

    def expectations(self) -> list[Expected]:
        return [
            *(user.expected for user in self.users.values()),
            *(group.expected for group in self.groups.values()),
            *self.gone,
        ]
