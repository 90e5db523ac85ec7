"""Reads about members."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import CharField, Func, QuerySet, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Left, Lower
from django.db.models.lookups import Exact

from directory.errors import MemberNotFound
from directory.models import MEMBER_BUCKET_SIZE, Member, MemberBucket
from infra.prepared_query import PreparedQuery, prepared_cursor

# The columns of a list page of members, read without the ORM. Each row carries the
# member's groups as "<id> <name>" strings, and its timestamps already in SCIM's form
# (milliseconds, truncated, as `scim_datetime` writes them): Django's time-zone-aware timestamp
# loader is pure Python and parsing 200 of them cost more than the rest of the query.
_PAGE_COLUMNS = """
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
    ) END,
    m.seq
FROM directory_member AS m
"""

# A page of members from a 1-based position, in one statement (one snapshot: the total and the
# positions agree). The bucket holding the position comes from a running sum over the bucket
# counts (≈ 1,000 rows at 1M members); inside it, an OFFSET below MEMBER_BUCKET_SIZE over the
# seq index (index-only) finds the first seq; then the page is read by seq. Never a scan of
# the members, never a COUNT.
_PAGE_SQL = (
    """
WITH position AS (
    SELECT bucket * %(bucket_size)s AS first_seq, %(start)s - 1 - (upto - members) AS skip
    FROM (
        SELECT bucket, members, sum(members) OVER (ORDER BY bucket) AS upto
        FROM directory_memberbucket
    ) AS running
    WHERE upto >= %(start)s
    ORDER BY bucket
    LIMIT 1
)"""  # noqa: S608 - constant SQL pieces; values are parameters
    + _PAGE_COLUMNS
    + """WHERE m.seq >= (
    SELECT s.seq FROM directory_member AS s
    WHERE s.seq >= (SELECT first_seq FROM position)
    ORDER BY s.seq
    OFFSET (SELECT skip FROM position)
    LIMIT 1
)
ORDER BY m.seq
LIMIT %(count)s
"""
)

# The page after a seq (cursor paging, RFC 9865): one range scan of the seq index, and one
# row more than the page, which tells whether a next page exists.
_AFTER_SQL = (
    _PAGE_COLUMNS
    + """WHERE m.seq > %(after)s
ORDER BY m.seq
LIMIT %(count)s + 1
"""
)


class GroupRef(NamedTuple):
    """A group a member is in (one of its roles): what a User's `groups` shows."""

    id: str
    display: str


class MemberRef(NamedTuple):
    """A member of a group: what a Group's `members` shows."""

    id: str
    display: str


class MemberRow(NamedTuple):
    """The columns a User resource needs, for list pages: no model instance, no manager row.
    Timestamps are datetimes, or already in SCIM's form when the page query formatted them.
    Satisfies scim_protocol.user_resource.StoredUser, as Member does."""

    id: uuid.UUID
    attributes: dict[str, Any]
    manager_id: uuid.UUID | None
    created_at: dt.datetime | str
    updated_at: dt.datetime | str
    version: int


@dataclass(frozen=True)
class MemberWithRoles:
    """A member and its groups (by display name), read in one query."""

    member: Member
    roles: list[GroupRef]


@dataclass(frozen=True)
class MemberPage:
    """A page of members: the total the list has, the page's rows in order, each row's
    groups by member id (empty when the caller did not ask for them), and for cursor paging
    where the next page starts."""

    total: int
    rows: list[MemberRow]
    roles: dict[uuid.UUID, list[GroupRef]]
    # Cursor paging: the sort key of the page's last row when a next page exists.
    next_after: list[Any] | None = None


def parse_member_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError):
        return None


def member_get(member_id: str, *, for_update: bool = False, no_key: bool = False) -> Member:
    """The member with this id in the current company. Raises MemberNotFound (also for ids
    that are not UUIDs: to a client they are simply unknown).

    `for_update` locks the row until the transaction ends: FOR UPDATE (a delete), or, with
    `no_key`, FOR NO KEY UPDATE (an update, which never changes the id): that mode does not
    conflict with the FOR KEY SHARE locks of writes that reference the member (a group adding
    it, a user naming it as manager), so those never wait for its updates, only its delete."""
    parsed = parse_member_id(member_id)
    if parsed is None:
        raise MemberNotFound(f"No user with id {member_id!r}.")
    queryset = Member.objects.select_related("manager")
    if for_update:
        queryset = Member.objects.select_for_update(of=("self",), no_key=no_key).select_related(
            "manager"
        )
    try:
        return queryset.get(pk=parsed)
    except Member.DoesNotExist:
        raise MemberNotFound(f"No user with id {member_id!r}.") from None


