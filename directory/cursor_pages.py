"""Cursor-paged reads of a company's directory, for the vendor API: each page starts after
the last row the caller saw (a member's `seq`, a group's id), so a page costs the same at any
depth and a row created meanwhile never shifts the next page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from directory.models import Group, Member
from directory.selectors import GroupRef, MemberRow, _group_refs, _roles_column


@dataclass(frozen=True)
class MemberCursorPage:
    """Members in `seq` order with their groups; `seqs[i]` is the seq of `rows[i]` (the
    cursor to continue after it)."""

    rows: list[MemberRow]
    roles: dict[uuid.UUID, list[GroupRef]]
    seqs: list[int]


def members_after(after_seq: int, limit: int) -> MemberCursorPage:
    """Up to `limit` members with seq > `after_seq`, with their groups: one query over the
    unique index on seq."""
    fetched = (
        Member.objects.filter(seq__gt=after_seq)
        .order_by("seq")
        .annotate(roles=_roles_column())
        .values_list(*MemberRow._fields, "seq", "roles")[:limit]
    )
    rows: list[MemberRow] = []
    roles: dict[uuid.UUID, list[GroupRef]] = {}
    seqs: list[int] = []
    for *fields, seq, found in fetched:
        row = MemberRow._make(fields)
        rows.append(row)
        roles[row.id] = _group_refs(found)
        seqs.append(seq)
    return MemberCursorPage(rows, roles, seqs)


def groups_after(after_id: uuid.UUID | None, limit: int) -> list[Group]:
    """Up to `limit` groups with id > `after_id` (all from the first when None), in id order:
    one query over the primary key."""
    queryset = Group.objects.order_by("id")
    if after_id is not None:
        queryset = queryset.filter(id__gt=after_id)
    return list(queryset[:limit])
