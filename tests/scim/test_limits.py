"""Size and count limits of the SCIM API (docs/security.md, "Limits"): each one at its
boundary, on every way a value arrives (POST, PUT, PATCH with and without a path), for Users and
Groups; a refusal is a SCIM error that names the limit, and changes nothing but the ledger. An
optional text over its limit is cut to it with a warning instead (refused for a strict
company): a person is not refused over a long title."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from directory.models import Group, Member, ProvisioningEvent
from scim_protocol import group_input, listing, patch, user_input
from scim_protocol.errors import InvalidValue, PayloadTooLarge
from scim_protocol.user_input import UserPolicy, normalize_user
from tenants.models import Company
from tests.live import IdP, gunicorn_server, live_scim_company
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
STRING = user_input.MAX_STRING_LENGTH
NAME = user_input.MAX_INDEXED_LENGTH
VALUES = user_input.MAX_VALUES


def create(scim: Scim, **overrides: Any) -> dict[str, Any]:
    response = scim.post("/Users", okta_user(**overrides))
    assert response.status_code == 201, response.content
    return response.json()


def replace(op: str = "replace", **fields: Any) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": [{"op": op, **fields}]}


def failures() -> list[tuple[str, int, str]]:
    return list(
        ProvisioningEvent.objects.filter(outcome="failed")
        .order_by("id")
        .values_list("operation", "status", "scim_type")
    )


def emails(count: int) -> list[dict[str, Any]]:
    return [{"value": f"user{n}@example.com", "type": "work"} for n in range(count)]


# --- one string value ---------------------------------------------------------------------


OPTIONAL_TEXTS = [
    pytest.param({"title": "t" * STRING}, "title", STRING, id="title"),
    pytest.param({"displayName": "d" * NAME}, "displayName", NAME, id="displayName"),
    pytest.param(
        {"name": {"givenName": "Test", "familyName": "f" * NAME}},
        "name.familyName",
        NAME,
        id="name.familyName",
    ),
    pytest.param(
        {"addresses": [{"locality": "l" * STRING, "country": "DE"}]},
        "addresses.locality",
        STRING,
        id="addresses.locality",
    ),
    pytest.param({ENTERPRISE: {"department": "d" * STRING}}, "department", STRING, id="department"),
    pytest.param(
        {ENTERPRISE: {"manager": {"value": "boss", "displayName": "m" * STRING}}},
        "manager.displayName",
        STRING,
        id="manager.displayName",
    ),
]


@pytest.mark.parametrize(("overrides", "shown", "limit"), OPTIONAL_TEXTS)
def test_an_optional_text_over_its_limit_is_cut_to_it_with_a_warning(
    scim: Scim, overrides: dict[str, Any], shown: str, limit: int
) -> None:
    at_limit = scim.post("/Users", okta_user("at@example.com", **overrides))
    longer = orjson.loads(orjson.dumps(overrides))
    _lengthen(longer)
    over = scim.post("/Users", okta_user("over@example.com", externalId="over", **longer))

    assert at_limit.status_code == 201, at_limit.content
    assert over.status_code == 201, over.content
    different = {"id", "userName", "emails", "externalId", "meta"}
    assert {k: v for k, v in over.json().items() if k not in different} == {
        k: v for k, v in at_limit.json().items() if k not in different
    }  # the same user as at the limit: the extra character is all that went
    (warning,) = ProvisioningEvent.objects.get(resource_id=over.json()["id"]).warnings
    assert warning["attribute"].endswith(shown) and warning["cut_to"] == limit
    assert f"Only {limit:,} characters are kept" in warning["advice"]


@pytest.mark.parametrize(("overrides", "shown", "limit"), OPTIONAL_TEXTS[:2])
def test_a_strict_company_refuses_an_optional_text_over_its_limit(
    scim: Scim, acme: Company, overrides: dict[str, Any], shown: str, limit: int
) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_strict=True)
    longer = orjson.loads(orjson.dumps(overrides))
    _lengthen(longer)

    over = scim.post("/Users", okta_user("over@example.com", **longer))

    detail = assert_error(over, 400, "invalidValue")["detail"]
    assert shown in detail and f"{limit:,}" in detail
    assert Member.objects.count() == 0
    assert failures() == [("create", 400, "invalidValue")]


def test_an_identifier_over_its_limit_is_refused(scim: Scim) -> None:
    at_limit = scim.post("/Users", okta_user("at@example.com", externalId="e" * NAME))
    over = scim.post("/Users", okta_user("over@example.com", externalId="e" * (NAME + 1)))

    assert at_limit.status_code == 201, at_limit.content
    detail = assert_error(over, 400, "invalidValue")["detail"]
    assert "externalId" in detail and f"{NAME:,}" in detail
    assert list(Member.objects.values_list("user_name", flat=True)) == ["at@example.com"]
    assert failures() == [("create", 400, "invalidValue")]


def _lengthen(value: Any) -> None:
    """Add one character to the longest string in `value`, in place."""
    containers: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(child, str):
                containers.append((item, key))
            elif isinstance(child, dict | list):
                stack.append(child)
    item, key = max(containers, key=lambda found: len(found[0][found[1]]))
    item[key] += item[key][-1]


def test_user_name_over_its_column_is_refused(scim: Scim) -> None:
    name = "u" * (NAME - len("@example.com")) + "@example.com"

    at_limit = scim.post("/Users", okta_user(name))
    over = scim.post("/Users", okta_user("u" + name))

    assert at_limit.status_code == 201
    assert "userName" in assert_error(over, 400, "invalidValue")["detail"]


def test_a_ten_megabyte_external_id_is_refused_without_storing_anything(scim: Scim) -> None:
    response = scim.post("/Users", okta_user(externalId="x" * 10_000_000))

    detail = assert_error(response, 400, "invalidValue")["detail"]
    assert "externalId" in detail and f"{NAME:,}" in detail
    assert Member.objects.count() == 0
    assert failures() == [("create", 400, "invalidValue")]


def test_a_ten_megabyte_title_keeps_its_first_characters(scim: Scim) -> None:
    response = scim.post("/Users", okta_user(title="x" * 10_000_000))

    assert response.status_code == 201 and response.json()["title"] == "x" * STRING


def test_put_with_an_oversized_value_changes_nothing_and_is_recorded(scim: Scim) -> None:
    created = create(scim, title="Engineer")
    body = okta_user(title="Manager", externalId="e" * (NAME + 1))

    response = scim.put(f"/Users/{created['id']}", body)

    assert "externalId" in assert_error(response, 400, "invalidValue")["detail"]
    after = scim.get(f"/Users/{created['id']}").json()
    assert after["title"] == "Engineer" and after["meta"]["version"] == created["meta"]["version"]
    assert failures() == [("replace", 400, "invalidValue")]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param({"path": "externalId", "value": "e" * (NAME + 1)}, id="path"),
        pytest.param({"value": {"title": "T", "externalId": "e" * (NAME + 1)}}, id="pathless"),
        pytest.param({"value": {"active": False, "externalId": "e" * (NAME + 1)}}, id="okta-style"),
    ],
)
def test_patch_with_an_oversized_value_changes_nothing_and_is_recorded(
    scim: Scim, operation: dict[str, Any]
) -> None:
    created = create(scim, title="Engineer")

    response = scim.patch(f"/Users/{created['id']}", replace(**operation))

    assert "externalId" in assert_error(response, 400, "invalidValue")["detail"]
    after = scim.get(f"/Users/{created['id']}").json()
    assert after["title"] == "Engineer" and after["active"] is True
    assert after["meta"]["version"] == created["meta"]["version"]
    assert failures() == [("patch", 400, "invalidValue")]


def test_patch_at_the_string_limit_is_applied(scim: Scim) -> None:
    created = create(scim)

    response = scim.patch(f"/Users/{created['id']}", replace(path="title", value="t" * STRING))

    assert response.status_code == 200
    assert response.json()["title"] == "t" * STRING


# --- values of one multi-valued attribute -------------------------------------------------


def test_a_hundred_emails_are_kept_and_one_more_is_refused(scim: Scim) -> None:
    at_limit = scim.post("/Users", okta_user("at@example.com", emails=emails(VALUES)))
    over = scim.post("/Users", okta_user("over@example.com", emails=emails(VALUES + 1)))

    assert at_limit.status_code == 201 and len(at_limit.json()["emails"]) == VALUES
    detail = assert_error(over, 400, "invalidValue")["detail"]
    assert "emails" in detail and str(VALUES) in detail
    assert Member.objects.count() == 1


def test_too_many_phone_numbers_are_refused_on_put(scim: Scim) -> None:
    created = create(scim)
    phones = [{"value": f"+1 555 0100 {n}", "type": "work"} for n in range(VALUES + 1)]

    response = scim.put(f"/Users/{created['id']}", okta_user(phoneNumbers=phones))

    assert "phoneNumbers" in assert_error(response, 400, "invalidValue")["detail"]
    assert "phoneNumbers" not in scim.get(f"/Users/{created['id']}").json()
    assert failures() == [("replace", 400, "invalidValue")]


@pytest.mark.parametrize("op", ["add", "replace"])
def test_patch_past_the_values_limit_is_refused(scim: Scim, op: str) -> None:
    created = create(scim)  # one email already
    added = emails(VALUES) if op == "add" else emails(VALUES + 1)

    response = scim.patch(f"/Users/{created['id']}", replace(op, path="emails", value=added))

    assert "emails" in assert_error(response, 400, "invalidValue")["detail"]
    assert len(scim.get(f"/Users/{created['id']}").json()["emails"]) == 1
    assert failures() == [("patch", 400, "invalidValue")]


def test_a_post_with_240000_emails_is_refused(scim: Scim, settings: Any) -> None:
    body = okta_user(emails=[{"value": f"u{n}@x.co"} for n in range(240_000)])
    assert len(orjson.dumps(body)) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = scim.post("/Users", body)

    detail = assert_error(response, 400, "invalidValue")["detail"]
    assert "emails" in detail and str(VALUES) in detail
    assert Member.objects.count() == 0


# --- the whole resource -------------------------------------------------------------------


def _padded(size: int) -> dict[str, Any]:
    """A user body whose stored resource is exactly `size` bytes: long strings spread over
    enough attributes that none is over the string limit."""
    body = okta_user()
    fields = ["title", "nickName", "userType", "profileUrl"]
    extension = ["employeeNumber", "costCenter", "organization", "division", "department"]
    for name in fields:
        body[name] = ""
    body[ENTERPRISE] = dict.fromkeys(extension, "")
    missing = size - user_input.resource_size(normalize_user(_filled(body, 1), UserPolicy()))
    slots = [(body, name) for name in fields] + [(body[ENTERPRISE], name) for name in extension]
    for container, name in slots:
        extra = min(STRING - 1, missing)
        container[name] = "p" * (1 + extra)
        missing -= extra
    assert missing == 0, "more attributes are needed to reach the size"
    return body


def _filled(body: dict[str, Any], length: int) -> dict[str, Any]:
    copy = orjson.loads(orjson.dumps(body))
    for container in (copy, copy[ENTERPRISE]):
        for key, value in container.items():
            if value == "":
                container[key] = "p" * length
    return copy


def test_a_resource_at_the_size_limit_is_kept_and_one_byte_more_is_refused() -> None:
    limit = user_input.MAX_RESOURCE_BYTES

    kept = normalize_user(_padded(limit), UserPolicy())
    with pytest.raises(PayloadTooLarge) as refused:
        normalize_user(_padded(limit + 1), UserPolicy())

    assert user_input.resource_size(kept) == limit
    assert f"{limit:,}" in refused.value.detail


def test_an_oversized_user_is_413_and_recorded(scim: Scim) -> None:
    response = scim.post("/Users", _padded(user_input.MAX_RESOURCE_BYTES + 1))

    body = assert_error(response, 413)
    assert "scimType" not in body and f"{user_input.MAX_RESOURCE_BYTES:,}" in body["detail"]
    assert Member.objects.count() == 0
    assert failures() == [("create", 413, "")]


def test_a_patch_that_grows_a_user_past_the_size_limit_changes_nothing(scim: Scim) -> None:
    created = create(scim)
    big = _padded(user_input.MAX_RESOURCE_BYTES + 1)
    value = {key: big[key] for key in ("title", "nickName", "userType", "profileUrl", ENTERPRISE)}

    response = scim.patch(f"/Users/{created['id']}", replace(value=value))

    assert_error(response, 413)
    assert "title" not in scim.get(f"/Users/{created['id']}").json()
    assert failures() == [("patch", 413, "")]


# --- PATCH operations ---------------------------------------------------------------------


def test_patch_with_one_operation_too_many_is_413_and_changes_nothing(scim: Scim) -> None:
    created = create(scim)
    operation = {"op": "replace", "path": "title", "value": "New"}
    body = {"schemas": [PATCH_OP], "Operations": [operation] * (patch.MAX_OPERATIONS + 1)}

    response = scim.patch(f"/Users/{created['id']}", body)

    error = assert_error(response, 413)
    assert "scimType" not in error and f"{patch.MAX_OPERATIONS:,}" in error["detail"]
    assert "title" not in scim.get(f"/Users/{created['id']}").json()


def test_patch_with_exactly_the_maximum_operations_is_applied(scim: Scim) -> None:
    created = create(scim)
    operation = {"op": "replace", "path": "title", "value": "New"}
    body = {"schemas": [PATCH_OP], "Operations": [operation] * patch.MAX_OPERATIONS}

    response = scim.patch(f"/Users/{created['id']}", body)

    assert response.status_code == 200 and response.json()["title"] == "New"


# --- Groups -------------------------------------------------------------------------------


def group(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        **fields,
    }


@pytest.mark.parametrize("name", ["displayName", "externalId"])
def test_group_names_at_their_limit_are_kept_and_one_more_is_refused(scim: Scim, name: str) -> None:
    at_limit = scim.post("/Groups", {**group("At"), name: "g" * NAME})
    over = scim.post("/Groups", {**group("Over"), name: "h" * (NAME + 1)})

    assert at_limit.status_code == 201
    detail = assert_error(over, 400, "invalidValue")["detail"]
    assert name in detail and str(NAME) in detail
    assert Group.objects.count() == 1


@pytest.mark.parametrize(
    ("oversized", "request_body"),
    [
        pytest.param("externalId", lambda: group("Renamed", externalId="x" * (NAME + 1)), id="put"),
        pytest.param(
            "externalId",
            lambda: replace(path="externalId", value="x" * (NAME + 1)),
            id="patch-path",
        ),
        pytest.param(
            "externalId",
            lambda: replace(value={"displayName": "Renamed", "externalId": "x" * (NAME + 1)}),
            id="patch-pathless",
        ),
        # Okta's and Entra's renames, which take the group fast path (directory.groups).
        pytest.param(
            "displayName",
            lambda: replace(path="displayName", value="x" * (NAME + 1)),
            id="rename",
        ),
        pytest.param(
            "displayName",
            lambda: replace(value={"displayName": "x" * (NAME + 1)}),
            id="rename-pathless",
        ),
    ],
)
def test_group_updates_with_an_oversized_value_change_nothing(
    scim: Scim, oversized: str, request_body: Any
) -> None:
    created = scim.post("/Groups", group("Engineers")).json()
    body = request_body()
    method = scim.put if "Operations" not in body else scim.patch

    response = method(f"/Groups/{created['id']}", body)

    assert oversized in assert_error(response, 400, "invalidValue")["detail"]
    stored = Group.objects.get()
    assert (stored.display_name, stored.external_id) == ("Engineers", None)
    assert failures()[-1][1:] == (400, "invalidValue")


def test_group_members_past_the_limit_are_refused_and_up_to_it_read() -> None:
    at_limit = [{"value": str(uuid.uuid4())} for _ in range(group_input.MAX_MEMBERS_PER_REQUEST)]

    members = group_input.members_of(at_limit)
    with pytest.raises(InvalidValue) as refused:
        group_input.members_of([*at_limit, {"value": str(uuid.uuid4())}])

    assert len(members) == group_input.MAX_MEMBERS_PER_REQUEST
    assert f"{group_input.MAX_MEMBERS_PER_REQUEST:,}" in refused.value.detail


def test_a_group_patch_with_one_operation_too_many_is_413(scim: Scim) -> None:
    created = scim.post("/Groups", group("Engineers")).json()
    operation = {"op": "replace", "path": "displayName", "value": "Renamed"}
    body = {"schemas": [PATCH_OP], "Operations": [operation] * (patch.MAX_OPERATIONS + 1)}

    response = scim.patch(f"/Groups/{created['id']}", body)

    assert "scimType" not in assert_error(response, 413)
    assert Group.objects.get().display_name == "Engineers"


# --- pages --------------------------------------------------------------------------------


def test_search_count_above_the_maximum_is_capped_and_the_cap_is_advertised(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "MAX_COUNT", 3)
    for n in range(5):
        create(scim, user_name=f"user{n}@example.com", externalId=f"ext-{n}")
    search = {"schemas": [listing.SEARCH_REQUEST], "count": 1000}

    page = scim.post("/Users/.search", search).json()
    advertised = scim.get("/ServiceProviderConfig").json()["filter"]["maxResults"]

    assert (page["totalResults"], page["itemsPerPage"], len(page["Resources"])) == (5, 3, 3)
    assert advertised == 3


# --- a worker's memory after the largest page ---------------------------------------------


def _worker_pids(base_url: str) -> list[int]:
    """The gunicorn workers serving `base_url`: children of the master this test started."""
    port = base_url.rsplit(":", 1)[1]
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue  # a process that ended while we looked
        if b"gunicorn" in command and f"127.0.0.1:{port}".encode() in command:
            parents[int(fields["Pid"])] = int(fields["PPid"])
    (master,) = [pid for pid, parent in parents.items() if parent == os.getpid()]
    return sorted(pid for pid, parent in parents.items() if parent == master)


def _rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


# Both workers together. One page of 1,000 users of 32 KiB kept by a worker is about 95 MiB.
MARGIN = 48 * 2**20


@pytest.mark.live
@pytest.mark.django_db
def test_workers_give_back_the_memory_of_the_largest_page(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    """Seeded with users of the largest size allowed, the largest page allowed is fetched
    several times; afterwards the workers hold about what they held before."""
    template = _padded(user_input.MAX_RESOURCE_BYTES - 64)
    with gunicorn_server(tmp_path) as base, live_scim_company(django_db_blocker) as live:
        idp = IdP.bearer(base, live)
        refused = idp.call("POST", "/Users", okta_user(externalId="x" * 10_000_000))

        def seed(n: int) -> int:
            body = {
                **template,
                "userName": f"user{n:05d}@example.com",
                "externalId": f"ext-{n:05d}",
                "emails": [{"value": f"user{n:05d}@example.com", "type": "work"}],
            }
            return idp.call("POST", "/Users", body).status

        with ThreadPoolExecutor(max_workers=4) as pool:
            created = Counter(pool.map(seed, range(listing.MAX_COUNT)))
        workers = _worker_pids(base)
        for _ in range(4):
            idp.call("GET", "/Users?count=10")
        baseline = _rss_bytes(workers)
        sizes = []
        for _ in range(6):
            search = {"schemas": [listing.SEARCH_REQUEST], "count": 100_000}
            sizes.append(len(idp.call("POST", "/Users/.search", search).body["Resources"]))
        # The clean-up runs just after a large response; give it a few seconds on a busy
        # machine.
        deadline = time.monotonic() + 5
        while (after := _rss_bytes(workers)) - baseline > MARGIN and time.monotonic() < deadline:
            time.sleep(0.2)

    assert refused.status == 400 and refused.body["scimType"] == "invalidValue"
    assert created == {201: listing.MAX_COUNT}
    assert sizes == [listing.MAX_COUNT] * 6
    assert after - baseline <= MARGIN, f"{baseline / 2**20:.0f} MiB, then {after / 2**20:.0f} MiB"
