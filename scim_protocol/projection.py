"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a
response carries. `id` and `schemas` are always returned."""

from __future__ import annotations

from typing import Any

from scim_protocol.errors import InvalidValue
from scim_protocol.schema import ALWAYS, ResolvedAttribute, ResourceType

MAX_ATTRIBUTE_PATHS = 100


def parse_attribute_list(raw: str | None, resource_type: ResourceType) -> list[ResolvedAttribute]:
    """Comma-separated attribute paths; unknown names are ignored (clients ask for attributes
    of other providers' schemas)."""
    if not raw:
        return []
    paths = [part.strip() for part in raw.split(",") if part.strip()]
    if len(paths) > MAX_ATTRIBUTE_PATHS:
        raise InvalidValue(f"At most {MAX_ATTRIBUTE_PATHS} attribute paths may be listed.")
    resolved = [resource_type.resolve(path) for path in paths]
    return [r for r in resolved if r is not None]


def _container(
    resource: dict[str, Any], path: ResolvedAttribute, resource_type: ResourceType
) -> dict[str, Any] | None:
    if path.is_extension and path.schema is not None:
        found = resource.get(path.schema.id)
        return found if isinstance(found, dict) else None
    return resource


def project(
    resource: dict[str, Any],
    resource_type: ResourceType,
    *,
    attributes: list[ResolvedAttribute],
    excluded: list[ResolvedAttribute],
) -> dict[str, Any]:
    """`resource` carrying only what was asked for: a copy, or `resource` itself when nothing
    is to be left out. `attributes` wins when both are given (RFC 7644 says they are not to be
    combined)."""
    if not attributes and not excluded and not _has_empty_extension(resource, resource_type):
        return resource
    if attributes:
        return _keep_only(resource, resource_type, attributes)
    result = {key: value for key, value in resource.items()}
    for path in excluded:
        if path.attribute.returned == ALWAYS or path.attribute.name == "id":
            continue
        container = _container(result, path, resource_type)
        if container is None or path.attribute.name not in container:
            continue
        if container is not result and path.schema is not None:
            container = dict(container)
            result[path.schema.id] = container
        if path.sub_attribute is None:
            container.pop(path.attribute.name, None)
        elif isinstance(container.get(path.attribute.name), dict):
            container[path.attribute.name] = {
                k: v
                for k, v in container[path.attribute.name].items()
                if k != path.sub_attribute.name
            }
    return _drop_empty_extensions(result, resource_type)


def _keep_only(
    resource: dict[str, Any], resource_type: ResourceType, paths: list[ResolvedAttribute]
) -> dict[str, Any]:
    kept: dict[str, Any] = {"schemas": resource.get("schemas", []), "id": resource.get("id")}
    for path in paths:
        source = _container(resource, path, resource_type)
        if source is None or path.attribute.name not in source:
            continue
        target = kept if not path.is_extension else kept.setdefault(path.schema.id, {})  # type: ignore[union-attr]
        value = source[path.attribute.name]
        if path.sub_attribute is None:
            target[path.attribute.name] = value
        elif isinstance(value, dict) and path.sub_attribute.name in value:
            target.setdefault(path.attribute.name, {})[path.sub_attribute.name] = value[
                path.sub_attribute.name
            ]
        elif isinstance(value, list):
            subs = [
                {path.sub_attribute.name: v[path.sub_attribute.name]}
                for v in value
                if isinstance(v, dict) and path.sub_attribute.name in v
            ]
            if subs:
                target[path.attribute.name] = subs
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
    name: str, attributes: list[ResolvedAttribute], excluded: list[ResolvedAttribute]
) -> bool:
    """Whether a response projected with these lists carries attribute `name`."""
    if attributes:
        return any(path.attribute.name == name for path in attributes)
    return not any(path.attribute.name == name and path.sub_attribute is None for path in excluded)
