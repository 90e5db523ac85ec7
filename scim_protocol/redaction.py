"""SCIM requests with their secrets taken out, so that they can be kept (the provisioning log).

Plain Python, no Django. A secret is what the schema says is one (`Attribute.is_secret`: never
returned, or writeOnly — a User's `password`), wherever the request puts it. A request is read
the way the write reads it:

- a resource body (POST, PUT, a pathless PATCH value) by its keys, in any case: core names
  (`password`, `PASSWORD`), URN-qualified names (`urn:…:core:2.0:User:password`), dotted
  names (`name.givenName`), attributes nested under a schema URN key, sub-attributes of
  complex values;
- a PATCH operation by its `path`, parsed with the PATCH path grammar (`scim_protocol.filter`) and
  resolved against the schema, so `PASSWORD`, the URN spelling and `password[…]` are all the
  password; a value filter that compares a secret counts as naming it.

What the schema does not know is judged by its name: a key or path naming a password, secret
or token is treated as a secret. An operation whose path cannot be parsed loses its value — we
cannot tell what it names — and its path too when that names a secret.

Secret members of an object are dropped; an operation keeps its shape, with REDACTED in place
of its value (and path). `Redacted.secrets` lists the strings taken out, so that other text kept
about the request (an error message may quote a path) can be scrubbed with `scrub`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scim_protocol.errors import ScimError
from scim_protocol.filter import And, Comparison, Expr, Not, Or, Present, ValuePath, parse_path
from scim_protocol.schema import Attribute, ResolvedAttribute, ResourceType, Schema

REDACTED = "[redacted]"
SECRET_WORDS = ("password", "secret", "token")
# Shorter strings are not scrubbed from messages: no real secret is that short, and replacing
# every "e" or "0" of a message would make it unreadable.
MIN_SCRUBBED = 4
# Error messages quote at most a few dozen characters of what they complain about, so a long
# secret may appear cut short: any start of a secret this long is scrubbed too.
MIN_SCRUBBED_START = 8
_QUOTED = re.compile(r'"([^"]*)"?')


@dataclass(frozen=True)
class _Verdict:
    """What a PATCH path says: its value is a secret; the path itself must go (a filter on or
    over a secret, or a path naming one that cannot be parsed); or where the value goes."""

    secret_value: bool = False
    secret_path: bool = False
    schema: Schema | None = None  # the path is an extension's URN
    attribute: Attribute | None = None  # the attribute (or sub-attribute) the value is for


@dataclass(frozen=True)
class Redacted:
    body: Any  # the request without its secrets
    secrets: frozenset[str]  # the strings taken out, for `scrub`


def redact_resource(body: Any, resource_type: ResourceType) -> Redacted:
    """`body`, a resource as POST or PUT sends it, without its secrets."""
    redactor = _Redactor(resource_type)
    return Redacted(redactor.resource(body), frozenset(redactor.secrets))


def redact_operations(operations: Any, resource_type: ResourceType) -> Redacted:
    """`operations`, the `Operations` of a PATCH, without their secrets."""
    redactor = _Redactor(resource_type)
    if isinstance(operations, list):
        body: Any = [redactor.operation(operation) for operation in operations]
    else:
        body = redactor.by_name(operations)
    return Redacted(body, frozenset(redactor.secrets))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` at least MIN_SCRUBBED long replaced by REDACTED, and with
    each start of one (at least MIN_SCRUBBED_START long, or the whole secret) too."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) < MIN_SCRUBBED:
            continue
        head, rest = secret[:MIN_SCRUBBED_START], secret[MIN_SCRUBBED_START:]
        first, *after_heads = text.split(head)
        text = first + "".join(
            REDACTED + piece[_shared_start(piece, rest) :] for piece in after_heads
        )
    return text


def names_a_secret(name: str) -> bool:
    """Whether an attribute name the schema does not know says it holds a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


