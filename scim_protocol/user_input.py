"""Turn a User body as an IdP sends it (POST, PUT, or the result of a PATCH) into the
canonical resource we store: canonical attribute names, typed values, readOnly and unknown
attributes dropped, company policies applied. Pure: no database.

The canonical resource has core attributes at the top level and extension attributes under
their schema URN; absent attributes are missing, never None. `password` is dropped here and
never stored or echoed.

Optional attributes that directories fill loosely (countries, time zones, languages) are
normalised to one form (scim_protocol/locales.py). A value that cannot be (or an email that
is not an address) is dropped, and an optional text over its length limit is cut to it;
either is reported as a DroppedValue for the caller to record, so a person is never refused
over it; a company in strict mode refuses it instead (400 invalidValue). Required
attributes, identifiers (userName, externalId, the manager's reference), types, the other
limits and the company's policies are errors in both modes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from scim_protocol import locales, values
from scim_protocol.errors import InvalidSyntax, InvalidValue, PayloadTooLarge
from scim_protocol.readings import Reading, Readings, shown
from scim_protocol.schema import (
    BOOLEAN,
    COMPLEX,
    ENTERPRISE_USER,
    READ_ONLY,
    USER,
    WRITE_ONLY,
    Attribute,
    Schema,
    core_unnested,
)

# Limits on one user (docs/security.md, "Limits"). Real profiles from Okta and Entra take a
# few hundred bytes to a few KB; these leave them ample room and bound what one user costs to
# store, and so what a page of users costs to serve.
# Strings that are also kept in an indexed varchar(255) column (matched, sorted, unique):
MAX_INDEXED_LENGTH = 255
INDEXED = frozenset(
    {"userName", "externalId", "displayName", "name.givenName", "name.familyName", "manager.value"}
)
# Any other string: long group-derived titles, addresses, a manager's display name.
MAX_STRING_LENGTH = 4096
# Strings that name someone: refused over their limit, where other texts are cut to it.
IDENTIFYING = frozenset({"userName", "externalId", "manager.value"})
# Values of one multi-valued attribute (emails, phoneNumbers, addresses, roles …).
MAX_VALUES = 100
# The stored resource as compact JSON: the bound on a user that the page size multiplies.
MAX_RESOURCE_BYTES = 32 * 1024

# Always kept whatever the allow-list says: identity providers match users on them.
ALWAYS_KEPT = frozenset({"username", "externalid", "active"})
# A boolean written as a string is read when it can only mean one thing (noted as a Reading):
# Entra sends `active` as "True"/"False" and its validator sends `primary` as a string, and a
# person is not refused for a loosely filled value. Filters stay strict (true / false): a
# filter is the client's own query, and refusing it refuses no one.
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class UserPolicy:
    """A company's SCIM policies, as far as the shape of a user is concerned."""

    username_is_work_email: bool = False
    # Refuse (400) optional values that cannot be normalised instead of dropping them.
    strict: bool = False
    # Canonical paths ("emails", "name", "urn:…:enterprise:2.0:User:department"); empty = all.
    attribute_allowlist: frozenset[str] = field(default_factory=frozenset)

    def keeps(self, schema: Schema, attribute: Attribute) -> bool:
        if not self.attribute_allowlist or attribute.name.lower() in ALWAYS_KEPT:
            return True
        path = attribute.name if schema.id == USER.schema.id else f"{schema.id}:{attribute.name}"
        return path.lower() in self.attribute_allowlist


def policy_from(
    username_is_work_email: bool, allowlist: list[str] | None, *, strict: bool = False
) -> UserPolicy:
    return UserPolicy(
        username_is_work_email=username_is_work_email,
        strict=strict,
        attribute_allowlist=frozenset(
            path.strip().lower() for path in allowlist or [] if path.strip()
        ),
    )


# Characters of a dropped value quoted back in its warning (and in a strict refusal).
MAX_QUOTED = 64


