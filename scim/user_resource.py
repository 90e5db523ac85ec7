"""A member as a SCIM User resource (what GET returns)."""

from __future__ import annotations

import copy
from typing import Any

from directory.models import Member
from scim.schema import CORE_USER, ENTERPRISE_USER


def scim_datetime(value: Any) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def user_to_scim(
    member: Member, *, users_url: str, groups: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The full User resource of `member`; `users_url` is the absolute …/scim/v2/Users URL."""
    attributes = copy.deepcopy(member.attributes)
    extension = attributes.pop(ENTERPRISE_USER, None)
    if member.manager_id is not None and extension is not None:
        sent = extension.get("manager", {})
        extension["manager"] = {
            "value": str(member.manager_id),
            "$ref": f"{users_url}/{member.manager_id}",
            **({"displayName": sent["displayName"]} if "displayName" in sent else {}),
        }
    resource: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE_USER] if extension else [CORE_USER],
        "id": str(member.id),
        **attributes,
    }
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