class _Redactor:
    def __init__(self, resource_type: ResourceType):
        self.resource_type = resource_type
        self.secrets: set[str] = set()

    # --- resource bodies ------------------------------------------------------------------

    def resource(self, body: Any) -> Any:
        """A resource body, or a pathless PATCH value: keys are attribute paths or URNs."""
        if not isinstance(body, Mapping):
            return self.by_name(body)
        kept = {}
        for key, value in body.items():
            schema = self.resource_type.schema_by_urn(str(key))
            if schema is not None:
                kept[key] = self.members_of(schema, value)
            elif not self.is_secret_key(str(key)):
                kept[key] = self.value_at(str(key), value)
            else:
                self.take(value)
        return kept

    def members_of(self, schema: Schema, value: Any) -> Any:
        """The object under a schema's URN key: its keys are that schema's attributes."""
        if not isinstance(value, Mapping):
            return self.by_name(value)
        kept = {}
        for key, item in value.items():
            qualified = f"{schema.id}:{key}"
            if self.is_secret_key(qualified):
                self.take(item)
            else:
                kept[key] = self.value_at(qualified, item)
        return kept

    def is_secret_key(self, key: str) -> bool:
        resolved = self.resource_type.resolve(key)
        return _is_secret(resolved) if resolved is not None else names_a_secret(key)

    def value_at(self, key: str, value: Any) -> Any:
        """The value of a key that is not a secret itself (it may hold secret members)."""
        resolved = self.resource_type.resolve(key)
        if resolved is None:
            return self.by_name(value)
        return self.value_of(resolved.target, value)

    def value_of(self, attribute: Attribute, value: Any) -> Any:
        """A value of a known attribute that is not a secret: only complex values (objects)
        can hold secrets, as sub-attributes or as members the schema does not know."""
        if isinstance(value, list):
            return [self.value_of(attribute, item) for item in value]
        if not isinstance(value, Mapping):
            return value
        if not attribute.is_complex:
            return self.by_name(value)
        kept = {}
        for key, item in value.items():
            sub = attribute.sub(str(key))
            if sub.is_secret if sub is not None else names_a_secret(str(key)):
                self.take(item)
            else:
                kept[key] = self.by_name(item)
        return kept

    def by_name(self, value: Any) -> Any:
        """A value the schema says nothing about: members naming a secret go, at any depth."""
        if isinstance(value, Mapping):
            kept = {}
            for key, item in value.items():
                if names_a_secret(str(key)):
                    self.take(item)
                else:
                    kept[key] = self.by_name(item)
            return kept
        if isinstance(value, list):
            return [self.by_name(item) for item in value]
        return value

    # --- PATCH operations -----------------------------------------------------------------

    def operation(self, operation: Any) -> Any:
        if not isinstance(operation, Mapping):
            return self.by_name(operation)
        # Member names are case-insensitive, as the PATCH engine reads them.
        paths = [key for key in operation if str(key).lower() == "path"]
        path = operation[paths[-1]] if paths else None
        pathless = path is None or (isinstance(path, str) and not path.strip())
        verdict = _Verdict() if pathless else self.judge(path)
        kept = {}
        for key, item in operation.items():
            lowered = str(key).lower()
            if lowered == "value" and verdict.secret_value:
                self.take(item)
                kept[key] = REDACTED
            elif lowered == "value" and pathless:
                kept[key] = self.resource(item)
            elif lowered == "value" and verdict.schema is not None:
                kept[key] = self.members_of(verdict.schema, item)
            elif lowered == "value" and verdict.attribute is not None:
                kept[key] = self.value_of(verdict.attribute, item)
            elif lowered == "path" and verdict.secret_path:
                self.take_path(item)
                kept[key] = REDACTED
            elif lowered not in ("value", "path") and names_a_secret(lowered):
                self.take(item)
            else:
                kept[key] = self.by_name(item)
        return kept

    def judge(self, path: Any) -> _Verdict:
        """What an operation's (non-empty) `path` says about its value, and about itself."""
        if not isinstance(path, str):
            return _Verdict(secret_value=True)
        schema = self.resource_type.schema_by_urn(path.strip())
        if schema is not None:
            return _Verdict(schema=schema)  # a whole extension object: its keys say
        try:
            parsed = parse_path(path)
        except ScimError:
            return _Verdict(secret_value=True, secret_path=names_a_secret(path))
        resolved = self.resource_type.resolve(parsed.attribute)
        if resolved is None:
            named = names_a_secret(path)
            return _Verdict(secret_value=named, secret_path=named and parsed.filter is not None)
        attribute = resolved.attribute
        has_filter = parsed.filter is not None
        if _is_secret(resolved):
            return _Verdict(secret_value=True, secret_path=has_filter)
        compares_secret = parsed.filter is not None and _compares_secret(parsed.filter, attribute)
        if parsed.sub_attribute is None:
            return _Verdict(secret_path=compares_secret, attribute=resolved.target)
        sub = attribute.sub(parsed.sub_attribute)
        if sub is None or sub.is_secret:
            secret = sub is not None or names_a_secret(parsed.sub_attribute)
            return _Verdict(secret_value=secret, secret_path=compares_secret)
        return _Verdict(secret_path=compares_secret, attribute=sub)

    # --- what was taken -------------------------------------------------------------------

    def take(self, value: Any) -> None:
        """Remember every string in a value taken out."""
        if isinstance(value, str):
            self.secrets.add(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                self.take(item)
        elif isinstance(value, list):
            for item in value:
                self.take(item)
        elif value is not None and not isinstance(value, bool):
            self.secrets.add(str(value))

    def take_path(self, path: Any) -> None:
        """Remember a path taken out, and the string literals in it (messages quote those)."""
        self.take(path)
        if isinstance(path, str):
            self.secrets.update(_QUOTED.findall(path))


def _shared_start(one: str, other: str) -> int:
    """How many leading characters `one` and `other` have in common."""
    return next(
        (i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b),
        min(len(one), len(other)),
    )


def _is_secret(resolved: ResolvedAttribute) -> bool:
    return resolved.attribute.is_secret or (
        resolved.sub_attribute is not None and resolved.sub_attribute.is_secret
    )


def _compares_secret(expr: Expr, attribute: Attribute) -> bool:
    """Whether a value filter on `attribute` compares (or tests) a secret sub-attribute."""
    if isinstance(expr, And | Or):
        return _compares_secret(expr.left, attribute) or _compares_secret(expr.right, attribute)
    if isinstance(expr, Not):
        return _compares_secret(expr.expr, attribute)
    if isinstance(expr, ValuePath):
        return _compares_secret(expr.filter, attribute)
    if isinstance(expr, Comparison | Present):
        sub = attribute.sub(expr.path)
        return sub.is_secret if sub is not None else names_a_secret(expr.path)
    return False
