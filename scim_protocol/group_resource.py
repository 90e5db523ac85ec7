"""A group as a SCIM Group resource."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from scim_protocol.schema import CORE_GROUP
from scim_protocol.user_resource import etag, scim_datetime

Ref = tuple[str, str]  # (id, display): a group's member, or a user's group


class StoredGroup(Protocol):
    """What a Group resource is built from (a `directory.models.Group`); read-only, so the
    model's fields satisfy it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def display_name(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def version(self) -> int: ...


def group_to_scim(
    group: StoredGroup, *, groups_url: str, users_url: str, members: Sequence[Ref] | None
) -> dict[str, Any]:
    """The Group resource; `members` is [(user id, display)], or None when not loaded (the
    client excluded them)."""
    resource: dict[str, Any] = {"schemas": [CORE_GROUP], "id": str(group.id)}
    if group.external_id:
        resource["externalId"] = group.external_id
    resource["displayName"] = group.display_name
    if members is not None:
        resource["members"] = [
            {
                "value": member_id,
                "$ref": f"{users_url}/{member_id}",
                "display": display,
                "type": "User",
            }
            for member_id, display in members
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": scim_datetime(group.created_at),
        "lastModified": scim_datetime(group.updated_at),
        "location": f"{groups_url}/{group.id}",
        "version": etag(group.version),
    }
    return resource


def user_groups(groups: Sequence[Ref], groups_url: str) -> list[dict[str, Any]]:
    """The read-only `groups` attribute of a User: its roles."""
    return [
        {"value": group_id, "$ref": f"{groups_url}/{group_id}", "display": name, "type": "direct"}
        for group_id, name in groups
    ]
