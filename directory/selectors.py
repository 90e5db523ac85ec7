"""Reads about members."""

from __future__ import annotations

import uuid

from django.db import connection
from django.db.models import QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from directory.models import MEMBER_BUCKET_SIZE, Member, MemberBucket
from scim.errors import NotFound

# The member count, and the bucket holding the member at a 1-based position with the number of
# members in the buckets before it: a running sum over MemberBucket (≈ 1,000 rows at 1M
# members), never a scan of the members.
_POSITION_SQL = """
SELECT total.n, found.bucket, found.upto - found.members
FROM (SELECT coalesce(sum(members), 0) AS n FROM directory_memberbucket) AS total
LEFT JOIN LATERAL (
    SELECT bucket, members, upto
    FROM (
        SELECT bucket, members, sum(members) OVER (ORDER BY bucket) AS upto
        FROM directory_memberbucket
    ) AS running
    WHERE upto >= %s
    ORDER BY bucket
    LIMIT 1
) AS found ON true
"""


def parse_member_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError):
        return None


def member_get(member_id: str, *, for_update: bool = False) -> Member:
    """The member with this id in the current company. Raises NotFound (also for ids that are
    not UUIDs: to a client they are simply unknown)."""
    parsed = parse_member_id(member_id)
    if parsed is None:
        raise NotFound(f"No user with id {member_id!r}.")
    queryset = Member.objects.select_related("manager")
    if for_update:
        queryset = Member.objects.select_for_update(of=("self",)).select_related("manager")
    try:
        return queryset.get(pk=parsed)
    except Member.DoesNotExist:
        raise NotFound(f"No user with id {member_id!r}.") from None


def member_count() -> int:
    """The number of members, from the bucket counts (no scan of the members)."""
    return MemberBucket.objects.aggregate(n=Coalesce(Sum("members"), 0))["n"]


def members_at(start_index: int, count: int) -> tuple[int, QuerySet[Member]]:
    """(the number of members, the `count` members from 1-based position `start_index` in
    list order, `seq`). One query now, for the count and the position; the queryset is lazy
    and reads at most MEMBER_BUCKET_SIZE + `count` entries of the seq index however deep the
    position (an OFFSET below MEMBER_BUCKET_SIZE inside the bucket, no OFFSET over the table)."""
    with connection.cursor() as cursor:
        cursor.execute(_POSITION_SQL, [start_index])
        total, bucket, before = cursor.fetchone()
    if bucket is None or count <= 0:
        return total, Member.objects.none()
    skip = start_index - 1 - before
    first = (
        Member.objects.filter(seq__gte=bucket * MEMBER_BUCKET_SIZE)
        .order_by("seq")
        .values("seq")[skip : skip + 1]
    )
    return total, Member.objects.filter(seq__gte=Subquery(first)).order_by("seq")[:count]
