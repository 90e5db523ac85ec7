"""Groups (roles): reads and writes. Membership changes are set operations in SQL (one
INSERT … ON CONFLICT DO NOTHING, one DELETE), never a query per member."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from directory import change_events
from directory.change_events import MemberKeys
from directory.errors import GroupNotFound
from directory.integrity import check_preconditions, save_unique
from directory.ledger import CallContext, Subject, recorded
from directory.models import Group, Membership
from directory.selectors import GroupRef, MemberRef, members_referenced, parse_member_id
from scim_protocol import errors
from scim_protocol.filter import Comparison, parse_path
from scim_protocol.group_input import MAX_NAME_LENGTH, GroupInput, members_of, normalize_group
from scim_protocol.patch import apply_patch, patch_readings
from scim_protocol.schema import GROUP

# --- reads ----------------------------------------------------------------------------------


def group_get(group_id: str, *, for_update: bool = False) -> Group:
    """The group with this id in the current company. Raises GroupNotFound for an unknown id
    (or one that is not a UUID)."""
    parsed = parse_member_id(group_id)
    queryset = Group.objects.select_for_update() if for_update else Group.objects.all()
    group = queryset.filter(pk=parsed).first() if parsed else None
    if group is None:
        raise GroupNotFound(f"No group with id {group_id!r}.")
    return group


def _member_display() -> Any:
    return Coalesce(
        NullIf(F("display"), Value("")),
        NullIf(F("member__display_name"), Value("")),
        F("member__user_name"),
    )


def group_members(group_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[MemberRef]]:
    """Members of each group, in one query."""
    rows = (
        Membership.objects.filter(group_id__in=list(group_ids))
        .order_by("group_id", "id")
        .values_list("group_id", "member_id", _member_display())
    )
    found: dict[uuid.UUID, list[MemberRef]] = defaultdict(list)
    for group_id, member_id, display in rows:
        found[group_id].append(MemberRef(str(member_id), display))
    return found


def member_groups(member_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[GroupRef]]:
    """Groups (roles) of each member, in one query."""
    rows = (
        Membership.objects.filter(member_id__in=list(member_ids))
        .order_by("member_id", "group__display_name")
        .values_list("member_id", "group_id", "group__display_name")
    )
    found: dict[uuid.UUID, list[GroupRef]] = defaultdict(list)
    for member_id, group_id, name in rows:
        found[member_id].append(GroupRef(str(group_id), name))
    return found


# --- writes ---------------------------------------------------------------------------------


def group_create(*, payload: Any, context: CallContext) -> Group:
    """POST /Groups. Raises InvalidValue (no displayName, unknown member), Uniqueness (409:
    displayName taken, case-insensitively, or externalId taken)."""
    with recorded("create", Subject.from_payload("Group", payload), context, payload) as entry:
        data = normalize_group(payload)
        now = timezone.now()
        group = Group(id=uuid.uuid4(), created_at=now, updated_at=now, version=1)
        group.display_name, group.external_id = data.display_name, data.external_id
        # The members first, as every write takes its locks (directory.selectors).
        _lock_members([member_id for member_id, _ in data.members])
        _save(group, insert=True)
        added, _ = _set_members(group, data.members, current=None)
        entry.succeeded(_subject(group), 201)
        change_events.group_changed(group, entry, created=True, added=added)
    return group


def group_replace(
    *,
    group_id: str,
    payload: Any,
    context: CallContext,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> Group:
    """PUT /Groups/{id}: new displayName, externalId and the whole member list. `if_match`
    and `if_none_match` are the request's preconditions, checked against the locked group
    (PreconditionFailed)."""
    subject = Subject.from_payload("Group", payload, parse_member_id(group_id))
    with recorded("replace", subject, context, payload) as entry:
        group = group_get(group_id, for_update=True)
        check_preconditions(group.version, "group", if_match=if_match, if_none_match=if_none_match)
        before = (group.display_name, group.external_id)
        added, removed = _update(group, normalize_group(payload), current=_current_members(group))
        entry.succeeded(_subject(group), 200)
        change_events.group_changed(group, entry, before=before, added=added, removed=removed)
    return group


def group_patch(
    *,
    group_id: str,
    operations: Sequence[Any],
    context: CallContext,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> Group:
    """PATCH /Groups/{id} in every dialect (Okta's remove-by-filter then add, Entra's value
    arrays, renames whose value carries the readOnly id). Atomic: an unknown member id or any
    bad operation changes nothing (400). Preconditions as group_replace's."""
    with recorded(
        "patch", Subject("Group", parse_member_id(group_id)), context, list(operations)
    ) as entry:
        group = group_get(group_id, for_update=True)
        entry.subject = _subject(group)
        check_preconditions(group.version, "group", if_match=if_match, if_none_match=if_none_match)
        before = (group.display_name, group.external_id)
        plan = membership_plan(operations)
        if plan is not None:
            added, removed = _apply_plan(group, plan)
        else:
            current = _current_members(group)
            patched = apply_patch(_resource_for_patch(group, current), operations, GROUP)
            added, removed = _update(group, normalize_group(patched), current=current)
        entry.succeeded(_subject(group), 204, normalised=patch_readings(operations, GROUP))
        change_events.group_changed(group, entry, before=before, added=added, removed=removed)
    return group