@dataclass(frozen=True)
class DroppedValue:
    """An optional value with no one meaning we could store (left out of the stored user), or
    an optional text over its limit (cut to it): the write succeeds with this warning.
    Secrets never get here (writeOnly attributes are dropped before any value is read);
    `sent` is cut to MAX_QUOTED characters."""

    attribute: str  # as an IdP's mapping names it: 'addresses[type eq "work"].country'
    sent: str
    advice: str  # what to change in the identity provider's mapping
    # Set when the value was not left out but cut to this many characters.
    cut_to: int | None = None

    def as_json(self) -> dict[str, Any]:
        warning = {"attribute": self.attribute, "sent": self.sent, "advice": self.advice}
        return warning if self.cut_to is None else {**warning, "cut_to": self.cut_to}


def quoted(raw: str) -> str:
    """`raw` as a warning quotes it: at most MAX_QUOTED characters."""
    return raw if len(raw) <= MAX_QUOTED else raw[: MAX_QUOTED - 1] + "…"


class _Notes(Readings):
    """What one user's normalisation noted: the values read in the caller's dialect, and the
    optional values it left out or cut (refused instead for a `strict` company)."""

    def __init__(self, *, strict: bool) -> None:
        super().__init__()
        self.strict = strict
        self.dropped: list[DroppedValue] = []


@dataclass(frozen=True)
class NormalizedUser:
    resource: dict[str, Any]
    dropped: tuple[DroppedValue, ...] = ()
    # What was read in the caller's dialect ("False" as false, "United States" as US).
    readings: tuple[Reading, ...] = ()


def normalize_user(
    payload: Any, policy: UserPolicy, *, default_active: bool = True
) -> dict[str, Any]:
    """The canonical resource for `payload` (normalized_user without the warnings)."""
    return normalized_user(payload, policy, default_active=default_active).resource


def normalized_user(
    payload: Any, policy: UserPolicy, *, default_active: bool = True
) -> NormalizedUser:
    """The canonical resource for `payload`, and the optional values dropped from it. A POST
    or PUT without `active` means an active user (`default_active`); after a PATCH that
    removed it, it stays absent (and the user counts as active). Core attributes may also
    arrive nested under the core schema URN, as extension attributes do. Raises InvalidSyntax
    for a body that is not a JSON object, InvalidValue for a missing userName, a value of the
    wrong type, a string over its length limit, an attribute with more than MAX_VALUES values
    or (strict policy only) an optional value that cannot be normalised, and PayloadTooLarge
    for a resource over MAX_RESOURCE_BYTES."""
    if not isinstance(payload, Mapping):
        raise InvalidSyntax("The request body must be a JSON object.")
    resource: dict[str, Any] = {}
    readings = _Notes(strict=policy.strict)
    for key, raw in core_unnested(payload, USER).items():
        _place(resource, key, raw, policy, readings)
    dropped = _finish(resource, policy, readings)
    if default_active:
        resource.setdefault("active", True)
    size = resource_size(resource)
    if size > MAX_RESOURCE_BYTES:
        raise PayloadTooLarge(
            f"The user would take {size:,} bytes stored (as compact JSON); at most "
            f"{MAX_RESOURCE_BYTES:,} are accepted."
        )
    return NormalizedUser(resource, tuple(dropped), readings.all())


def _extension_for(key: str) -> Schema | None:
    schema = USER.schema_by_urn(key)
    if schema is not None:
        return None if schema is USER.schema else schema
    lowered = key.lower()
    # Entra's documentation misspells the URN as "…:enterprise:2.0User"; take it as meant.
    if (
        lowered.startswith("urn:")
        and "enterprise" in lowered
        and lowered.rstrip(":").endswith("user")
    ):
        return USER.schema_by_urn(ENTERPRISE_USER)
    return None


