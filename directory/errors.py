"""The directory's own errors, each with a stable `code` callers can match on.

They subclass the SCIM protocol's NotFound for now, so the SCIM API's exception handler and the
provisioning log keep answering and recording them as SCIM 404s unchanged; the portal maps them
to its own 404 page."""

from __future__ import annotations

from typing import ClassVar

from scim_protocol.errors import NotFound


class MemberNotFound(NotFound):
    """No member with this id in the current company (or the id is not a UUID)."""

    code: ClassVar[str] = "member_not_found"


class GroupNotFound(NotFound):
    """No group with this id in the current company (or the id is not a UUID)."""

    code: ClassVar[str] = "group_not_found"