def group_delete(
    *,
    group_id: str,
    context: CallContext,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> None:
    """DELETE (Okta's "unlink and delete", Entra's delete): the role disappears from every
    member; the members themselves are untouched. Preconditions as group_replace's."""
    with recorded("delete", Subject("Group", parse_member_id(group_id)), context) as entry:
        group = group_get(group_id, for_update=True)
        entry.subject = _subject(group)
        check_preconditions(group.version, "group", if_match=if_match, if_none_match=if_none_match)
        group.delete()
        entry.succeeded(entry.subject, 204)
        change_events.group_deleted(entry.subject, entry)


# --- the fast path: what IdPs send every time, as SQL, without loading the members ----------

Step = tuple[str, Any]  # ("add", [(id, display)]), ("remove", [id]), ("rename", name)


def membership_plan(operations: Sequence[Any]) -> list[Step] | None:
    """The operations as SQL-able steps when they are only member adds/removes by value and
    renames (Okta's and Entra's everyday PATCHes); None for anything else, which takes the
    general path (load the group, apply the PATCH engine, diff)."""
    steps: list[Step] = []
    for operation in operations:
        if not isinstance(operation, dict):
            return None
        fields = {str(key).lower(): value for key, value in operation.items()}
        op, path, value = str(fields.get("op", "")).lower(), fields.get("path"), fields.get("value")
        step = _step(op, path, value)
        if step is None:
            return None
        steps.append(step)
    return steps


def _step(op: str, path: Any, value: Any) -> Step | None:
    if path is None and op == "replace" and isinstance(value, dict):
        keys = {str(key).lower() for key in value} - {"id", "schemas", "meta"}
        name = next((v for k, v in value.items() if str(k).lower() == "displayname"), None)
        return ("rename", name) if keys == {"displayname"} and _fast_rename(name) else None
    if not isinstance(path, str):
        return None
    if path.lower() == "displayname" and op in ("add", "replace") and _fast_rename(value):
        return "rename", value
    if path.lower() == "members" and op == "add" and value not in (None, "", []):
        return "add", members_of(value)
    if path.lower() == "members" and op == "remove" and isinstance(value, list) and value:
        return "remove", [member_id for member_id, _ in members_of(value)]
    if op == "remove" and path.lower().startswith("members["):
        try:
            parsed = parse_path(path)
        except errors.ScimError:
            return None
        flt = parsed.filter
        if (
            parsed.attribute.lower() == "members"
            and parsed.sub_attribute is None
            and isinstance(flt, Comparison)
            and flt.path.lower() == "value"
            and flt.op == "eq"
            and isinstance(flt.value, str)
        ):
            member_id = parse_member_id(flt.value)
            return "remove", [member_id] if member_id else []
    return None


def _fast_rename(name: Any) -> bool:
    """Whether a rename to `name` needs none of group_input's checks (the general path
    refuses an empty or overlong name with their message)."""
    return isinstance(name, str) and 0 < len(name.strip()) <= MAX_NAME_LENGTH


def _apply_plan(group: Group, plan: list[Step]) -> tuple[list[MemberKeys], list[MemberKeys]]:
    """Run the plan's steps in order; returns the members added and removed, net (a member
    added then removed by the same PATCH is neither)."""
    # Every member the plan adds, locked before any step writes (directory.selectors' order).
    _lock_members([member_id for kind, added in plan if kind == "add" for member_id, _ in added])
    added: dict[uuid.UUID, MemberKeys] = {}
    removed: dict[uuid.UUID, MemberKeys] = {}
    before = (group.display_name, group.external_id)
    # Whether any membership row was written, even if the PATCH nets out (removed and added
    # again: the row and its display are new).
    rows_written = False
    for kind, argument in plan:
        if kind == "rename":
            group.display_name = argument.strip()
        elif kind == "add":
            for keys in _add_members(group, argument):
                rows_written = True
                if removed.pop(keys[0], None) is None:
                    added[keys[0]] = keys
        elif kind == "remove" and argument:
            for keys in _remove_members(group, argument):
                rows_written = True
                if added.pop(keys[0], None) is None:
                    removed[keys[0]] = keys
    _save_if_changed(group, before, rows_written)
    return list(added.values()), list(removed.values())


def _lock_members(ids: Sequence[uuid.UUID]) -> None:
    """Lock the members a write will add (FOR KEY SHARE, in id order): a concurrent DELETE
    of one either waits for this write (and then removes the new membership with the user)
    or came first, and the user is unknown here. Raises InvalidValue naming unknown ids."""
    known = members_referenced(ids)
    unknown = [str(member_id) for member_id in dict.fromkeys(ids) if member_id not in known]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise errors.InvalidValue(
            f"No user with id {shown} in this company: members were not changed."
        )


# Membership changes with the keys of the members they touched, for their events: one
# statement each whatever the number of members (arrays, not a VALUES list per row).
_ADD_SQL = """
WITH added AS (
    INSERT INTO directory_membership (group_id, member_id, display, created_at)
    SELECT %s, wanted.member_id, wanted.display, statement_timestamp()
    FROM unnest(%s::uuid[], %s::text[]) AS wanted(member_id, display)
    ON CONFLICT (group_id, member_id) DO NOTHING
    RETURNING member_id
)
SELECT m.id, m.user_name, m.external_id
FROM added JOIN directory_member AS m ON m.id = added.member_id
ORDER BY m.id
"""
_REMOVE_SQL = """
WITH removed AS (
    DELETE FROM directory_membership WHERE group_id = %s AND member_id = ANY(%s::uuid[])
    RETURNING member_id
)
SELECT m.id, m.user_name, m.external_id
FROM removed JOIN directory_member AS m ON m.id = removed.member_id
ORDER BY m.id
"""


def _add_members(group: Group, members: Sequence[tuple[uuid.UUID, str]]) -> list[MemberKeys]:
    """Add members that `_lock_members` found and locked; returns those that were not in the
    group already."""
    wanted: dict[uuid.UUID, str] = {}
    for member_id, display in members:  # the first display sent for a member wins
        wanted.setdefault(member_id, display)
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_ADD_SQL, [group.id, list(wanted), list(wanted.values())])
        return list(cursor.fetchall())