def _place(
    resource: dict[str, Any], key: str, raw: Any, policy: UserPolicy, readings: _Notes
) -> None:
    extension = _extension_for(key)
    if extension is not None:
        if raw is None or raw == "" or raw == []:
            return  # sent empty, as some directories send an extension they do not fill
        if not isinstance(raw, Mapping):
            raise InvalidValue(f"{extension.id} must be an object of its attributes.")
        for sub_key, sub_raw in raw.items():
            attribute = extension.attribute(str(sub_key))
            if attribute is not None:
                if str(sub_key) != attribute.name:
                    readings.note(str(sub_key), str(sub_key), attribute.name)
                _set(resource, extension, attribute, sub_raw, policy, readings)
        return
    resolved = USER.resolve(key)
    if resolved is None or (resolved.schema is None and resolved.attribute.name != "externalId"):
        return  # schemas, id, meta, unknown attributes: not ours to store
    schema = resolved.schema or USER.schema
    if resolved.sub_attribute is not None:
        # A dotted key at the top level ("name.givenName"): treat as a one-key object.
        _set(
            resource,
            schema,
            resolved.attribute,
            {resolved.sub_attribute.name: raw},
            policy,
            readings,
            merge=True,
        )
        return
    if key != resolved.attribute.name:
        # "USERNAME", or the attribute qualified with the core schema's URN.
        readings.note(key, key, resolved.attribute.name)
    _set(resource, schema, resolved.attribute, raw, policy, readings)


def _set(
    resource: dict[str, Any],
    schema: Schema,
    attribute: Attribute,
    raw: Any,
    policy: UserPolicy,
    readings: _Notes,
    *,
    merge: bool = False,
) -> None:
    if attribute.mutability in (READ_ONLY, WRITE_ONLY) or not policy.keeps(schema, attribute):
        return  # groups, password …: accepted and dropped
    value = _coerce(attribute, raw, attribute.name, readings)
    target = resource if schema.id == USER.schema.id else resource.setdefault(schema.id, {})
    if value is None:
        target.pop(attribute.name, None)
    elif merge and isinstance(target.get(attribute.name), dict):
        target[attribute.name] = {**target[attribute.name], **value}
    else:
        target[attribute.name] = value
    if schema.id != USER.schema.id and not target:
        resource.pop(schema.id, None)


def _coerce(attribute: Attribute, raw: Any, label: str, readings: _Notes) -> Any:
    """The typed value of `raw` for `attribute`, or None when it is absent/empty."""
    if raw is None or raw == "":
        return None
    if attribute.name == "manager":
        return _manager(raw, readings)
    if attribute.multi_valued:
        items = raw if isinstance(raw, list) else [raw]
        # Before looking at any value: a list of 240,000 emails is refused at once.
        if len(items) > MAX_VALUES:
            raise InvalidValue(
                f"{label} has {len(items):,} values; at most {MAX_VALUES:,} are accepted."
            )
        coerced = [
            item
            for item in (_coerce_single(attribute, entry, label, readings) for entry in items)
            if item is not None
        ]
        return _one_primary(coerced) or None
    return _coerce_single(attribute, raw, label, readings)


def _coerce_single(attribute: Attribute, raw: Any, label: str, readings: _Notes) -> Any:
    if raw is None or raw == "":
        return None
    if attribute.type == COMPLEX:
        if not isinstance(raw, Mapping):
            if attribute.multi_valued and isinstance(raw, str):
                raw = {"value": raw}  # ["a@b.c"] for emails: take it as the value
            elif attribute.name == "name" and isinstance(raw, str):
                # "name": "Ada Lovelace", from scripts and flat directories: the whole name.
                readings.note(label, shown(raw), "name.formatted")
                raw = {"formatted": raw}
            else:
                raise InvalidValue(f"{label} must be an object.")
        out: dict[str, Any] = {}
        for key, sub_raw in raw.items():
            sub = attribute.sub(str(key))
            if sub is None or sub.mutability == READ_ONLY:
                continue
            sub_value = _coerce_single(sub, sub_raw, f"{label}.{sub.name}", readings)
            if sub_value is not None:
                out[sub.name] = sub_value
        return out or None
    if attribute.type == BOOLEAN:
        value = _boolean(raw, label)
        if not isinstance(raw, bool):
            readings.note(label, shown(raw), shown(value))
        return value
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise InvalidValue(f"{label} must be a string.")
    text = _bounded(str(raw), label, readings)
    if not isinstance(raw, str):
        readings.note(label, shown(raw), shown(text))
    return text


