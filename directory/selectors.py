"""Reads about members."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import CharField, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import Exact

from config.prepared_query import PreparedQuery
from directory.models import MEMBER_BUCKET_SIZE, Member, MemberBucket
from scim.errors import NotFound

# A page of members from a 1-based position, in one statement (one snapshot: the total and the
# positions agree). The bucket holding the position comes from a running sum over the bucket
# counts (≈ 1,000 rows at 1M members); inside it, an OFFSET below MEMBER_BUCKET_SIZE over the
# seq index (index-only) finds the first seq; then the page is read by seq. Never a scan of
# the members, never a COUNT. Each row carries the member's groups as "<id> <name>" strings,
# and its timestamps already in SCIM's form (milliseconds, truncated, as `scim_datetime`
# writes them): Django's time-zone-aware timestamp loader is pure Python and parsing 200 of
# them cost more than the rest of the query.
_PAGE_SQL = """
WITH position AS (
    SELECT bucket * %(bucket_size)s AS first_seq, %(start)s - 1 - (upto - members) AS skip
    FROM (
        SELECT bucket, members, sum(members) OVER (ORDER BY bucket) AS upto
        FROM directory_memberbucket
    ) AS running
    WHERE upto >= %(start)s
    ORDER BY bucket
    LIMIT 1
)
SELECT
    (SELECT coalesce(sum(members), 0) FROM directory_memberbucket),
    m.id, m.attributes, m.manager_id,
    to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    m.version,
    CASE WHEN %(roles)s THEN ARRAY(
        SELECT r.group_id::text || ' ' || g.display_name
        FROM directory_membership AS r JOIN directory_group AS g ON g.id = r.group_id
        WHERE r.member_id = m.id
        ORDER BY g.display_name
    ) END
FROM directory_member AS m
WHERE m.seq >= (
    SELECT s.seq FROM directory_member AS s
    WHERE s.seq >= (SELECT first_seq FROM position)
    ORDER BY s.seq
    OFFSET (SELECT skip FROM position)
    LIMIT 1
)
ORDER BY m.seq
LIMIT %(count)s
"""

# (id, attributes, manager_id, created, lastModified (SCIM timestamps), version)
MemberColumns = tuple[uuid.UUID, dict[str, Any], uuid.UUID | None, str, str, int]


def parse_member_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError):
        return None


def member_get(member_id: str, *, for_update: bool = False, with_roles: bool = False) -> Member:
    """The member with this id in the current company. Raises NotFound (also for ids that are
    not UUIDs: to a client they are simply unknown). `with_roles` reads the member's groups
    in the same query, as `member.roles` (read it with `split_roles`)."""
    parsed = parse_member_id(member_id)
    if parsed is None:
        raise NotFound(f"No user with id {member_id!r}.")
    if with_roles:
        found = (_MEMBER_LOCKED_WITH_ROLES if for_update else _MEMBER_WITH_ROLES)(parsed)
        if not found:
            raise NotFound(f"No user with id {member_id!r}.")
        return found[0]
    queryset = Member.objects.select_related("manager")
    if for_update:
        queryset = Member.objects.select_for_update(of=("self",)).select_related("manager")
    try:
        return queryset.get(pk=parsed)
    except Member.DoesNotExist:
        raise NotFound(f"No user with id {member_id!r}.") from None


def member_rows_named(user_name: str) -> list[tuple[Any, ...]]:
    """The member whose userName is `user_name` (case-insensitively), as a one-item list of
    (id, attributes, manager_id, created_at, updated_at, version, roles), or an empty list:
    what `filter=userName eq "…"` selects (every IdP's check before it creates a user), read
    through the unique index on lower(user_name)."""
    return _MEMBERS_NAMED(user_name.lower())


def member_count() -> int:
    """The number of members, from the bucket counts (no scan of the members)."""
    return MemberBucket.objects.aggregate(n=Coalesce(Sum("members"), 0))["n"]


def members_page(
    start_index: int, count: int, *, with_roles: bool
) -> tuple[int, list[tuple[MemberColumns, list[tuple[str, str]]]]]:
    """(the number of members, the `count` members from 1-based position `start_index` in
    list order, `seq`), each as (MemberColumns, its groups as (id, display name) by name;
    empty unless `with_roles`). One query, as cheap at position 1,000,000 as at 1."""
    if count <= 0:
        return member_count(), []
    with connection.cursor() as cursor:
        cursor.execute(
            _PAGE_SQL,
            {
                "start": start_index,
                "count": count,
                "roles": with_roles,
                "bucket_size": MEMBER_BUCKET_SIZE,
            },
        )
        fetched = cursor.fetchall()
    if not fetched:
        return member_count(), []
    page = [
        (
            (pk, orjson.loads(attributes), manager_id, created_at, updated_at, version),
            split_roles(roles or []),
        )
        for _, pk, attributes, manager_id, created_at, updated_at, version, roles in fetched
    ]
    return fetched[0][0], page


# The same array as the page query's, for the member table of an ORM query (never aliased
# there). Raw SQL because the equivalent ArraySubquery cost ~1 ms of query compilation per
# request, more than the filtered query itself takes in the database.
_ROLES_SQL = """ARRAY(
    SELECT r.group_id::text || ' ' || g.display_name
    FROM directory_membership AS r JOIN directory_group AS g ON g.id = r.group_id
    WHERE r.member_id = "directory_member"."id"
    ORDER BY g.display_name
)"""


def roles_column() -> RawSQL:
    """An annotation for a queryset of members: each member's groups (roles), by display
    name, as "<group id> <display name>" strings (read them with `split_roles`), so a page of
    members and their roles is one query. A group id as text is always 36 characters."""
    return RawSQL(_ROLES_SQL, (), output_field=ArrayField(CharField()))  # noqa: S611 - constant  # noqa: S611 - constant SQL, no parameters


def split_roles(values: Iterable[str]) -> list[tuple[str, str]]:
    """What `roles_column` (or the page query) read, as (group id, display name) pairs."""
    return [(value[:36], value[37:]) for value in values]


# The reads every identity provider repeats most, compiled once (config/prepared_query.py):
# GET /Users/<id>, the same under the row lock of a PUT or PATCH, and the userName filter
# sent before creating each user.
def _with_roles(queryset: QuerySet[Member], pk: uuid.UUID) -> QuerySet[Member]:
    return queryset.select_related("manager").annotate(roles=roles_column()).filter(pk=pk)[:1]


_MEMBER_WITH_ROLES: PreparedQuery[Member] = PreparedQuery(
    lambda pk: _with_roles(Member.objects.all(), pk), samples=(uuid.UUID(int=1),)
)
_MEMBER_LOCKED_WITH_ROLES: PreparedQuery[Member] = PreparedQuery(
    lambda pk: _with_roles(Member.objects.select_for_update(of=("self",)), pk),
    samples=(uuid.UUID(int=1),),
)
_MEMBERS_NAMED: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
    lambda lowered: (
        Member.objects.filter(Exact(Lower("user_name"), lowered))
        .annotate(roles=roles_column())
        .values_list(
            "id", "attributes", "manager_id", "created_at", "updated_at", "version", "roles"
        )[:1]
    ),
    samples=("<user name>",),
)
