"""SCIM schema definitions (RFC 7643 §4, §7): attributes, their types and characteristics.

Plain data, no Django. Everything that needs to know what an attribute is (validation, the
filter translator, the PATCH engine, projection with `attributes`/`excludedAttributes`, the
/Schemas endpoint) reads it from here. Attribute names are case-insensitive (RFC 7643 §2.1):
look them up with `Attribute.sub()` / `Schema.attribute()` / `ResourceType.resolve()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scim_protocol.vocabularies import IANA_TIME_ZONES, ISO_639_1_LANGUAGES, ISO_3166_ALPHA_2

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

STRING, BOOLEAN, DECIMAL, INTEGER = "string", "boolean", "decimal", "integer"
DATETIME, REFERENCE, COMPLEX, BINARY = "dateTime", "reference", "complex", "binary"

READ_ONLY, READ_WRITE, IMMUTABLE, WRITE_ONLY = "readOnly", "readWrite", "immutable", "writeOnly"
ALWAYS, NEVER, DEFAULT, REQUEST = "always", "never", "default", "request"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str = STRING
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    description: str = ""
    # Every request looks names up, several times per attribute it carries: a dict by
    # lower-cased name, built once, instead of lower-casing each sub-attribute's name per call.
    _subs: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_subs", _by_lower_name(self.sub_attributes))

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called `name` (any case), or None."""
        return self._subs.get(name.lower())

    @property
    def is_complex(self) -> bool:
        return self.type == COMPLEX

    @property
    def is_secret(self) -> bool:
        """A value only a client writes and no one reads back (a password): never returned or
        writeOnly (RFC 7643 §7). Such values are stored nowhere, not even in a failure log."""
        return self.returned == NEVER or self.mutability == WRITE_ONLY

    def to_scim(self) -> dict[str, Any]:
        """The attribute as RFC 7643 §7 describes it (for /Schemas)."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
            "mutability": self.mutability,
            "returned": self.returned,
        }
        if self.type in (STRING, REFERENCE, BINARY):
            data["caseExact"] = self.case_exact
            data["uniqueness"] = self.uniqueness
        if self.canonical_values:
            data["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            data["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            data["subAttributes"] = [a.to_scim() for a in self.sub_attributes]
        return data


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _attributes: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_attributes", _by_lower_name(self.attributes))

    def attribute(self, name: str) -> Attribute | None:
        """The attribute called `name` (any case), or None."""
        return self._attributes.get(name.lower())

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_scim() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


def _by_lower_name(attributes: tuple[Attribute, ...]) -> dict[str, Attribute]:
    """`attributes` by lower-cased name; the first of a name wins, as a scan in order would."""
    found: dict[str, Attribute] = {}
    for attribute in attributes:
        found.setdefault(attribute.name.lower(), attribute)
    return found


def _multi(
    name: str, *, types: tuple[str, ...], extra: tuple[Attribute, ...] = (), **kwargs: Any
) -> Attribute:
    """A multi-valued complex attribute with the usual value/display/type/primary sub-attributes."""
    subs = (
        Attribute("value", **kwargs),
        Attribute("display", mutability=READ_WRITE),
        Attribute("type", canonical_values=types),
        Attribute("primary", type=BOOLEAN),
        *extra,
    )
    return Attribute(name, type=COMPLEX, multi_valued=True, sub_attributes=subs)


# --- Common attributes (RFC 7643 §3.1): every resource has them ------------------------------

ID = Attribute("id", case_exact=True, mutability=READ_ONLY, returned=ALWAYS, uniqueness="server")
EXTERNAL_ID = Attribute("externalId", case_exact=True)
META = Attribute(
    "meta",
    type=COMPLEX,
    mutability=READ_ONLY,
    sub_attributes=(
        Attribute("resourceType", case_exact=True, mutability=READ_ONLY),
        Attribute("created", type=DATETIME, mutability=READ_ONLY),
        Attribute("lastModified", type=DATETIME, mutability=READ_ONLY),
        Attribute(
            "location",
            type=REFERENCE,
            case_exact=True,
            mutability=READ_ONLY,
            reference_types=("uri",),
        ),
        Attribute("version", case_exact=True, mutability=READ_ONLY),
    ),
)
COMMON_ATTRIBUTES = (ID, EXTERNAL_ID, META)

# --- User (RFC 7643 §4.1) ---------------------------------------------------------------------

USER_SCHEMA = Schema(
    id=CORE_USER,
    name="User",
    description="User Account",
    attributes=(
        Attribute("userName", required=True, uniqueness="server"),
        Attribute(
            "name",
            type=COMPLEX,
            sub_attributes=(
                Attribute("formatted"),
                Attribute("familyName"),
                Attribute("givenName"),
                Attribute("middleName"),
                Attribute("honorificPrefix"),
                Attribute("honorificSuffix"),
            ),
        ),
        Attribute("displayName"),
        Attribute("nickName"),
        Attribute("profileUrl", type=REFERENCE, reference_types=("external",)),
        Attribute("title"),
        Attribute("userType"),
        Attribute("preferredLanguage", canonical_values=ISO_639_1_LANGUAGES),
        Attribute("locale", canonical_values=ISO_639_1_LANGUAGES),
        Attribute("timezone", canonical_values=IANA_TIME_ZONES),
        Attribute("active", type=BOOLEAN),
        Attribute("password", mutability=WRITE_ONLY, returned=NEVER),
        _multi("emails", types=("work", "home", "other")),
        _multi("phoneNumbers", types=("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        _multi(
            "photos", types=("photo", "thumbnail"), type=REFERENCE, reference_types=("external",)
        ),
        Attribute(
            "addresses",
            type=COMPLEX,
            multi_valued=True,
            sub_attributes=(
                Attribute("formatted"),
                Attribute("streetAddress"),
                Attribute("locality"),
                Attribute("region"),
                Attribute("postalCode"),
                Attribute("country", canonical_values=ISO_3166_ALPHA_2),
                Attribute("type", canonical_values=("work", "home", "other")),
                Attribute("primary", type=BOOLEAN),
            ),
        ),
        Attribute(
            "groups",
            type=COMPLEX,
            multi_valued=True,
            mutability=READ_ONLY,
            sub_attributes=(
                Attribute("value", mutability=READ_ONLY),
                Attribute(
                    "$ref", type=REFERENCE, mutability=READ_ONLY, reference_types=("User", "Group")
                ),
                Attribute("display", mutability=READ_ONLY),
                Attribute("type", mutability=READ_ONLY, canonical_values=("direct", "indirect")),
            ),
        ),
        _multi("entitlements", types=()),
        _multi("roles", types=()),
        _multi("x509Certificates", types=(), type=BINARY),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    id=ENTERPRISE_USER,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        Attribute("employeeNumber"),
        Attribute("costCenter"),
        Attribute("organization"),
        Attribute("division"),
        Attribute("department"),
        Attribute(
            "manager",
            type=COMPLEX,
            sub_attributes=(
                Attribute("value"),
                Attribute("$ref", type=REFERENCE, reference_types=("User",)),
                # readOnly in RFC 7643; here it is stored as the IdP sends it (Okta maps the
                # manager's name), so what a client writes is what it reads back.
                Attribute("displayName"),
            ),
        ),
    ),
)

# --- Group (RFC 7643 §4.2) --------------------------------------------------------------------

GROUP_SCHEMA = Schema(
    id=CORE_GROUP,
    name="Group",
    description="Group",
    attributes=(
        Attribute("displayName", required=True, uniqueness="server"),
        Attribute(
            "members",
            type=COMPLEX,
            multi_valued=True,
            sub_attributes=(
                Attribute("value", mutability=IMMUTABLE),
                Attribute(
                    "$ref", type=REFERENCE, mutability=IMMUTABLE, reference_types=("User", "Group")
                ),
                # As the IdP sends it (Okta sends the member's userName); ours when absent.
                Attribute("display"),
                Attribute("type", mutability=IMMUTABLE, canonical_values=("User", "Group")),
            ),
        ),
    ),
)


# --- Resource types and path resolution -------------------------------------------------------


@dataclass(frozen=True)
class ResolvedAttribute:
    """Where a path like `name.givenName` or `urn:…:enterprise:2.0:User:manager.value` points."""

    schema: Schema | None  # None for the common attributes (id, externalId, meta)
    attribute: Attribute
    sub_attribute: Attribute | None = None

    @property
    def is_extension(self) -> bool:
        return self.schema is not None and self.schema.id not in (CORE_USER, CORE_GROUP)

    @property
    def target(self) -> Attribute:
        return self.sub_attribute or self.attribute

    @property
    def dotted(self) -> str:
        """Canonical `attr` or `attr.sub` (without URN)."""
        return self.attribute.name + (f".{self.sub_attribute.name}" if self.sub_attribute else "")


# Distinct paths whose resolution a resource type remembers. Clients send a few dozen (the
# attributes they map, in their own case, maybe URN-qualified); the bound is for those that
# send arbitrary keys, which then cost a lookup each, as they would without the memo.
MAX_REMEMBERED_PATHS = 1024


@dataclass(frozen=True)
class ResourceType:
    name: str
    endpoint: str
    schema: Schema
    extensions: tuple[Schema, ...] = field(default=())
    description: str = ""
    # Lookups built once from the (static) schemas, and resolve()'s memo: every request
    # resolves each attribute it carries, several times over (validation, the provisioning
    # log's redaction, PATCH paths, projection).
    _by_urn: dict[str, Schema] = field(init=False, repr=False, compare=False)
    _urn_prefixes: tuple[tuple[str, Schema], ...] = field(init=False, repr=False, compare=False)
    _unqualified: dict[str, tuple[Schema | None, Attribute]] = field(
        init=False, repr=False, compare=False
    )
    _resolved: dict[str, ResolvedAttribute | None] = field(init=False, repr=False, compare=False)
    _common: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_urn: dict[str, Schema] = {}
        for schema in self.schemas:
            by_urn.setdefault(schema.id.lower(), schema)
        # Longest URN first: one schema's URN may start another's.
        prefixes = tuple(
            (schema.id.lower() + ":", schema)
            for schema in sorted(self.schemas, key=lambda s: len(s.id), reverse=True)
        )
        # An unqualified name is a common attribute, else the first schema's that has it: the
        # core schema's, then (IdPs also send extension attributes unqualified: Entra's path
        # "manager") an extension's.
        common = {attribute.name.lower(): attribute for attribute in COMMON_ATTRIBUTES}
        unqualified: dict[str, tuple[Schema | None, Attribute]] = {
            name: (None, attribute) for name, attribute in common.items()
        }
        for schema in self.schemas:
            for attribute in schema.attributes:
                unqualified.setdefault(attribute.name.lower(), (schema, attribute))
        object.__setattr__(self, "_by_urn", by_urn)
        object.__setattr__(self, "_urn_prefixes", prefixes)
        object.__setattr__(self, "_unqualified", unqualified)
        object.__setattr__(self, "_common", common)
        object.__setattr__(self, "_resolved", {})

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *self.extensions)

    def schema_by_urn(self, urn: str) -> Schema | None:
        """The schema (core or extension) whose URN is `urn` (any case), or None."""
        return self._by_urn.get(urn.lower())

    def resolve(self, path: str) -> ResolvedAttribute | None:
        """Resolve `attr`, `attr.sub`, `urn:…:attr` or `urn:…:attr.sub` (any case), or None."""
        try:
            return self._resolved[path]
        except KeyError:
            pass
        resolved = self._resolve(path)
        if len(self._resolved) >= MAX_REMEMBERED_PATHS:
            self._resolved.clear()
        self._resolved[path] = resolved
        return resolved

    def _resolve(self, path: str) -> ResolvedAttribute | None:
        lowered = path.lower()
        for prefix, schema in self._urn_prefixes:
            if lowered.startswith(prefix):
                attr_name, _, sub_name = path[len(prefix) :].partition(".")
                attribute = schema.attribute(attr_name)
                if attribute is not None:
                    return self._with_sub(schema, attribute, sub_name)
                # RFC 7643 §3.1: id, externalId and meta belong to every resource's base
                # schema, so `urn:…:core:2.0:User:externalId` names them too.
                common = self._common.get(attr_name.lower()) if schema is self.schema else None
                return None if common is None else self._with_sub(None, common, sub_name)
        attr_name, _, sub_name = path.partition(".")
        found = self._unqualified.get(attr_name.lower())
        if found is None:
            return None
        return self._with_sub(found[0], found[1], sub_name)

    @staticmethod
    def _with_sub(
        schema: Schema | None, attribute: Attribute, sub_name: str
    ) -> ResolvedAttribute | None:
        if not sub_name:
            return ResolvedAttribute(schema, attribute)
        sub = attribute.sub(sub_name)
        if sub is None:
            return None
        return ResolvedAttribute(schema, attribute, sub)

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description or self.name,
            "schema": self.schema.id,
            "schemaExtensions": [{"schema": s.id, "required": False} for s in self.extensions],
            "meta": {"resourceType": "ResourceType", "location": location},
        }


USER = ResourceType("User", "/Users", USER_SCHEMA, (ENTERPRISE_USER_SCHEMA,), "User Account")
GROUP = ResourceType("Group", "/Groups", GROUP_SCHEMA, (), "Group")
RESOURCE_TYPES = (USER, GROUP)
SCHEMAS = (USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA)


def core_unnested(payload: Mapping[Any, Any], resource_type: ResourceType) -> dict[str, Any]:
    """A resource body with an object under its core schema's URN spread out at the top level:
    some clients send `{"urn:…:core:2.0:User": {"userName": …}}`, nesting core attributes as
    extension attributes are. What is also given at the top level wins; keys that are not
    strings are left out."""
    urn = resource_type.schema.id.lower()
    nested: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str):
            continue
        if key.lower() == urn and isinstance(value, Mapping):
            nested.update((str(sub), sub_value) for sub, sub_value in value.items())
        else:
            top[key] = value
    return {**nested, **top}
