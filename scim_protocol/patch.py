"""SCIM PATCH (RFC 7644 §3.5.2): apply add / replace / remove operations to a resource.

Plain Python, no Django. The engine works on the canonical representation a GET returns, minus
`id`, `meta` and `schemas`: core attributes at the top level under their schema names,
extension attributes in an object under the extension's URN, absent attributes missing (never
None). It returns a new resource in the same shape and never mutates its input, so a request is
atomic by construction: the caller stores the result only if every operation succeeded.

Operations change the resource and its extension objects in place, and only ever replace the
values below them (a new list, a new object), never change one in place. So the result starts
as a copy of those containers alone, sharing every other value with the input, instead of a
deep copy of the whole resource (a group's thousands of members).

The dialects of Okta and Microsoft Entra ID are accepted: capitalised ops, pathless values with
dotted or URN keys, readOnly `id` inside a group rename, member removal by a `value` list,
`emails[type eq "work"].value` on a user with no work email, manager as `[{"value": id}]` or a
bare id, and `null` / `""` meaning "clear".

add and replace on a singular complex attribute (`name`, `manager`) alike set the sub-attributes
the value names and keep the others (RFC 7644 §3.5.2.3); one named `null` is unassigned. So do
they on the values a filter selects (`addresses[type eq "work"]`); a selected value left with
nothing, or without its `value`, is dropped, as a remove of that sub-attribute drops it. A
multi-valued attribute's replace replaces the whole list.

Values are placed as sent, without type coercion (the caller normalises "True"/"False" and
validates types); only their shape is fixed up: complex values are objects with canonical
sub-attribute names, without null members, readOnly sub-attributes or unknown sub-attributes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scim_protocol.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
    ScimError,
)
from scim_protocol.filter import And, Comparison, Expr, check_value_filter, matches, parse_path
from scim_protocol.readings import Reading, Readings
from scim_protocol.redaction import names_a_secret
from scim_protocol.schema import IMMUTABLE, READ_ONLY, Attribute, ResourceType, Schema

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Operations in one PATCH. IdPs send one to a few; a group's members travel as value lists
# inside an operation, not one operation per member.
MAX_OPERATIONS = 1000
OPS = ("add", "replace", "remove")

_MISSING: Any = object()


def validate_patch_request(body: Any) -> list[dict[str, Any]]:
    """Check the PatchOp envelope and return its operations (each a dict, not yet checked).

    Raises InvalidSyntax when the body is not an object, `schemas` does not list the PatchOp
    URN (compared case-insensitively), or `Operations` (also `operations`) is not a non-empty
    list of objects; PayloadTooLarge (413, as RFC 7644 §3.7.4 answers a bulk request over
    maxOperations) for more than MAX_OPERATIONS operations.
    """
    if not isinstance(body, Mapping):
        raise InvalidSyntax("The PATCH body must be a JSON object.")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or not any(
        isinstance(s, str) and s.lower() == PATCH_OP.lower() for s in schemas
    ):
        raise InvalidSyntax(f'The PATCH body\'s "schemas" must be a list containing "{PATCH_OP}".')
    operations = body["Operations"] if "Operations" in body else body.get("operations")
    if operations is None:
        raise InvalidSyntax('The PATCH body has no "Operations" list.')
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax('"Operations" must be a non-empty list of operations.')
    if len(operations) > MAX_OPERATIONS:
        raise PayloadTooLarge(
            f"A PATCH request may contain at most {MAX_OPERATIONS:,} operations; "
            f"this one has {len(operations):,}: send them in several requests."
        )
    for index, operation in enumerate(operations):
        if not isinstance(operation, Mapping):
            raise InvalidSyntax(f"Operations[{index}] must be a JSON object.")
    return [dict(operation) for operation in operations]


def apply_patch(
    resource: Mapping[str, Any], operations: Sequence[Any], resource_type: ResourceType
) -> dict[str, Any]:
    """Apply SCIM PATCH operations (RFC 7644 §3.5.2) to a resource and return the new resource.

    Never mutates `resource` or `operations`. The result shares the values no operation
    changed with `resource` (what it took from `operations` is copied): a caller that changes
    the result's values in place changes `resource`'s. Raises, before returning anything, if any
    operation fails: InvalidSyntax (bad `op`, missing `value`), InvalidPath (unknown attribute
    or malformed path), NoTarget (remove without a path; a filter that matches nothing on
    replace), InvalidValue (a value of the wrong shape), Mutability (readOnly target, changing
    an immutable value, removing a required attribute). The detail names the operation's index.
    """
    result = dict(resource)
    for extension in resource_type.extensions:
        if isinstance(result.get(extension.id), dict):
            result[extension.id] = dict(result[extension.id])
    for index, operation in enumerate(operations):
        try:
            _apply_operation(result, operation, resource_type)
        except ScimError as error:
            raise type(error)(f"Operations[{index}]: {error.detail}") from error
    return result


def patch_readings(operations: Sequence[Any], resource_type: ResourceType) -> tuple[Reading, ...]:
    """What the operations said in a dialect apply_patch accepts and reads differently: a
    capitalised op ("Replace"), a path in another case ("Emails[Type eq \"work\"].Value") or
    qualified with the core schema's URN. Call it after apply_patch succeeded (the operations
    are known to be valid); values are noted by the user normaliser, which types them."""
    readings = Readings()
    for index, operation in enumerate(operations):
        if readings.full:
            break
        if not isinstance(operation, Mapping):
            continue
        fields = {str(key).lower(): value for key, value in operation.items()}
        op, path = fields.get("op"), fields.get("path")
        if isinstance(op, str) and op != op.lower():
            readings.note(f"Operations[{index}].op", f'"{op}"', op.lower())
        if isinstance(path, str) and path.strip():
            canonical = _canonical_path(path, resource_type)
            # A secret's path is no secret, but the notes keep clear of secrets altogether.
            if canonical is not None and not names_a_secret(canonical):
                readings.note(f"Operations[{index}].path", path, canonical)
    return readings.all()


def _canonical_path(path: str, resource_type: ResourceType) -> str | None:
    """`path` as Headcount writes it: schema names' case, core attributes without their URN;
    None for a path that is the same or one this does not rewrite (a value filter's text)."""
    if _extension_named(path, resource_type) is not None:
        return None
    try:
        parsed = parse_path(path)
        target = _resolve(path, resource_type)
    except ScimError:
        return None
    name = target.attribute.name
    if target.is_extension and target.schema is not None:
        name = f"{target.schema.id}:{name}"
    if parsed.filter is not None:
        # The filter is kept as sent; only the attribute's own spelling is compared.
        sent_name = parsed.attribute
        if sent_name == name and (
            parsed.sub_attribute is None
            or target.sub is None
            or parsed.sub_attribute == target.sub.name
        ):
            return None
        bracket = path[path.index("[") : path.rindex("]") + 1]
        return name + bracket + (f".{target.sub.name}" if target.sub is not None else "")
    canonical = name + (f".{target.sub.name}" if target.sub is not None else "")
    return None if canonical == path.strip() else canonical


# --- Operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What a path points at, resolved against the resource type's schemas."""

    path: str  # as sent, for error messages
    schema: Schema | None  # None for common attributes (externalId)
    is_extension: bool  # the attribute lives under resource[schema.id]
    attribute: Attribute
    sub: Attribute | None  # `attr.sub` or `attr[filter].sub`
    filter: Expr | None  # `attr[filter]`

    @property
    def selects_values(self) -> bool:
        """True when the path picks values of a multi-valued attribute (a filter or `.sub`)."""
        return self.attribute.multi_valued and (self.filter is not None or self.sub is not None)

    @property
    def read_only(self) -> bool:
        return self.attribute.mutability == READ_ONLY or (
            self.sub is not None and self.sub.mutability == READ_ONLY
        )


def _apply_operation(resource: dict[str, Any], operation: Any, resource_type: ResourceType) -> None:
    if not isinstance(operation, Mapping):
        raise InvalidSyntax("Each operation must be a JSON object.")
    # Member names are case-insensitive like attribute names (RFC 7643 §2.1).
    fields = {str(key).lower(): value for key, value in operation.items()}
    op = fields.get("op")
    if op is None:
        raise InvalidSyntax('The operation has no "op"; use "add", "replace" or "remove".')
    if not isinstance(op, str) or op.lower() not in OPS:
        shown = repr(op[:20]) if isinstance(op, str) else f"a JSON {type(op).__name__}"
        raise InvalidSyntax(f'"op" must be "add", "replace" or "remove", not {shown}.')
    op = op.lower()
    path = fields.get("path")
    if path is not None and not isinstance(path, str):
        raise InvalidPath('"path" must be a string.')
    if path is not None and not path.strip():
        path = None
    value = fields.get("value", _MISSING)

    if op == "remove":
        if path is None:
            raise NoTarget('A remove operation needs a "path".')
        extension = _extension_named(path, resource_type)
        if extension is not None:
            resource.pop(extension.id, None)
            return
        target = _resolve(path, resource_type)
        _check_writable(target)
        _remove(resource, target, value)
    else:
        if value is _MISSING:
            raise InvalidSyntax(f'The {op} operation needs a "value".')
        if path is None:
            _apply_without_path(resource, op, value, resource_type)
        elif _extension_named(path, resource_type) is not None:
            _apply_without_path(resource, op, {path: value}, resource_type)
        else:
            target = _resolve(path, resource_type)
            _check_writable(target)
            _write(resource, op, target, value)
    _drop_empty_extensions(resource, resource_type)


def _apply_without_path(
    resource: dict[str, Any], op: str, value: Any, resource_type: ResourceType
) -> None:
    if not isinstance(value, Mapping):
        raise InvalidValue(f"An {op} without a path needs an object of attributes as its value.")
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        schema = resource_type.schema_by_urn(key)
        if schema is None:
            _apply_key(resource, op, key, item, resource_type)
        elif item is None and schema is not resource_type.schema:
            resource.pop(schema.id, None)
        elif isinstance(item, Mapping):
            for name, sub_item in item.items():
                if isinstance(name, str):
                    _apply_key(resource, op, f"{schema.id}:{name}", sub_item, resource_type)
        else:
            raise InvalidValue(f'"{key}" must be an object of that schema\'s attributes.')


def _apply_key(
    resource: dict[str, Any], op: str, key: str, value: Any, resource_type: ResourceType
) -> None:
    try:
        target = _resolve(key, resource_type)
    except InvalidPath:
        return  # attributes the company does not map (or `schemas`) are ignored, not errors
    if target.read_only:
        return  # RFC 7644 §3.5.2: readOnly values sent by a client are ignored (Okta sends `id`)
    _write(resource, op, target, value)


def _write(resource: dict[str, Any], op: str, target: _Target, value: Any) -> None:
    """add / replace `value` at `target`."""
    if isinstance(value, list) and not value:
        if op == "add" and target.attribute.multi_valued and not target.selects_values:
            return  # adding no values adds nothing; only replace with [] clears
        value = None
    if value is None or value == "":
        # Entra's gallery checks that null / "" clear an attribute.
        _remove(resource, target, _MISSING)
        return
    container = _container_for_write(resource, target)
    if target.selects_values:
        _write_selected(container, op, target, value)
    elif target.sub is not None:
        _write_sub(container, target.attribute, target.sub, value)
    elif target.attribute.multi_valued:
        _write_multi(container, op, target.attribute, value)
    else:
        _write_single(container, target.attribute, value)


def _write_single(container: dict[str, Any], attribute: Attribute, value: Any) -> None:
    value = _unwrap(value, attribute)
    existing = container.get(attribute.name)
    if not attribute.is_complex:
        new = _simple_value(value, attribute)
    else:
        new = _complex_value(value, attribute)
        same_referent = "value" not in new or new.get("value") == _get(existing, "value")
        if isinstance(existing, Mapping) and same_referent:
            # add and replace alike leave the sub-attributes the value does not name unchanged
            # (RFC 7644 §3.5.2.1, §3.5.2.3), and one it names null is unassigned (RFC 7643
            # §2.5). A different `value` (a new manager) is a new referent whose old `$ref` /
            # `displayName` must not survive.
            cleared = _nulled(value, attribute)
            new = {**{k: v for k, v in existing.items() if k not in cleared}, **new}
        if not new:  # every sub-attribute unassigned: nothing left to store
            _check_removable(attribute, existing)
            container.pop(attribute.name, None)
            return
    _check_immutable(attribute, existing, new)
    container[attribute.name] = new


def _write_sub(container: dict[str, Any], attribute: Attribute, sub: Attribute, value: Any) -> None:
    """`attr.sub` on a singular complex attribute (`name.familyName`, `manager.value`)."""
    sub_value = _simple_value(_unwrap(value, sub), sub)
    existing = container.get(attribute.name)
    current = dict(existing) if isinstance(existing, Mapping) else {}
    _check_immutable(sub, current.get(sub.name), sub_value)
    current[sub.name] = sub_value
    container[attribute.name] = current


def _write_multi(container: dict[str, Any], op: str, attribute: Attribute, value: Any) -> None:
    given = value if isinstance(value, list) else [value]
    new = [
        _complex_value(item, attribute) if attribute.is_complex else _simple_value(item, attribute)
        for item in given
    ]
    new = [item for item in new if item != {}]
    existing = _values(container, attribute)
    values = [] if op == "replace" else list(existing)
    written = _append_new(values, new, _folds_values(attribute))
    _check_immutable(attribute, existing or None, values)
    _keep_one_primary(values, written)
    _store_values(container, attribute, values)


def _write_selected(container: dict[str, Any], op: str, target: _Target, value: Any) -> None:
    """`attr[filter]`, `attr[filter].sub` or `attr.sub` on a multi-valued attribute."""
    attribute = target.attribute
    values = _values(container, attribute)
    selected = _select(values, target)
    dropped: set[int] = set()
    if target.sub is None:
        value = _unwrap(value, attribute)
        patch = _complex_value(value, attribute)
        # As on a singular complex attribute (`_write_single`): a sub-attribute named null is
        # unassigned, and the selected values keep the ones not named.
        cleared = _nulled(value, attribute) - patch.keys()
        if not selected:
            raise NoTarget(f"No value of '{attribute.name}' matches the path '{target.path}'.")
        for index in selected:
            item = values[index]
            _check_removable_subs(attribute, item, cleared)
            _check_immutable_subs(attribute, item, patch)
            values[index] = {**{k: v for k, v in item.items() if k not in cleared}, **patch}
            # A value left empty, or without its `value`, means nothing, as after a remove
            # of that sub-attribute (`_remove`): it is dropped.
            if not values[index] or "value" in cleared:
                dropped.add(index)
    else:
        sub = target.sub
        sub_value = _simple_value(_unwrap(value, sub), sub)
        if not selected:
            seed = _equality_terms(target.filter, attribute)
            if seed is None:
                raise NoTarget(f"No value of '{attribute.name}' matches the path '{target.path}'.")
            # Entra sets `emails[type eq "work"].value` on users without a work email: create it.
            values.append({**seed, sub.name: sub_value})
            selected = [len(values) - 1]
        else:
            for index in selected:
                _check_immutable(sub, values[index].get(sub.name), sub_value)
                values[index] = {**values[index], sub.name: sub_value}
    _keep_one_primary(values, set(selected) - dropped)
    _store_values(container, attribute, [v for i, v in enumerate(values) if i not in dropped])


def _remove(resource: dict[str, Any], target: _Target, value: Any) -> None:
    """remove at `target`; a `value` list on a multi-valued path removes just those values."""
    container = _container(resource, target)
    if container is None:
        return
    attribute = target.attribute
    if target.selects_values:
        values = _values(container, attribute)
        selected = set(_select(values, target))
        if target.sub is None:
            values = [item for index, item in enumerate(values) if index not in selected]
        else:
            sub = target.sub
            for index in selected:
                _check_removable(sub, values[index].get(sub.name))
                values[index] = {k: v for k, v in values[index].items() if k != sub.name}
            # A value without its `value` (an email with no address) means nothing: drop it.
            values = [
                item
                for index, item in enumerate(values)
                if item != {} and not (index in selected and sub.name == "value")
            ]
        _store_values(container, attribute, values)
    elif target.sub is not None:
        existing = container.get(attribute.name)
        if not isinstance(existing, Mapping):
            return
        _check_removable(target.sub, existing.get(target.sub.name))
        remaining = {k: v for k, v in existing.items() if k != target.sub.name}
        if remaining:
            container[attribute.name] = remaining
        else:
            container.pop(attribute.name, None)
    elif attribute.multi_valued and value is not _MISSING and value is not None:
        # Entra: {"op": "Remove", "path": "members", "value": [{"value": "<id>"}, ...]}
        given = value if isinstance(value, list) else [value]
        listed = [
            _complex_value(item, attribute) if attribute.is_complex else item for item in given
        ]
        fold = _folds_values(attribute)
        gone_keys = _value_keys(listed, fold)
        gone_others = [item for item in listed if _value_key(item, fold) is None]
        values = [
            item
            for item in _values(container, attribute)
            if _value_key(item, fold) not in gone_keys
            and not any(_same_value(gone, item) for gone in gone_others)
        ]
        _store_values(container, attribute, values)
    else:
        _check_removable(attribute, container.get(attribute.name))
        container.pop(attribute.name, None)


# --- Paths ------------------------------------------------------------------------------------


def _resolve(path: str, resource_type: ResourceType) -> _Target:
    """Resolve a PATCH path. Raises InvalidPath for a malformed path or an unknown attribute."""
    parsed = parse_path(path)
    resolved = resource_type.resolve(parsed.attribute)
    if resolved is None:
        raise InvalidPath(f"'{parsed.attribute}' is not an attribute of a {resource_type.name}.")
    attribute = resolved.attribute
    sub = resolved.sub_attribute
    if parsed.filter is not None:
        if not (attribute.multi_valued and attribute.is_complex):
            raise InvalidPath(
                f"'{attribute.name}' is not a multi-valued complex attribute, so it cannot "
                "take a filter '[...]'."
            )
        try:
            check_value_filter(parsed.filter, attribute)
        except InvalidFilter as error:
            raise InvalidPath(error.detail) from error
        if parsed.sub_attribute is not None:
            sub = attribute.sub(parsed.sub_attribute)
            if sub is None:
                raise InvalidPath(
                    f"'{parsed.sub_attribute}' is not a sub-attribute of '{attribute.name}'."
                )
    return _Target(
        path=path,
        schema=resolved.schema,
        is_extension=resolved.is_extension,
        attribute=attribute,
        sub=sub,
        filter=parsed.filter,
    )


def _extension_named(path: str, resource_type: ResourceType) -> Schema | None:
    """The extension schema when `path` is just its URN (the whole extension object)."""
    schema = resource_type.schema_by_urn(path.strip())
    return schema if schema is not None and schema is not resource_type.schema else None


def _check_writable(target: _Target) -> None:
    if target.read_only:
        name = target.attribute.name + (f".{target.sub.name}" if target.sub else "")
        raise Mutability(f"'{name}' is readOnly and cannot be changed.")


def _check_immutable(attribute: Attribute, existing: Any, new: Any) -> None:
    # An immutable attribute may be set when it has no value, never changed afterwards.
    if attribute.mutability == IMMUTABLE and existing is not None and existing != new:
        raise Mutability(f"'{attribute.name}' is immutable and already has a value.")


def _check_immutable_subs(attribute: Attribute, existing: Mapping[str, Any], new: Any) -> None:
    for name, value in new.items():
        sub = attribute.sub(name)
        if sub is not None:
            _check_immutable(sub, existing.get(name), value)


def _check_removable(attribute: Attribute, existing: Any) -> None:
    if existing is None:
        return  # removing what is not there is a no-op, whatever the attribute
    if attribute.required:
        raise Mutability(f"'{attribute.name}' is required and cannot be removed.")
    if attribute.mutability == IMMUTABLE and existing is not None:
        raise Mutability(f"'{attribute.name}' is immutable and cannot be removed.")


def _check_removable_subs(
    attribute: Attribute, existing: Mapping[str, Any], names: set[str]
) -> None:
    for name in names:
        sub = attribute.sub(name)
        if sub is not None:
            _check_removable(sub, existing.get(name))


# --- Values -----------------------------------------------------------------------------------


def _container(resource: dict[str, Any], target: _Target) -> dict[str, Any] | None:
    """The object holding the target attribute (the resource or its extension object), if any."""
    if target.schema is None or not target.is_extension:
        return resource
    extension = resource.get(target.schema.id)
    return extension if isinstance(extension, dict) else None


def _container_for_write(resource: dict[str, Any], target: _Target) -> dict[str, Any]:
    """Like _container, creating the extension object when it is missing."""
    container = _container(resource, target)
    if container is None and target.schema is not None:
        container = resource[target.schema.id] = {}
    return resource if container is None else container


def _drop_empty_extensions(resource: dict[str, Any], resource_type: ResourceType) -> None:
    for extension in resource_type.extensions:
        if resource.get(extension.id) == {}:
            del resource[extension.id]


def _values(container: Mapping[str, Any], attribute: Attribute) -> list[Any]:
    existing = container.get(attribute.name)
    return list(existing) if isinstance(existing, list) else []


def _store_values(container: dict[str, Any], attribute: Attribute, values: list[Any]) -> None:
    if values:
        container[attribute.name] = values
    else:
        container.pop(attribute.name, None)


def _select(values: list[Any], target: _Target) -> list[int]:
    """Indexes of the values the target's filter matches (all values when there is none)."""
    selected = []
    for index, item in enumerate(values):
        if not isinstance(item, Mapping):
            continue
        try:
            if target.filter is None or matches(target.filter, item, target.attribute):
                selected.append(index)
        except InvalidFilter as error:
            raise InvalidPath(error.detail) from error
    return selected


def _equality_terms(expr: Expr | None, attribute: Attribute) -> dict[str, Any] | None:
    """For a filter of only `eq` terms joined by `and`, the sub-attribute values it demands."""
    if expr is None:
        return None
    terms: dict[str, Any] = {}
    pending: list[Expr] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, And):
            pending.extend((node.left, node.right))
            continue
        if not isinstance(node, Comparison) or node.op != "eq" or node.value is None:
            return None
        sub = attribute.sub(node.path)
        if sub is None or terms.get(sub.name, node.value) != node.value:
            return None
        terms[sub.name] = node.value
    return terms


