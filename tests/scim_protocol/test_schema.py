"""Attribute lookups and path resolution in the schema definitions: names in any case, URN
qualified or not, unknown ones refused; the lookups built once and resolve()'s memo answer as a
scan of the definitions would."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scim_protocol.schema import (
    COMMON_ATTRIBUTES,
    CORE_USER,
    ENTERPRISE_USER,
    ENTERPRISE_USER_SCHEMA,
    GROUP,
    GROUP_SCHEMA,
    MAX_REMEMBERED_PATHS,
    RESOURCE_TYPES,
    SCHEMAS,
    USER,
    USER_SCHEMA,
    Attribute,
    ResolvedAttribute,
    ResourceType,
    Schema,
)


def _spellings(name: str) -> list[str]:
    return [name, name.lower(), name.upper(), name.swapcase()]


def _reference_resolve(resource_type: ResourceType, path: str) -> ResolvedAttribute | None:
    """resolve() as the RFC reads, by scanning the definitions: what the lookups must match."""

    def named(attributes: tuple[Attribute, ...], name: str) -> Attribute | None:
        return next((a for a in attributes if a.name.lower() == name.lower()), None)

    def with_sub(schema: Schema | None, attribute: Attribute, sub_name: str) -> Any:
        if not sub_name:
            return ResolvedAttribute(schema, attribute)
        sub = named(attribute.sub_attributes, sub_name)
        return None if sub is None else ResolvedAttribute(schema, attribute, sub)

    schemas = (resource_type.schema, *resource_type.extensions)
    for schema in sorted(schemas, key=lambda s: len(s.id), reverse=True):
        prefix = schema.id.lower() + ":"
        if path.lower().startswith(prefix):
            attr_name, _, sub_name = path[len(prefix) :].partition(".")
            attribute = named(schema.attributes, attr_name)
            if attribute is not None:
                return with_sub(schema, attribute, sub_name)
            # The common attributes under the base schema's URN, not an extension's.
            common = named(COMMON_ATTRIBUTES, attr_name) if schema is resource_type.schema else None
            return None if common is None else with_sub(None, common, sub_name)
    attr_name, _, sub_name = path.partition(".")
    common = named(COMMON_ATTRIBUTES, attr_name)
    if common is not None:
        return with_sub(None, common, sub_name)
    for schema in schemas:
        attribute = named(schema.attributes, attr_name)
        if attribute is not None:
            return with_sub(schema, attribute, sub_name)
    return None


def _paths(resource_type: ResourceType) -> list[str]:
    """Every attribute and sub-attribute path of `resource_type`, in several spellings, plain
    and URN-qualified, and paths that name nothing."""
    paths = ["", ".", "schemas", "nope", "nope.value", "userName.nope", "emails.", ".value"]
    for schema in (resource_type.schema, *resource_type.extensions):
        urns = [schema.id, schema.id.upper()]
        paths += [f"{urn}:" for urn in urns] + [f"{urn}:nope" for urn in urns]
        for attribute in (*schema.attributes, *COMMON_ATTRIBUTES):
            dotted = [attribute.name] + [
                f"{attribute.name}.{sub.name}" for sub in attribute.sub_attributes
            ]
            dotted.append(f"{attribute.name}.nope")
            for path in dotted:
                for spelled in _spellings(path):
                    paths += [spelled] + [f"{urn}:{spelled}" for urn in urns]
    return paths


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_every_attribute_is_found_by_its_name_in_any_case(schema: Schema) -> None:
    for attribute in schema.attributes:
        for name in _spellings(attribute.name):
            assert schema.attribute(name) is attribute


@pytest.mark.parametrize(
    "attribute",
    [a for schema in SCHEMAS for a in (*schema.attributes, *COMMON_ATTRIBUTES) if a.is_complex],
    ids=lambda a: a.name,
)
def test_every_sub_attribute_is_found_by_its_name_in_any_case(attribute: Attribute) -> None:
    for sub in attribute.sub_attributes:
        for name in _spellings(sub.name):
            assert attribute.sub(name) is sub


@pytest.mark.parametrize("name", ["", "nope", "userName ", " userName", "user_name", "emails."])
def test_an_unknown_attribute_name_is_none(name: str) -> None:
    assert USER_SCHEMA.attribute(name) is None
    assert GROUP_SCHEMA.attribute(name) is None


@pytest.mark.parametrize("name", ["", "nope", "value ", "val", "$REF2"])
def test_an_unknown_sub_attribute_name_is_none(name: str) -> None:
    members = GROUP_SCHEMA.attribute("members")
    assert members is not None

    assert members.sub(name) is None


def test_an_attribute_without_sub_attributes_has_none() -> None:
    user_name = USER_SCHEMA.attribute("userName")
    assert user_name is not None

    assert user_name.sub("value") is None


def test_the_first_of_two_attributes_with_one_name_in_another_case_wins() -> None:
    first, second = Attribute("title"), Attribute("TITLE", type="boolean")
    schema = Schema("urn:example", "Example", "", (first, second))
    parent = Attribute("parent", type="complex", sub_attributes=(first, second))

    assert schema.attribute("Title") is first
    assert parent.sub("Title") is first


def test_the_lookups_do_not_change_what_a_definition_equals_or_shows() -> None:
    again = Attribute("title")

    assert again == Attribute("title")
    assert hash(again) == hash(Attribute("title"))
    assert repr(again).startswith("Attribute(name='title',")
    assert "_subs=" not in repr(again)
    assert " _attributes=" not in repr(USER_SCHEMA)
    assert "_resolved=" not in repr(USER)


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES, ids=lambda t: t.name)
def test_resolve_answers_as_a_scan_of_the_definitions(resource_type: ResourceType) -> None:
    # A fresh resource type: its memo starts empty, and each path is resolved twice (once
    # found, once remembered).
    fresh = ResourceType(
        resource_type.name, resource_type.endpoint, resource_type.schema, resource_type.extensions
    )
    for path in _paths(resource_type):
        expected = _reference_resolve(resource_type, path)

        assert fresh.resolve(path) == expected, path
        assert fresh.resolve(path) == expected, path
        assert resource_type.resolve(path) == expected, path


@pytest.mark.parametrize(
    ("path", "schema", "attribute", "sub"),
    [
        ("userName", USER_SCHEMA, "userName", None),
        ("USERNAME", USER_SCHEMA, "userName", None),
        ("name.GIVENNAME", USER_SCHEMA, "name", "givenName"),
        (f"{CORE_USER.upper()}:emails.Value", USER_SCHEMA, "emails", "value"),
        ("manager", ENTERPRISE_USER_SCHEMA, "manager", None),  # Entra: unqualified
        (f"{ENTERPRISE_USER}:manager.value", ENTERPRISE_USER_SCHEMA, "manager", "value"),
        ("id", None, "id", None),
        ("EXTERNALID", None, "externalId", None),
        ("meta.lastModified", None, "meta", "lastModified"),
        (f"{CORE_USER}:externalId", None, "externalId", None),
        (f"{CORE_USER}:ID", None, "id", None),
        (f"{CORE_USER}:meta.created", None, "meta", "created"),
        # The core schema has displayName; the enterprise one does not take it over.
        ("displayName", USER_SCHEMA, "displayName", None),
    ],
)
def test_resolve_finds(path: str, schema: Schema | None, attribute: str, sub: str | None) -> None:
    resolved = USER.resolve(path)

    assert resolved is not None
    assert resolved.schema is schema
    assert resolved.attribute.name == attribute
    assert (resolved.sub_attribute.name if resolved.sub_attribute else None) == sub


@pytest.mark.parametrize(
    "path",
    [
        "nope",
        "name.nope",
        f"{ENTERPRISE_USER}:userName",  # a core attribute under the extension's URN
        f"{CORE_USER}:manager",  # an extension attribute under the core URN
        f"{ENTERPRISE_USER}:externalId",  # a common attribute under an extension's URN
        f"{CORE_USER}:meta.nope",
        f"{ENTERPRISE_USER}:",
        "members",  # a Group's
    ],
)
def test_resolve_refuses(path: str) -> None:
    assert USER.resolve(path) is None


def test_resolve_finds_a_groups_members_and_not_a_users_attributes() -> None:
    members = GROUP.resolve("MEMBERS.value")

    assert members is not None
    assert members.schema is GROUP_SCHEMA
    assert GROUP.resolve("userName") is None


def test_the_memo_is_bounded_and_keeps_answering_once_full() -> None:
    fresh = ResourceType(USER.name, USER.endpoint, USER.schema, USER.extensions)

    for index in range(3 * MAX_REMEMBERED_PATHS):
        assert fresh.resolve(f"unknown{index}") is None
        assert len(fresh._resolved) <= MAX_REMEMBERED_PATHS

    for path, sub in itertools.product(["userName", "emails"], ["", ".value"]):
        assert fresh.resolve(path + sub) == _reference_resolve(USER, path + sub)
    assert len(fresh._resolved) <= MAX_REMEMBERED_PATHS


def test_schema_by_urn_in_any_case() -> None:
    for schema in USER.schemas:
        for urn in _spellings(schema.id):
            assert USER.schema_by_urn(urn) is schema
    assert USER.schema_by_urn(GROUP_SCHEMA.id) is None
    assert USER.schema_by_urn(ENTERPRISE_USER + ":") is None
    assert USER.schema_by_urn("") is None
