"""List paging by position (issue #7): `startIndex` over `Member.seq` through the bucket counts
the triggers keep. Every page is checked against the true order, read straight from the table."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import MEMBER_BUCKET_SIZE, Member, MemberBucket
from tenants.models import Company
from tests.conftest import max_queries
from tests.scim_client import Scim, okta_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def bulk_members(count: int, prefix: str = "bulk", **fields: Any) -> None:
    """Members inserted in one statement, as a bulk load would (the triggers count them)."""
    now = timezone.now()
    Member.objects.bulk_create(
        [
            Member(
                user_name=f"{prefix}{i}@acme.test",
                attributes={"userName": f"{prefix}{i}@acme.test"},
                created_at=now,
                updated_at=now,
                **fields,
            )
            for i in range(count)
        ]
    )


def true_order() -> list[str]:
    return [str(pk) for pk in Member.objects.order_by("seq").values_list("pk", flat=True)]


def assert_buckets_match_members() -> None:
    counted = {b: n for b, n in MemberBucket.objects.values_list("bucket", "members") if n}
    actual = Counter(
        seq // MEMBER_BUCKET_SIZE for seq in Member.objects.values_list("seq", flat=True)
    )
    assert counted == dict(actual)


def bucket_edges() -> list[int]:
    """1-based positions of the first member of each bucket after the first."""
    seqs = list(Member.objects.order_by("seq").values_list("seq", flat=True))
    return [
        position + 1
        for position in range(1, len(seqs))
        if seqs[position] // MEMBER_BUCKET_SIZE != seqs[position - 1] // MEMBER_BUCKET_SIZE
    ]


def page_ids(scim: Scim, start: int, count: int) -> tuple[dict[str, Any], list[str]]:
    body = scim.get(f"/Users?startIndex={start}&count={count}").json()
    return body, [r["id"] for r in body["Resources"]]


def test_pages_are_the_true_order_at_bucket_edges_after_deletes_and_creates(
    scim: Scim,
) -> None:
    bulk_members(3 * MEMBER_BUCKET_SIZE)
    ordered = list(Member.objects.order_by("seq").values_list("pk", "seq"))
    second_bucket = ordered[0][1] // MEMBER_BUCKET_SIZE + 1
    # A whole bucket emptied, and scattered deletes elsewhere.
    Member.objects.filter(seq__gte=second_bucket * MEMBER_BUCKET_SIZE).filter(
        seq__lt=(second_bucket + 1) * MEMBER_BUCKET_SIZE
    ).delete()
    Member.objects.filter(pk__in=[pk for pk, _ in ordered[5:400:7]]).delete()
    for i in range(3):
        assert (
            scim.post("/Users", okta_user(f"late{i}@okta.local", externalId=f"l{i}")).status_code
            == 201
        )
    expected, total = true_order(), Member.objects.count()
    starts = {1, 2, total - 1, total, total + 1, total + 100}
    starts.update(p + d for p in bucket_edges() for d in (-1, 0, 1))

    for start in sorted(starts):
        for count in (1, 100):
            body, ids = page_ids(scim, start, count)

            assert ids == expected[start - 1 : start - 1 + count], (start, count)
            assert body["totalResults"] == total
            assert body["startIndex"] == start and body["itemsPerPage"] == len(ids)
    assert_buckets_match_members()


def test_the_import_sweep_returns_every_user_once_in_order_with_creates_meanwhile(
    scim: Scim,
) -> None:
    bulk_members(MEMBER_BUCKET_SIZE + 300)
    before = true_order()

    seen: list[str] = []
    start, created = 1, []
    while True:
        body, ids = page_ids(scim, start, 100)
        seen += ids
        if start == 501:  # an IdP assigns users while the import runs
            created.append(scim.post("/Users", okta_user("new@okta.local", externalId="n")))
        if start + body["itemsPerPage"] > body["totalResults"]:
            break
        start += body["itemsPerPage"]

    assert seen == [*before, created[0].json()["id"]]


def test_a_sweep_never_repeats_a_user_and_deletes_of_seen_users_shift_positions(
    scim: Scim,
) -> None:
    # RFC 7644 §3.4.2.4: paging is not stateful. Deleting a user already returned moves every
    # later user one position up, so one user per such delete is passed over: the trade of
    # index paging, which IdPs accept (they page by startIndex only). Nothing is repeated, and
    # the order stays the list order.
    bulk_members(700)
    before = true_order()
    deleted: list[str] = []

    seen: list[str] = []
    start = 1
    while True:
        body, ids = page_ids(scim, start, 100)
        seen += ids
        if seen and len(deleted) < 3:
            deleted.append(seen[len(deleted) * 10])
            assert scim.delete(f"/Users/{deleted[-1]}").status_code == 204
        if start + body["itemsPerPage"] > body["totalResults"]:
            break
        start += body["itemsPerPage"]

    assert len(seen) == len(set(seen))
    assert seen == [pk for pk in before if pk in set(seen)]
    passed_over = set(before) - set(seen)
    assert len(passed_over) == len(deleted) and not passed_over & set(deleted)


def test_deletes_of_users_not_yet_seen_pass_nobody_over(scim: Scim) -> None:
    bulk_members(450)
    before = true_order()
    doomed = before[300:303]

    seen: list[str] = []
    for start in range(1, 451, 100):
        body, ids = page_ids(scim, start, 100)
        seen += ids
        if start == 1:
            Member.objects.filter(pk__in=doomed).delete()

    assert seen == [pk for pk in before if pk not in doomed]
    assert body["totalResults"] == 447


def test_list_pages_run_a_constant_number_of_queries(scim: Scim) -> None:
    bulk_members(2 * MEMBER_BUCKET_SIZE + 50, active=False)
    total = Member.objects.count()
    scim.get("/Users?count=1")  # the token's first use is recorded once

    for start in (1, MEMBER_BUCKET_SIZE + 1, total - 10):
        # company route with the credential (one statement), the page (count, position, rows
        # and their groups)
        with max_queries(2):
            body = scim.get(f"/Users?startIndex={start}&count=100").json()
        assert body["totalResults"] == total and body["itemsPerPage"] == min(100, total - start + 1)
    # Past the end the page is empty, and the count is one more query.
    with max_queries(3):
        beyond = scim.get(f"/Users?startIndex={total + 1}&count=100").json()
    assert beyond["totalResults"] == total and beyond["Resources"] == []
    # Filtered: route with credential, COUNT, page ids (OFFSET over an index), rows with groups.
    with max_queries(4):
        filtered = scim.get("/Users?filter=active eq false&startIndex=1500&count=100").json()
    assert filtered["totalResults"] == total and filtered["itemsPerPage"] == 100
    # A short filtered first page (every IdP's pre-create check): route with credential, the
    # rows with their groups; no COUNT.
    user = Member.objects.order_by("seq").values_list("id", "user_name").first()
    assert user is not None
    with max_queries(2):
        found = scim.get(f'/Users?filter=userName eq "{user[1]}"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == str(user[0])
    # GET by id: route with credential, the user with its groups.
    with max_queries(2):
        single = scim.get(f"/Users/{user[0]}")
    assert single.status_code == 200 and single.json()["userName"] == user[1]


def test_filtered_and_sorted_pages_follow_the_list_order(scim: Scim) -> None:
    bulk_members(120, prefix="on")
    bulk_members(130, prefix="off", active=False)
    inactive = [
        str(pk)
        for pk in Member.objects.filter(active=False).order_by("seq").values_list("pk", flat=True)
    ]
    by_name = [
        str(pk) for pk in Member.objects.order_by("-user_name", "seq").values_list("pk", flat=True)
    ]

    filtered = scim.get("/Users?filter=active eq false&startIndex=51&count=50").json()
    sorted_ = scim.get(
        "/Users?sortBy=userName&sortOrder=descending&startIndex=201&count=100"
    ).json()

    assert [r["id"] for r in filtered["Resources"]] == inactive[50:100]
    assert filtered["totalResults"] == 130
    assert [r["id"] for r in sorted_["Resources"]] == by_name[200:]
    assert sorted_["totalResults"] == 250 and sorted_["itemsPerPage"] == 50


def test_list_resources_are_the_same_as_get_by_id(scim: Scim) -> None:
    boss = scim.post("/Users", okta_user("boss@okta.local", externalId="boss")).json()
    report = scim.post(
        "/Users",
        okta_user(
            "report@okta.local",
            externalId="r",
            **{ENTERPRISE: {"manager": {"value": boss["id"]}, "department": "R&D"}},
        ),
    ).json()
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Admins",
            "members": [{"value": report["id"]}],
        },
    ).json()

    listed = scim.get("/Users").json()["Resources"]
    narrowed = scim.get("/Users?attributes=userName,groups").json()["Resources"]
    without = scim.get("/Users?excludedAttributes=groups,meta").json()["Resources"]

    assert listed == [
        scim.get(f"/Users/{boss['id']}").json(),
        scim.get(f"/Users/{report['id']}").json(),
    ]
    assert listed[1]["groups"][0]["value"] == group["id"]
    assert listed[1][ENTERPRISE]["manager"]["value"] == boss["id"]
    assert narrowed[1] == {
        "schemas": report["schemas"],
        "id": report["id"],
        "userName": "report@okta.local",
        "groups": listed[1]["groups"],
    }
    assert all(not {"groups", "meta"} & set(r) and r["userName"] and r["schemas"] for r in without)


def test_bucket_counts_follow_every_write_path(scim: Scim, outsider: Company) -> None:
    bulk_members(1500)
    created = scim.post("/Users", okta_user()).json()
    Member.objects.filter(user_name__startswith="bulk1").delete()
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    with schema_context(outsider.schema_name):
        outsider_before = sum(MemberBucket.objects.values_list("members", flat=True))
        bulk_members(3, prefix="elsewhere")
        assert sum(MemberBucket.objects.values_list("members", flat=True)) == outsider_before + 3
    connection.set_schema("co_acme")

    assert_buckets_match_members()
    assert scim.get("/Users?count=0").json()["totalResults"] == Member.objects.count()


def test_bucket_counts_follow_writes_made_from_another_schemas_session(
    scim: Scim, outsider: Company
) -> None:
    """The trigger's statements find the bucket table through search_path when the session is
    in the member table's schema (every write the application makes); a write from any other
    schema's session must still count in the table's own schema, and only there."""
    bulk_members(MEMBER_BUCKET_SIZE + 5)
    table = f'"{connection.schema_name}".directory_member'
    with schema_context(outsider.schema_name):
        outsider_counts = dict(MemberBucket.objects.values_list("bucket", "members"))
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE user_name LIKE 'bulk1%%'")  # noqa: S608
            cursor.execute(
                f"INSERT INTO {table} (id, user_name, external_id, active, display_name, "  # noqa: S608
                "given_name, family_name, primary_email, manager_ref, attributes, version, "
                "created_at, updated_at) "
                "SELECT gen_random_uuid(), 'other' || n || '@acme.test', NULL, true, '', '', '', "
                "'', '', '{}', 1, now(), now() FROM generate_series(1, 3) AS n"
            )
        assert dict(MemberBucket.objects.values_list("bucket", "members")) == outsider_counts
    connection.set_schema("co_acme")

    assert_buckets_match_members()
    assert scim.get("/Users?count=0").json()["totalResults"] == Member.objects.count()


def test_seq_never_changes(scim: Scim) -> None:
    created = scim.post("/Users", okta_user()).json()
    seq = Member.objects.get(pk=created["id"]).seq

    replaced = scim.put(f"/Users/{created['id']}", okta_user(displayName="Renamed"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=created["id"]).update(seq=F("seq") + 1)

    assert replaced.status_code == 200
    assert Member.objects.get(pk=created["id"]).seq == seq


def test_new_members_get_increasing_seq_per_company(acme: Company) -> None:
    first = Member.objects.create(
        id=uuid.uuid4(),
        user_name="one@acme.test",
        attributes={},
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    second = Member.objects.create(
        id=uuid.uuid4(),
        user_name="two@acme.test",
        attributes={},
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )

    assert isinstance(first.seq, int) and second.seq > first.seq
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('directory_member', 'seq')")
        (sequence,) = cursor.fetchone()
    assert sequence == "co_acme.directory_member_seq"


def test_sort_by_a_case_insensitive_attribute_ignores_case(scim: Scim) -> None:
    for i, name in enumerate(["bob@okta.local", "Alice@okta.local", "carol@okta.local"]):
        assert scim.post("/Users", okta_user(name, externalId=f"s{i}")).status_code == 201

    ascending = scim.get("/Users?sortBy=userName").json()
    descending = scim.get("/Users?sortBy=userName&sortOrder=descending&count=2").json()

    assert [r["userName"] for r in ascending["Resources"]] == [
        "Alice@okta.local",
        "bob@okta.local",
        "carol@okta.local",
    ]
    assert [r["userName"] for r in descending["Resources"]] == [
        "carol@okta.local",
        "bob@okta.local",
    ]
    assert descending["totalResults"] == 3


def test_list_timestamps_are_written_like_get_by_id(scim: Scim) -> None:
    import datetime as dt

    created = scim.post("/Users", okta_user()).json()
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 123999, tzinfo=dt.UTC)
    Member.objects.filter(pk=created["id"]).update(created_at=moment, updated_at=moment)

    listed = scim.get("/Users").json()["Resources"][0]["meta"]
    single = scim.get(f"/Users/{created['id']}").json()["meta"]

    assert listed == single
    assert listed["created"] == listed["lastModified"] == "2026-01-02T03:04:05.123Z"