def _unwrap(value: Any, attribute: Attribute) -> Any:
    """A singular value sent as a one-element list (Entra's manager: [{"value": id}])."""
    if not isinstance(value, list):
        return value
    if len(value) == 1:
        return value[0]
    raise InvalidValue(f"'{attribute.name}' takes a single value, not a list of {len(value)}.")


def _simple_value(value: Any, attribute: Attribute) -> Any:
    if isinstance(value, Mapping | list):
        raise InvalidValue(f"'{attribute.name}' takes a simple value, not an object or a list.")
    return value


def _complex_value(value: Any, attribute: Attribute) -> dict[str, Any]:
    """A complex value with canonical sub-attribute names, minus nulls, readOnly and unknowns."""
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for name, item in value.items():
            sub = attribute.sub(name) if isinstance(name, str) else None
            if sub is None or item is None or sub.mutability == READ_ONLY:
                continue
            # A copy, so that the result shares nothing with the operations (strings, numbers
            # and booleans are immutable: the common case costs no copy).
            cleaned[sub.name] = copy.deepcopy(item) if isinstance(item, dict | list) else item
        return cleaned
    if isinstance(value, str | int | float) and attribute.sub("value") is not None:
        # Entra's validator sends the manager as a bare id: "value": "<id>".
        return {"value": value}
    raise InvalidValue(f"'{attribute.name}' takes an object value.")


