"""Validation of a company's SCIM policies."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from scim_protocol.schema import USER


def validate_attribute_allowlist(value: Any) -> None:
    """An allow-list is a list of User attribute names: core names ("emails", "name") or
    extension attributes with their URN ("urn:…:enterprise:2.0:User:department")."""
    if value in (None, ""):
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('Give a list of attribute names, e.g. ["name", "emails"].')
    unknown = [
        item
        for item in value
        if (resolved := USER.resolve(item.strip())) is None or resolved.sub_attribute is not None
    ]
    if unknown:
        raise ValidationError(
            "Unknown SCIM User attribute(s): %(names)s. Use top-level names such as "
            '"name" or "emails", or "urn:…:enterprise:2.0:User:department".',
            params={"names": ", ".join(unknown)},
        )