def _bounded(text: str, label: str, readings: _Notes) -> str:
    """`text` within its limit: an identifier over it, or any text for a strict company, is
    refused; another text is cut to it, with a warning."""
    limit = MAX_INDEXED_LENGTH if label in INDEXED else MAX_STRING_LENGTH
    if len(text) <= limit or label in IDENTIFYING or readings.strict:
        return values.text_within(text, label, limit)
    readings.dropped.append(
        DroppedValue(
            label,
            quoted(text),
            f"Only {limit:,} characters are kept. Map a shorter value to {label} in your "
            "identity provider to keep all of it.",
            cut_to=limit,
        )
    )
    return text[:limit]


def _boolean(raw: Any, label: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return reads_as_true(raw)
    raise InvalidValue(f"{label} must be true or false.")


def reads_as_true(raw: Any) -> bool:
    """Whether a boolean attribute's value is read as true (Entra sends "True")."""
    return raw is True or (isinstance(raw, str) and raw.strip().lower() in _TRUE)


def _manager(raw: Any, readings: _Notes) -> dict[str, Any] | None:
    """Entra sends the manager as [{"value": id}], as a raw id string, or "" to remove it;
    others send {"value": id or userName, "displayName": …}."""
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if raw is None or raw == "":
        return None
    if isinstance(raw, str | int):
        return {"value": _bounded(str(raw), "manager.value", readings)}
    if not isinstance(raw, Mapping):
        raise InvalidValue("manager must be an object with a value, or the manager's id.")
    value = raw.get("value")
    if value is None or value == "":
        return None
    if not isinstance(value, str | int):
        raise InvalidValue("manager.value must be a string.")
    manager = {"value": _bounded(str(value), "manager.value", readings)}
    # Kept as the IdP sent it (Okta maps the manager's name); never computed by us, so what an
    # IdP writes is what it reads back.
    display_name = raw.get("displayName")
    if isinstance(display_name, str) and display_name:
        manager["displayName"] = _bounded(display_name, "manager.displayName", readings)
    return manager


def _one_primary(items: list[Any]) -> list[Any]:
    """At most one value may be primary (RFC 7643 §2.4): the first one marked wins."""
    seen = False
    for item in items:
        if isinstance(item, dict) and item.get("primary") is True:
            if seen:
                item["primary"] = False
            seen = True
    return items


@dataclass(frozen=True)
class _Loose:
    """An optional attribute whose values have one meaning in many spellings."""

    normalise: Callable[[str], str | None]
    expected: str  # what a strict company accepts, for the 400
    advice: str  # what to map instead, for the warning


_LANGUAGE = _Loose(
    locales.language_tag,
    'a language tag based on an ISO 639-1 code, such as "en" or "en-US"',
    'Not a language we recognise, so it was not stored. Map a language tag such as "en-US" '
    '(or the language\'s name, such as "English") to {attribute} in your identity provider.',
)
_TIME_ZONE = _Loose(
    locales.iana_time_zone,
    'an IANA time zone such as "America/Los_Angeles"',
    "Not an IANA or Windows time zone, so it was not stored. Map an IANA time zone such as "
    '"America/Los_Angeles" to {attribute} in your identity provider.',
)
_COUNTRY = _Loose(
    locales.country_alpha_2,
    'an ISO 3166-1 alpha-2 code such as "US" or "DE"',
    'Not a country we recognise, so it was not stored. Map an ISO 3166-1 code such as "US" '
    "(or the country's English name) to {attribute} in your identity provider.",
)


def _loose(
    loose: _Loose,
    raw: str,
    attribute: str,
    policy: UserPolicy,
    dropped: list[DroppedValue],
    readings: Readings,
) -> str | None:
    """The normalised value (noted when it differs), or None after recording it as dropped
    (refused when strict)."""
    normalised = loose.normalise(raw)
    if normalised is not None:
        readings.note(attribute, raw, normalised)
        return normalised
    sent = quoted(raw)
    if policy.strict:
        raise InvalidValue(f'{attribute} must be {loose.expected}; got "{sent}".')
    dropped.append(DroppedValue(attribute, sent, loose.advice.format(attribute=attribute)))
    return None


def _finish(resource: dict[str, Any], policy: UserPolicy, readings: _Notes) -> list[DroppedValue]:
    user_name = resource.get("userName")
    if not isinstance(user_name, str) or not values.trimmed(user_name):
        raise InvalidValue("userName is required.")
    resource["userName"] = values.trimmed(user_name)
    dropped = readings.dropped
    _finish_emails(resource, policy, dropped, readings)
    for name, loose in (
        ("preferredLanguage", _LANGUAGE),
        ("locale", _LANGUAGE),
        ("timezone", _TIME_ZONE),
    ):
        if name in resource:
            normalised = _loose(loose, resource[name], name, policy, dropped, readings)
            if normalised is None:
                del resource[name]
            else:
                resource[name] = normalised
    _finish_addresses(resource, policy, dropped, readings)
    if policy.username_is_work_email:
        work = primary_work_email(resource)
        if work is None or work.lower() != resource["userName"].lower():
            raise InvalidValue(
                "This company requires userName to equal the user's primary work email; "
                f'userName is "{resource["userName"]}" and the primary work email is '
                f'"{work or "missing"}".'
            )
    return dropped


def _finish_emails(
    resource: dict[str, Any], policy: UserPolicy, dropped: list[DroppedValue], readings: _Notes
) -> None:
    """Email values without the white space around them; one that is not an address is left
    out with a warning (its type and primary flag with it)."""
    if "emails" not in resource:
        return
    kept = []
    for email in resource["emails"]:
        if "value" in email:
            sent = email["value"]
            address = values.email_address(sent)
            if address is None:
                if policy.strict:
                    raise InvalidValue(
                        f'emails.value must be an email address; got "{quoted(sent)}".'
                    )
                dropped.append(
                    DroppedValue(
                        "emails.value",
                        quoted(sent),
                        "Not an email address, so it was not stored. Map the user's email "
                        "address to emails in your identity provider.",
                    )
                )
                continue
            readings.note("emails.value", shown(sent), shown(address))
            email["value"] = address
        kept.append(email)
    _keep(resource, "emails", kept)


def _finish_addresses(
    resource: dict[str, Any], policy: UserPolicy, dropped: list[DroppedValue], readings: _Notes
) -> None:
    if "addresses" not in resource:
        return
    kept = []
    for address in resource["addresses"]:
        if "country" in address:
            kind = address.get("type")
            attribute = (
                f'addresses[type eq "{kind}"].country'
                if isinstance(kind, str) and kind
                else "addresses.country"
            )
            country = _loose(_COUNTRY, address["country"], attribute, policy, dropped, readings)
            if country is None:
                del address["country"]
                # An address that held nothing but the dropped country says nothing now.
                if not set(address) - {"type", "primary"}:
                    continue
            else:
                address["country"] = country
        kept.append(address)
    _keep(resource, "addresses", kept)


def _keep(resource: dict[str, Any], name: str, kept: list[Any]) -> None:
    """The values of `name` that are left, or no `name` at all when none is."""
    if kept:
        resource[name] = kept
    else:
        del resource[name]


def resource_size(resource: Mapping[str, Any]) -> int:
    """Bytes of `resource` as compact JSON: what MAX_RESOURCE_BYTES limits."""
    return len(orjson.dumps(resource))


def primary_work_email(resource: Mapping[str, Any]) -> str | None:
    """The primary work email: the work email marked primary, else the first work email, else
    the primary email, else None."""
    emails = [e for e in resource.get("emails", []) if isinstance(e, dict) and e.get("value")]
    work = [e for e in emails if str(e.get("type", "")).lower() == "work"]
    for candidates in (
        [e for e in work if e.get("primary") is True],
        work,
        [e for e in emails if e.get("primary") is True],
    ):
        if candidates:
            return str(candidates[0]["value"])
    return None


def primary_email(resource: Mapping[str, Any]) -> str | None:
    """The email shown and matched first: the primary one, else the first one."""
    emails = [e for e in resource.get("emails", []) if isinstance(e, dict) and e.get("value")]
    primary = [e for e in emails if e.get("primary") is True]
    chosen = primary or emails
    return str(chosen[0]["value"]) if chosen else None
