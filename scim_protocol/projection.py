"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a
response carries. `id` and `schemas` are always returned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim_protocol.errors import InvalidValue
from scim_protocol.schema import (
    ALWAYS,
    COMMON_ATTRIBUTES,
    Attribute,
    ResolvedAttribute,
    ResourceType,
    Schema,
)

MAX_ATTRIBUTE_PATHS = 100


@dataclass(frozen=True)
class AttributeList:
    """A parsed `attributes` or `excludedAttributes`: the paths that resolved, and the schemas
    named whole by their URN (`urn:…:enterprise:2.0:User`). `named` is whether the parameter
    listed anything, even only names that resolve to nothing: `attributes=schemas` asks for
    the always-returned attributes alone, not for everything."""

    paths: tuple[ResolvedAttribute, ...] = ()
    schemas: tuple[Schema, ...] = ()
    named: bool = False


NOTHING_NAMED = AttributeList()


def parse_attribute_list(raw: str | None, resource_type: ResourceType) -> AttributeList:
    """Comma-separated attribute paths or schema URNs; unknown names are ignored (clients ask
    for attributes of other providers' schemas)."""
    if not raw:
        return NOTHING_NAMED
    names = [part.strip() for part in raw.split(",") if part.strip()]
    if len(names) > MAX_ATTRIBUTE_PATHS:
        raise InvalidValue(f"At most {MAX_ATTRIBUTE_PATHS} attribute paths may be listed.")
    paths: list[ResolvedAttribute] = []
    schemas: list[Schema] = []
    for name in names:
        if (schema := resource_type.schema_by_urn(name)) is not None:
            schemas.append(schema)
        elif (resolved := resource_type.resolve(name)) is not None:
            paths.append(resolved)
    return AttributeList(tuple(paths), tuple(schemas), named=bool(names))


def _container(resource: dict[str, Any], path: ResolvedAttribute) -> dict[str, Any] | None:
    if path.is_extension and path.schema is not None:
        found = resource.get(path.schema.id)
        return found if isinstance(found, dict) else None
    return resource


def project(
    resource: dict[str, Any],
    resource_type: ResourceType,
    *,
    attributes: AttributeList,
    excluded: AttributeList,
) -> dict[str, Any]:
    """`resource` carrying only what was asked for: a copy, or `resource` itself when nothing
    is to be left out. `attributes` wins when both are given (RFC 7644 says they are not to be
    combined)."""
    # Read on every resource of every response: plain attribute reads, no call.
    if (
        not attributes.named
        and not excluded.named
        and not _has_empty_extension(resource, resource_type)
    ):
        return resource
    if attributes.named:
        return _keep_only(resource, resource_type, attributes)
    result = {key: value for key, value in resource.items()}
    for schema in excluded.schemas:
        if schema is resource_type.schema:
            for attribute in _core_attributes(schema):
                if attribute.returned != ALWAYS:
                    result.pop(attribute.name, None)
        else:
            result.pop(schema.id, None)
    for path in excluded.paths:
        if path.attribute.returned == ALWAYS or path.attribute.name == "id":
            continue
        container = _container(result, path)
        if container is None or path.attribute.name not in container:
            continue
        if container is not result and path.schema is not None:
            container = dict(container)
            result[path.schema.id] = container
        if path.sub_attribute is None:
            container.pop(path.attribute.name, None)
        else:
            container[path.attribute.name] = _without(
                container[path.attribute.name], path.sub_attribute.name
            )
    return _drop_empty_extensions(result, resource_type)


def _without(value: Any, sub: str) -> Any:
    """A complex value, or each of a multi-valued attribute's values, less sub-attribute
    `sub` (a copy: the resource shares its values with the stored one)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != sub}
    if isinstance(value, list):
        return [_without(item, sub) for item in value]
    return value


def _core_attributes(schema: Schema) -> tuple[Attribute, ...]:
    """What a core schema's URN names: its attributes and the common ones, which RFC 7643
    §3.1 counts as part of every resource's base schema."""
    return (*COMMON_ATTRIBUTES, *schema.attributes)


def _keep_only(
    resource: dict[str, Any], resource_type: ResourceType, wanted: AttributeList
) -> dict[str, Any]:
    kept: dict[str, Any] = {"schemas": resource.get("schemas", []), "id": resource.get("id")}
    for schema in wanted.schemas:
        if schema is resource_type.schema:
            kept.update(
                (a.name, resource[a.name]) for a in _core_attributes(schema) if a.name in resource
            )
        elif schema.id in resource:
            kept[schema.id] = resource[schema.id]
    # A multi-valued attribute's values are built once all its wanted sub-attributes are known
    # (`emails.value,emails.type` keeps both of each email), unless it is wanted whole.
    multi: dict[tuple[int, str], tuple[dict[str, Any], str, list[Any], list[str]]] = {}
    for path in wanted.paths:
        source = _container(resource, path)
        if source is None or path.attribute.name not in source:
            continue
        target = kept if not path.is_extension else kept.setdefault(path.schema.id, {})  # type: ignore[union-attr]
        name, value = path.attribute.name, source[path.attribute.name]
        if path.sub_attribute is None:
            target[name] = value
        elif isinstance(value, dict) and path.sub_attribute.name in value:
            if target.get(name) is not value:  # not already wanted whole
                target.setdefault(name, {})[path.sub_attribute.name] = value[
                    path.sub_attribute.name
                ]
        elif isinstance(value, list):
            multi.setdefault((id(target), name), (target, name, value, []))[3].append(
                path.sub_attribute.name
            )
    for target, name, value, subs in multi.values():
        if target.get(name) is value:
            continue
        items = [
            {sub: item[sub] for sub in subs if sub in item}
            for item in value
            if isinstance(item, dict)
        ]
        if items := [item for item in items if item]:
            target[name] = items
    return kept


def _has_empty_extension(resource: dict[str, Any], resource_type: ResourceType) -> bool:
    return any(
        schema.id in resource and not resource[schema.id] for schema in resource_type.extensions
    )


def _drop_empty_extensions(resource: dict[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    for schema in resource_type.extensions:
        if schema.id in resource and not resource[schema.id]:
            resource.pop(schema.id)
    return resource


def wants(
    name: str, resource_type: ResourceType, attributes: AttributeList, excluded: AttributeList
) -> bool:
    """Whether a response projected with these lists carries core attribute `name` (the
    views ask before reading a group's members or a user's groups)."""
    core = resource_type.schema
    if attributes.named:
        return core in attributes.schemas or any(
            path.attribute.name == name for path in attributes.paths
        )
    return core not in excluded.schemas and not any(
        path.attribute.name == name and path.sub_attribute is None for path in excluded.paths
    )