def _remove_members(group: Group, member_ids: Sequence[uuid.UUID]) -> list[MemberKeys]:
    """Remove these members from the group; returns those that were in it."""
    removed: list[MemberKeys] = []
    for chunk in _chunks(member_ids):
        with connection.cursor() as cursor:
            cursor.execute(_REMOVE_SQL, [group.id, chunk])
            removed += cursor.fetchall()
    return removed


def _subject(group: Group) -> Subject:
    return Subject(
        "Group", group.id, external_id=group.external_id or "", display_name=group.display_name
    )


def _current_members(group: Group) -> dict[uuid.UUID, str]:
    """The group's members as {user id: display as sent}, in the order they were added."""
    rows = Membership.objects.filter(group=group).order_by("id").values_list("member_id", "display")
    return dict(rows)


def _resource_for_patch(group: Group, members: dict[uuid.UUID, str]) -> dict[str, Any]:
    """The group as the PATCH engine sees it: IdPs address members by value, so ids (and the
    displays they sent) are all it needs, with no join to the user table."""
    resource: dict[str, Any] = {
        "displayName": group.display_name,
        "members": [
            {"value": str(member_id), **({"display": display} if display else {})}
            for member_id, display in members.items()
        ],
    }
    if group.external_id:
        resource["externalId"] = group.external_id
    return resource


def _update(
    group: Group, data: GroupInput, *, current: dict[uuid.UUID, str]
) -> tuple[list[MemberKeys], list[MemberKeys]]:
    _lock_members([member_id for member_id, _ in data.members if member_id not in current])
    before = (group.display_name, group.external_id)
    group.display_name, group.external_id = data.display_name, data.external_id
    added, removed = _set_members(group, data.members, current=current)
    _save_if_changed(group, before, bool(added or removed))
    return added, removed


def _save_if_changed(group: Group, before: tuple[str, str | None], members_changed: bool) -> None:
    """Save the group with a new version and lastModified if its name, externalId or
    members changed. RFC 7644 §3.5.2: an update that changes nothing keeps both (a client's
    ETag stays good; Okta re-sends the group's name with every membership push), and writes
    no row."""
    if not members_changed and (group.display_name, group.external_id) == before:
        return
    group.version += 1
    group.updated_at = timezone.now()
    _save(group, insert=False)


def _save(group: Group, *, insert: bool) -> None:
    save_unique(
        group,
        insert=insert,
        conflicts={
            "display_name": f'A group named "{group.display_name}" already exists.',
            "external_id": f'A group with externalId "{group.external_id}" already exists.',
        },
    )


CHUNK = 10_000  # ids per query: far below PostgreSQL's 65,535 bind parameters


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _set_members(
    group: Group, wanted: Sequence[tuple[uuid.UUID, str]], *, current: dict[uuid.UUID, str] | None
) -> tuple[list[MemberKeys], list[MemberKeys]]:
    """Make the group's members exactly `wanted`: insert the new ones, delete the gone ones;
    returns (added, removed). `current` is the present membership (None for a new group).
    The new ones were found and locked by `_lock_members` first."""
    present = current or {}
    wanted_ids = {member_id for member_id, _ in wanted}
    to_add = [(member_id, display) for member_id, display in wanted if member_id not in present]
    to_remove = [member_id for member_id in present if member_id not in wanted_ids]
    removed = _remove_members(group, to_remove)
    added = _add_members(group, to_add)
    return added, removed
