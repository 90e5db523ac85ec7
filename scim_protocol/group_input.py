"""Turn a Group body (POST, PUT, or a PATCH result) into what we store: displayName,
externalId and the member ids. Pure: whether the ids exist is the service's question."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_protocol import values
from scim_protocol.errors import InvalidSyntax, InvalidValue
from scim_protocol.schema import GROUP, core_unnested

# displayName and externalId are unique varchar(255) columns.
MAX_NAME_LENGTH = 255
# Members in one POST, PUT or PATCH operation. Member lists are legitimately long (a PUT
# carries the whole group; Okta and Entra push membership in batches), so this is far above
# any batch; what bounds a request is the body size limit and the PATCH operation count.
MAX_MEMBERS_PER_REQUEST = 100_000


@dataclass(frozen=True)
class GroupInput:
    display_name: str
    external_id: str | None
    # (user id, display as sent or ""), in the order given, without duplicate ids.
    members: tuple[tuple[uuid.UUID, str], ...]


def _key(payload: Mapping[str, Any], name: str) -> Any:
    return next((value for key, value in payload.items() if str(key).lower() == name.lower()), None)


def normalize_group(payload: Any) -> GroupInput:
    """Core attributes may also arrive nested under the Group schema's URN. Raises
    InvalidSyntax for a body that is not an object, InvalidValue for a displayName missing,
    blank or not a string, a displayName or externalId over MAX_NAME_LENGTH, a malformed
    members list, more than MAX_MEMBERS_PER_REQUEST members, a member value that is not a user
    id or a member given by `$ref` alone."""
    if not isinstance(payload, Mapping):
        raise InvalidSyntax("The request body must be a JSON object.")
    payload = core_unnested(payload, GROUP)
    display_name = _key(payload, "displayName")
    if display_name is not None and not isinstance(display_name, str):
        raise InvalidValue("displayName must be a string.")
    if display_name is None or not display_name.strip():
        raise InvalidValue("displayName is required.")
    external_id = _key(payload, "externalId")
    if external_id is not None and (
        isinstance(external_id, bool) or not isinstance(external_id, str | int)
    ):
        raise InvalidValue("externalId must be a string.")
    for name, value in (
        ("displayName", display_name.strip()),
        ("externalId", str(external_id or "")),
    ):
        values.text_within(value, name, MAX_NAME_LENGTH)
    return GroupInput(
        display_name=display_name.strip(),
        external_id=str(external_id) if external_id not in (None, "") else None,
        members=members_of(_key(payload, "members")),
    )


def members_of(raw: Any) -> tuple[tuple[uuid.UUID, str], ...]:
    """The (user id, display) pairs of a members list ([{"value": id, …}, …] or bare ids).
    Raises InvalidValue as normalize_group says of members."""
    if raw is None or raw == "":
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > MAX_MEMBERS_PER_REQUEST:
        raise InvalidValue(
            f"members has {len(items):,} values; at most {MAX_MEMBERS_PER_REQUEST:,} are "
            "accepted in one request: send them in several."
        )
    seen: dict[uuid.UUID, str] = {}
    for item in items:
        value = _key(item, "value") if isinstance(item, Mapping) else item
        display = _key(item, "display") if isinstance(item, Mapping) else None
        if value in (None, "") and isinstance(item, Mapping) and _key(item, "$ref"):
            # RFC 7643 §4.2: `value` identifies the member, `$ref` is only its URI. Adding
            # nothing with a 200 would leave the client believing the member was added.
            raise InvalidValue(
                'members[].value is required: the id of the user (a "$ref" alone is not read).'
            )
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise InvalidValue("members[].value must be the id of a user.")
        try:
            member_id = uuid.UUID(value)
        except ValueError:
            raise InvalidValue(f'"{value}" is not the id of a user of this company.') from None
        seen[member_id] = str(display)[:255] if isinstance(display, str) else ""
    return tuple(seen.items())
