"""Taking secrets out of SCIM requests before they are kept (scim_protocol/redaction.py)."""

from __future__ import annotations

from typing import Any

import pytest

from scim_protocol.redaction import REDACTED, redact_operations, redact_resource, scrub
from scim_protocol.schema import (
    CORE_USER,
    ENTERPRISE_USER,
    GROUP,
    RESOURCE_TYPES,
    USER,
    ResourceType,
)

S = "s3cret-Value-42"


def secret_spellings() -> list[tuple[ResourceType, str]]:
    """Every secret attribute of every resource type, in the spellings a client may use."""
    spellings = []
    for resource_type in RESOURCE_TYPES:
        for schema in resource_type.schemas:
            for attribute in schema.attributes:
                if not attribute.is_secret:
                    continue
                name = attribute.name
                for spelled in (name, name.upper(), name.lower(), name.title()):
                    spellings.append((resource_type, spelled))
                    spellings.append((resource_type, f"{schema.id}:{spelled}"))
                    spellings.append((resource_type, f"{schema.id.upper()}:{spelled}"))
    return spellings


SPELLINGS = secret_spellings()


def test_the_schemas_secrets_are_what_they_say() -> None:
    secret = [
        (schema.id, attribute.name)
        for resource_type in RESOURCE_TYPES
        for schema in resource_type.schemas
        for attribute in schema.attributes
        if attribute.is_secret
    ]

    assert secret == [(CORE_USER, "password")]
    assert SPELLINGS  # the matrix below is not empty


@pytest.mark.parametrize(("resource_type", "key"), SPELLINGS)
def test_a_secret_key_in_a_resource_is_dropped(resource_type: ResourceType, key: str) -> None:
    redacted = redact_resource({"userName": "ada", key: S}, resource_type)

    assert redacted.body == {"userName": "ada"} and redacted.secrets == {S}


@pytest.mark.parametrize(("resource_type", "path"), SPELLINGS)
def test_a_patch_path_naming_a_secret_loses_its_value(
    resource_type: ResourceType, path: str
) -> None:
    operations = [
        {"op": "replace", "path": path, "value": S},
        {"op": "Add", "path": f" {path} ", "value": [S]},
        {"OP": "replace", "PATH": path, "VALUE": {"value": S}},
    ]

    redacted = redact_operations(operations, resource_type)

    assert redacted.body == [
        {"op": "replace", "path": path, "value": REDACTED},
        {"op": "Add", "path": f" {path} ", "value": REDACTED},
        {"OP": "replace", "PATH": path, "VALUE": REDACTED},
    ]
    assert redacted.secrets == {S}


@pytest.mark.parametrize(("resource_type", "key"), SPELLINGS)
def test_a_pathless_value_loses_its_secret_keys(resource_type: ResourceType, key: str) -> None:
    operations = [{"op": "replace", "value": {"displayName": "Ada", key: S}}]

    redacted = redact_operations(operations, resource_type)

    assert redacted.body == [{"op": "replace", "value": {"displayName": "Ada"}}]


def test_secrets_nested_under_a_schema_urn_are_dropped() -> None:
    body = {
        CORE_USER: {"Password": S, "displayName": "Ada"},
        ENTERPRISE_USER: {"department": "R&D", "password": S, "manager": {"value": "m"}},
    }

    redacted = redact_resource(body, USER)

    assert redacted.body == {
        CORE_USER: {"displayName": "Ada"},
        ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "m"}},
    }


def test_what_is_not_a_secret_is_kept_as_sent() -> None:
    body: dict[str, Any] = {
        "schemas": [CORE_USER],
        "userName": "ada@acme.test",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "name.formatted": "Ada Lovelace",
        "emails": [{"value": "ada@acme.test", "type": "work", "primary": True}],
        "x509Certificates": [{"value": "MIIB"}],
        "nickName": None,
        "active": "True",
        "unknownAttribute": {"kept": [1, 2]},
    }

    assert redact_resource(body, USER).body == body
    assert redact_resource(body, USER).secrets == frozenset()


