"""A member as a SCIM User resource (what GET returns)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

from scim_protocol.schema import CORE_USER, ENTERPRISE_USER


class StoredUser(Protocol):
    """What a User resource is built from: a Member, or a row read for a list page
    (directory.selectors.MemberRow)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def attributes(self) -> dict[str, Any]: ...
    @property
    def manager_id(self) -> uuid.UUID | None: ...
    @property
    def created_at(self) -> dt.datetime | str: ...
    @property
    def updated_at(self) -> dt.datetime | str: ...
    @property
    def version(self) -> int: ...


def scim_datetime(value: Any) -> str:
    """An aware UTC datetime as SCIM writes it (milliseconds, truncated, "Z"); a string is
    taken as already written so (PostgreSQL formats the timestamps of list pages)."""
    if isinstance(value, str):
        return value
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def etag_names(header: str, version: int) -> bool:
    """Whether an If-Match or If-None-Match header names `version`: `*` (any version of a
    resource that exists), or its tag compared weakly (RFC 7232 §2.3.2: `"1"` and `W/"1"`
    are the same), quotes optional as clients send them."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/").strip('"') == str(version):
            return True
    return False


def user_to_scim(
    member: StoredUser, *, users_url: str, groups: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The full User resource of `member`; `users_url` is the absolute …/scim/v2/Users URL.
    The resource shares nested values with `member.attributes` (no deep copy: a page of 100
    users would spend more time copying than everything else); neither is changed here."""
    attributes = member.attributes
    extension = attributes.get(ENTERPRISE_USER)
    if member.manager_id is not None and extension is not None:
        sent = extension.get("manager", {})
        extension = {
            **extension,
            "manager": {
                "value": str(member.manager_id),
                "$ref": f"{users_url}/{member.manager_id}",
                **({"displayName": sent["displayName"]} if "displayName" in sent else {}),
            },
        }
    resource: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE_USER] if extension else [CORE_USER],
        "id": str(member.id),
    }
    resource.update(item for item in attributes.items() if item[0] != ENTERPRISE_USER)
    if groups:
        resource["groups"] = groups
    if extension:
        resource[ENTERPRISE_USER] = extension
    resource["meta"] = {
        "resourceType": "User",
        "created": scim_datetime(member.created_at),
        "lastModified": scim_datetime(member.updated_at),
        "location": f"{users_url}/{member.id}",
        "version": etag(member.version),
    }
    return resource