def member_get_with_roles(member_id: str, *, for_update: bool = False) -> MemberWithRoles:
    """The member with this id and its groups, in one query. Raises MemberNotFound as
    `member_get` does. `for_update` locks the row FOR NO KEY UPDATE (an update's lock: see
    `member_get`)."""
    parsed = parse_member_id(member_id)
    found = (
        None
        if parsed is None
        else (_MEMBER_LOCKED_WITH_ROLES if for_update else _MEMBER_WITH_ROLES)(parsed)
    )
    if not found:
        raise MemberNotFound(f"No user with id {member_id!r}.")
    member = found[0]
    return MemberWithRoles(member, _group_refs(member.roles))  # type: ignore[attr-defined]


def members_named(user_name: str, *, with_roles: bool) -> MemberPage:
    """The member whose userName is `user_name` (case-insensitively, as PostgreSQL folds it:
    see `folded`), as a page of one, or of none: what `filter=userName eq "…"` selects (every
    IdP's check before it creates a user), read through the unique index on lower(user_name),
    with its groups in the same query."""
    roles: dict[uuid.UUID, list[GroupRef]] | None = {} if with_roles else None
    rows = _keeping_roles(_MEMBERS_NAMED(user_name), roles)
    return MemberPage(len(rows), rows, roles or {})


def member_rows(
    queryset: QuerySet[Member], roles: dict[uuid.UUID, list[GroupRef]] | None
) -> list[MemberRow]:
    """The members of `queryset` as MemberRows, in its order; with `roles` given, their
    groups are read in the same query and put into it."""
    if roles is None:
        return [MemberRow._make(row) for row in queryset.values_list(*MemberRow._fields)]
    return _keeping_roles(
        queryset.annotate(roles=_roles_column()).values_list(*MemberRow._fields, "roles"), roles
    )


def _keeping_roles(
    fetched: Iterable[Iterable[Any]], roles: dict[uuid.UUID, list[GroupRef]] | None
) -> list[MemberRow]:
    """Rows of MemberRow's columns followed by the member's roles: the MemberRows, with the
    roles put into `roles` when it is given."""
    rows = []
    for *fields, found in fetched:
        row = MemberRow._make(fields)
        rows.append(row)
        if roles is not None:
            roles[row.id] = _group_refs(found)
    return rows


def folded(value: str, *, max_length: int | None = None) -> Func:
    """`value` case-folded by the database: `lower(value)` in SQL.

    The one folding rule for userNames, display names, names and email values. The unique
    indexes are on lower(column), so uniqueness is PostgreSQL's lower() under the database's
    LC_CTYPE; a literal lowered by Python (str.lower: "İ" -> "i̇", a final "Σ" -> "ς") or
    compared case-insensitively any other way (upper(), ILIKE) can disagree with it, and a
    user that a create refused as taken would not be found by the filter an IdP runs before
    creating. Compare lower(column) with folded(literal), never with a Python-lowered one.

    `max_length` cuts the folded text for a column of that width: cut after folding, since
    lower() may lengthen text under some collations (ICU's "İ" -> "i̇")."""
    lowered = Lower(Value(value, output_field=CharField()))
    return lowered if max_length is None else Left(lowered, max_length)


def same_when_folded(first: str, second: str) -> bool:
    """Whether the database's folding (`folded`) makes the two strings equal."""
    if first == second:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower(%s::text) = lower(%s::text)", [first, second])
        row = cursor.fetchone()
    return bool(row and row[0])