def test_unknown_members_naming_a_secret_are_dropped_at_any_depth() -> None:
    body = {
        "userName": "a",
        "emails": [{"value": "a@b.c", "password": S}],
        "nested": [{"Password": "y", "apiToken": "z", "ok": 1}],
        "clientSecret": "s",
        ENTERPRISE_USER: {"managerToken": S},
    }

    redacted = redact_resource(body, USER)

    assert redacted.body == {
        "userName": "a",
        "emails": [{"value": "a@b.c"}],
        "nested": [{"ok": 1}],
        ENTERPRISE_USER: {},
    }
    assert redacted.secrets == {S, "y", "z", "s"}


def test_paths_that_name_no_secret_keep_their_values() -> None:
    operations = [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@acme.test"},
        {"op": "add", "path": "emails", "value": [{"value": "b@c.d", "password": S}]},
        {"op": "replace", "path": "name", "value": {"givenName": "Ada"}},
        {"op": "replace", "path": ENTERPRISE_USER, "value": {"department": "R&D", "pwd": 1}},
        {"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": [{"value": "m"}]},
        {"op": "remove", "path": 'members[value eq "2819c223"]'},
        {"op": "add", "path": "nickname2", "value": {"x": 1, "token": S}},
    ]

    redacted = redact_operations(operations, USER)

    assert redacted.body == [
        operations[0],
        {"op": "add", "path": "emails", "value": [{"value": "b@c.d"}]},
        operations[2],
        operations[3],
        operations[4],
        operations[5],
        {"op": "add", "path": "nickname2", "value": {"x": 1}},
    ]


def test_a_path_that_cannot_be_parsed_loses_its_value() -> None:
    operations = [
        {"op": "add", "path": 'emails[type eq "work"', "value": S},
        {"op": "add", "path": 42, "value": S},
    ]

    redacted = redact_operations(operations, USER)

    assert redacted.body == [
        {"op": "add", "path": 'emails[type eq "work"', "value": REDACTED},
        {"op": "add", "path": 42, "value": REDACTED},
    ]


@pytest.mark.parametrize(
    "path",
    [
        f'password "{S}"',  # cannot be parsed, names a secret
        f'password[value eq "{S}"]',  # a filter on a secret compares the secret
        f'emails[password eq "{S}"]',  # a filter on an unknown secret-named sub-attribute
        f'apiToken[value eq "{S}"]',  # an unknown attribute whose name says what it is
    ],
)
def test_a_path_holding_a_secret_goes_too(path: str) -> None:
    redacted = redact_operations([{"op": "replace", "path": path, "value": "x"}], USER)

    assert S not in str(redacted.body) and S in redacted.secrets


def test_groups_have_no_schema_secrets_but_secret_names_still_go() -> None:
    body = {"displayName": "Admins", "members": [{"value": "1"}], "password": S}
    operations = [
        {"op": "add", "path": "password", "value": S},
        {"op": "add", "path": f"{CORE_USER}:password", "value": S},
        {"op": "add", "path": "members", "value": [{"value": "1", "display": "Ada"}]},
    ]

    assert redact_resource(body, GROUP).body == {
        "displayName": "Admins",
        "members": [{"value": "1"}],
    }
    assert redact_operations(operations, GROUP).body == [
        {"op": "add", "path": "password", "value": REDACTED},
        {"op": "add", "path": f"{CORE_USER}:password", "value": REDACTED},
        operations[2],
    ]


@pytest.mark.parametrize("body", [None, "text", 5, [1, {"password": S}], {"Operations": []}])
def test_anything_else_is_judged_by_name(body: Any) -> None:
    assert S not in str(redact_operations(body, USER).body)
    assert S not in str(redact_resource(body, USER).body)


def test_scrub_replaces_secrets_and_their_quoted_starts() -> None:
    long_secret = "Hc-Secret-0123456789abcdef0123456789abcdef"
    text = (
        f"found '{S}' (at 3); again {S}; unknown operator '\"{long_secret[:36]}...'; "
        "Operations[0] stays"
    )

    scrubbed = scrub(text, {S, long_secret, "0", "abc"})

    assert scrubbed == (
        f"found '{REDACTED}' (at 3); again {REDACTED}; unknown operator '\"{REDACTED}...'; "
        "Operations[0] stays"
    )