def _nulled(value: Any, attribute: Attribute) -> set[str]:
    """The canonical names of the sub-attributes `value` gives as null."""
    if not isinstance(value, Mapping):
        return set()
    named = (
        attribute.sub(name)
        for name, item in value.items()
        if item is None and isinstance(name, str)
    )
    return {sub.name for sub in named if sub is not None and sub.mutability != READ_ONLY}


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else None


def _folds_values(attribute: Attribute) -> bool:
    """Whether the attribute's values are the same value in any case (`value` not caseExact,
    RFC 7643 §2.4: "USER3@EX.COM" is already there when "user3@ex.com" is). Folded as the
    value filters fold them (scim_protocol.filter)."""
    value = attribute.sub("value")
    return value is not None and not value.case_exact


def _value_key(item: Any, fold: bool) -> str | None:
    """A string "value" sub-attribute, usable as a set key (groups have thousands of members);
    casefolded when `fold`."""
    # Concrete-type checks: an ABC check (Mapping) costs ten times more, per member, per op.
    value = item.get("value") if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    return value.casefold() if fold else value


def _value_keys(items: list[Any], fold: bool) -> set[str]:
    """The `_value_key`s of `items` (one comprehension: this runs over every member)."""
    values = (item.get("value") for item in items if isinstance(item, dict))
    if fold:
        return {value.casefold() for value in values if isinstance(value, str)}
    return {value for value in values if isinstance(value, str)}


def _append_new(values: list[Any], new: list[Any], fold: bool) -> set[int]:
    """Append the items of `new` not already in `values` (their "value"s compared casefolded
    when `fold`); return the indexes appended."""
    seen = _value_keys(values, fold)
    written: set[int] = set()
    for item in new:
        key = _value_key(item, fold)
        if key is not None and key in seen:
            continue
        if key is None and any(_same_value(item, kept) for kept in values):
            continue
        if key is not None:
            seen.add(key)
        written.add(len(values))
        values.append(item)
    return written


def _same_value(new: Any, existing: Any) -> bool:
    """Whether `new` is already present: same "value" sub-attribute, else equal as a whole."""
    if isinstance(new, Mapping) and "value" in new:
        return isinstance(existing, Mapping) and existing.get("value") == new["value"]
    return bool(new == existing)


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _keep_one_primary(values: list[Any], written: set[int]) -> None:
    # RFC 7644 §3.5.2: writing a value with primary true clears primary on the other values.
    if not any(_is_true(_get(values[index], "primary")) for index in written):
        return
    for index, item in enumerate(values):
        if index not in written and _is_true(_get(item, "primary")):
            values[index] = {**item, "primary": False}