# --- locks taken by writes, in one order -----------------------------------------------------
#
# A write locks, in this order: (1) the row it writes (FOR NO KEY UPDATE for an update,
# FOR UPDATE for a delete: member_get / group_get); (2) the members it will reference (FOR KEY
# SHARE, by id: a group's new members, a user's new manager); (3) the members whose manager
# reference it resolves or clears (FOR NO KEY UPDATE, by id: reports waiting for a new
# userName, the reports of a deleted user); (4) the seat lock (the company's row,
# directory.seats); (5) what it inserts (the position index's bucket row, unique index entries);
# (6) seat waitlist rows (directory.waitlist, which locks a waiting person's (2)/(3) rows
# before the seat lock when it provisions them).
# A DELETE of a user therefore either waits for every write that references it and then
# removes those references with it, or comes first, and the writes find the user gone (a 400,
# or a manager reference left waiting) instead of failing on the foreign key at commit.

_REFERENCED_SQL = "SELECT id FROM directory_member WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE"

_MANAGER_SQL = """
SELECT id FROM directory_member
WHERE (id = %(by_id)s OR lower(user_name) = lower(%(reference)s::text)) AND id <> %(own)s
ORDER BY id
LIMIT 1
"""

# The partial index member_pending_manager_ci holds only waiting rows. `_MANAGER_SQL` reads
# a reference case-insensitively (an id as a UUID, a userName folded), so a waiting one is
# matched the same way.
_WAITING_SQL = """
SELECT id FROM directory_member
WHERE manager_id IS NULL AND manager_ref <> ''
  AND lower(manager_ref) IN (lower(%(id_text)s::text), lower(%(user_name)s::text))
  AND id <> %(id)s
ORDER BY id
FOR NO KEY UPDATE
"""

# `members_waiting_for` as the first CTE of a create's own statement (directory.services):
# one row, whose array holds the waiting reports' ids once they are all locked, so a CTE that
# reads it (the seat's UPDATE, or the member's INSERT when it takes no seat) runs after those
# locks, keeping the order above. Its parameters are the member's own: `id`, `id_text`,
# `user_name`.
WAITING_CTE = f"""waiting AS (
    SELECT array({_WAITING_SQL}) AS ids
)"""

_REPORTS_SQL = "SELECT id FROM directory_member WHERE manager_id = %s ORDER BY id FOR NO KEY UPDATE"


