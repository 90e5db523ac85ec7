"""Reads about members."""

from __future__ import annotations

import uuid

from directory.models import Member
from scim.errors import NotFound


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