def members_referenced(ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `ids` are members, each locked FOR KEY SHARE (in id order) until the
    transaction ends, so none of them can be deleted before a reference to it commits."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    with prepared_cursor() as cursor:
        cursor.execute(_REFERENCED_SQL, [wanted])
        return {row[0] for row in cursor.fetchall()}


def manager_named(reference: str, *, excluding: uuid.UUID, lock: bool) -> uuid.UUID | None:
    """The id of the member that `reference` names as a manager (its id, or its userName
    folded as `folded` does), other than `excluding`; None when there is none. `lock` takes it
    FOR KEY SHARE, as `members_referenced` does."""
    with prepared_cursor() as cursor:
        cursor.execute(
            _MANAGER_SQL + (" FOR KEY SHARE" if lock else ""),
            {"by_id": parse_member_id(reference), "reference": reference, "own": excluding},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def members_waiting_for(member_id: uuid.UUID, user_name: str) -> list[uuid.UUID]:
    """Members whose manager was named (by this id, or by this userName as `folded` folds it)
    before such a member existed, locked FOR NO KEY UPDATE in id order."""
    with prepared_cursor() as cursor:
        cursor.execute(
            _WAITING_SQL, {"id": member_id, "id_text": str(member_id), "user_name": user_name}
        )
        return [row[0] for row in cursor.fetchall()]


def reports_of(member_id: uuid.UUID) -> list[uuid.UUID]:
    """The members whose manager is `member_id`, locked FOR NO KEY UPDATE in id order."""
    with prepared_cursor() as cursor:
        cursor.execute(_REPORTS_SQL, [member_id])
        return [row[0] for row in cursor.fetchall()]


def member_count() -> int:
    """The number of members, from the bucket counts (no scan of the members)."""
    return MemberBucket.objects.aggregate(n=Coalesce(Sum("members"), 0))["n"]


def members_page(start_index: int, count: int, *, with_roles: bool) -> MemberPage:
    """The `count` members from 1-based position `start_index` in list order (`seq`), with
    the number of members, and their groups by name when `with_roles`. One query, as cheap at
    position 1,000,000 as at 1."""
    if count <= 0:
        return MemberPage(member_count(), [], {})
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
        return MemberPage(member_count(), [], {})
    return _page_of(fetched, with_roles=with_roles)


def members_after(after_seq: int | None, count: int, *, with_roles: bool) -> MemberPage:
    """The `count` members after `after_seq` in list order (from the first with None), with
    the number of members, their groups when `with_roles`, and `next_after`: the seq the next
    page starts after, None on the last page. One query, as cheap deep in 1M members as at
    the start."""
    if count <= 0:
        return MemberPage(member_count(), [], {})
    with connection.cursor() as cursor:
        cursor.execute(
            _AFTER_SQL,
            {"after": -1 if after_seq is None else after_seq, "count": count, "roles": with_roles},
        )
        fetched = cursor.fetchall()
    if not fetched:
        return MemberPage(member_count(), [], {})
    page = _page_of(fetched[:count], with_roles=with_roles)
    if len(fetched) > count:
        return MemberPage(page.total, page.rows, page.roles, next_after=[fetched[count - 1][-1]])
    return page


def _page_of(fetched: list[tuple[Any, ...]], *, with_roles: bool) -> MemberPage:
    """The rows of `_PAGE_COLUMNS` as a MemberPage."""
    rows = []
    roles: dict[uuid.UUID, list[GroupRef]] = {}
    for _, pk, attributes, manager_id, created_at, updated_at, version, groups, _ in fetched:
        rows.append(
            MemberRow(pk, orjson.loads(attributes), manager_id, created_at, updated_at, version)
        )
        if with_roles:
            roles[pk] = _group_refs(groups or [])
    return MemberPage(fetched[0][0], rows, roles)


# The same array as the page query's, for the member table of an ORM query (never aliased
# there). Raw SQL because the equivalent ArraySubquery cost ~1 ms of query compilation per
# request, more than the filtered query itself takes in the database.
_ROLES_SQL = """ARRAY(
    SELECT r.group_id::text || ' ' || g.display_name
    FROM directory_membership AS r JOIN directory_group AS g ON g.id = r.group_id
    WHERE r.member_id = "directory_member"."id"
    ORDER BY g.display_name
)"""


def _roles_column() -> RawSQL:
    """An annotation for a queryset of members: each member's groups (roles), by display
    name, as "<group id> <display name>" strings (read them with `_group_refs`), so a page of
    members and their roles is one query. A group id as text is always 36 characters."""
    return RawSQL(_ROLES_SQL, (), output_field=ArrayField(CharField()))  # noqa: S611 - constant  # noqa: S611 - constant SQL, no parameters


def _group_refs(values: Iterable[str]) -> list[GroupRef]:
    """What `_roles_column` (or the page query) read, as GroupRefs."""
    return [GroupRef(value[:36], value[37:]) for value in values]


# The reads every identity provider repeats most, compiled once (infra/prepared_query.py):
# GET /Users/<id>, the same under the row lock of a PUT or PATCH, and the userName filter
# sent before creating each user.
def _with_roles(queryset: QuerySet[Member], pk: uuid.UUID) -> QuerySet[Member]:
    return queryset.select_related("manager").annotate(roles=_roles_column()).filter(pk=pk)[:1]


_MEMBER_WITH_ROLES: PreparedQuery[Member] = PreparedQuery(
    lambda pk: _with_roles(Member.objects.all(), pk), samples=(uuid.UUID(int=1),)
)
_MEMBER_LOCKED_WITH_ROLES: PreparedQuery[Member] = PreparedQuery(
    lambda pk: _with_roles(Member.objects.select_for_update(of=("self",), no_key=True), pk),
    samples=(uuid.UUID(int=1),),
)
_MEMBERS_NAMED: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
    lambda user_name: (
        Member.objects.filter(Exact(Lower("user_name"), folded(user_name)))
        .annotate(roles=_roles_column())
        .values_list(
            "id", "attributes", "manager_id", "created_at", "updated_at", "version", "roles"
        )[:1]
    ),
    samples=("<user name>",),
)
