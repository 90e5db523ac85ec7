"""The change events of directory writes (events.outbox), built from what the write already
holds: no query of their own but the one `emit` statement, which also writes the write's
ledger success row when `entry.succeeded` came first. Called by the services in
directory/services.py and directory/groups.py right after the ledger's `entry.succeeded`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection

from directory.ledger import CallContext, LedgerEntry, Subject
from directory.models import Group, Member
from directory.selectors import GroupRef
from events.outbox import Emission, EventType, NewEvent, Origin, emission, emit
from scim_protocol.group_resource import group_to_scim, user_groups
from scim_protocol.schema import ENTERPRISE_USER
from scim_protocol.user_resource import user_to_scim
from tenants.links import scim_base_url
from tenants.models import Company

# A member whose membership changed: (id, userName, externalId).
MemberKeys = tuple[uuid.UUID, str, str | None]


def _origin(context: CallContext) -> Origin:
    return Origin(request_id=context.request_id, idp=context.idp)


def _emit(events: Sequence[NewEvent], entry: LedgerEntry) -> None:
    """The write's events, with its ledger success row in the same statement."""
    if events:
        emit(events, origin=_origin(entry.context), along=entry.take_success())


def _scim_base(company: Company | None = None) -> str:
    """The company's SCIM base URL for the resources' `location` and `$ref`: absolute when
    PUBLIC_BASE_URL is set, else the path."""
    tenant = company or getattr(connection, "tenant", None)
    return scim_base_url(None, tenant) if isinstance(tenant, Company) else ""


def _user_resource(company: Company, member: Member, roles: Sequence[GroupRef]) -> Any:
    base = _scim_base(company)
    return user_to_scim(
        member,
        users_url=f"{base}/Users",
        groups=user_groups([(ref.id, ref.display) for ref in roles], f"{base}/Groups"),
    )


def _user_event(kind: str, member: Member, data: Any, changed: Sequence[str] = ()) -> NewEvent:
    return NewEvent(
        type=kind,
        resource_type="User",
        resource_id=member.id,
        external_id=member.external_id or "",
        user_name=member.user_name,
        display_name=member.display_name,
        changed=changed,
        data=data,
    )


def user_created(company: Company, member: Member, entry: LedgerEntry) -> Emission:
    """user.created with the ledger's success row (`entry.succeeding` first), built for the
    caller to run after its last write: member_create builds it before the seat lock."""
    event = _user_event(EventType.USER_CREATED, member, _user_resource(company, member, []))
    built = emission([event], origin=_origin(entry.context), along=entry.take_success())
    if built is None:  # never: there is an event
        raise AssertionError("user_created(): no statement for its event")
    return built


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The top-level attribute names whose values differ (the enterprise extension's by
    their full name, e.g. `urn:…:enterprise:2.0:User:department`), sorted."""
    changed = {key for key in before.keys() | after.keys() if key != ENTERPRISE_USER}
    changed = {key for key in changed if before.get(key) != after.get(key)}
    old_ext, new_ext = before.get(ENTERPRISE_USER) or {}, after.get(ENTERPRISE_USER) or {}
    for key in old_ext.keys() | new_ext.keys():
        if old_ext.get(key) != new_ext.get(key):
            changed.add(f"{ENTERPRISE_USER}:{key}")
    return sorted(changed)


def user_updating(
    company: Company,
    member: Member,
    roles: Sequence[GroupRef],
    *,
    changed: Sequence[str],
    was_active: bool,
    entry: LedgerEntry,
) -> Emission | None:
    """user.deactivated / user.reactivated when `active` flipped, else user.updated, with the
    ledger's success row (`entry.succeeding` first): a statement built from the member as the
    update will write it, for the caller to run after its last write. `changed`: the
    attributes it changes (`changed_attributes`, which the update also keeps its version by).
    None when it changes none (an IdP re-sending the same user; the ledger row is then
    written on its own)."""
    if not changed:
        return None
    if was_active and not member.active:
        kind = EventType.USER_DEACTIVATED
    elif member.active and not was_active:
        kind = EventType.USER_REACTIVATED
    else:
        kind = EventType.USER_UPDATED
    data = _user_resource(company, member, roles)
    event = _user_event(kind, member, data, changed)
    return emission([event], origin=_origin(entry.context), along=entry.take_success())


def _deleted(kind: str, subject: Subject) -> NewEvent:
    # From the ledger's subject: a deleted model instance has lost its id.
    return NewEvent(
        type=kind,
        resource_type=subject.resource_type,
        resource_id=subject.resource_id,
        external_id=subject.external_id,
        user_name=subject.user_name,
        display_name=subject.display_name,
    )


def user_deleted(subject: Subject, entry: LedgerEntry) -> None:
    _emit([_deleted(EventType.USER_DELETED, subject)], entry)


def _group_resource(group: Group) -> Any:
    """The group as GET returns it with `excludedAttributes=members`: a group of a million
    members is not copied into every event; its membership changes are events of their own."""
    base = _scim_base()
    return group_to_scim(
        group, groups_url=f"{base}/Groups", users_url=f"{base}/Users", members=None
    )


def _group_event(kind: str, group: Group, data: Any, changed: Sequence[str] = ()) -> NewEvent:
    return NewEvent(
        type=kind,
        resource_type="Group",
        resource_id=group.id,
        external_id=group.external_id or "",
        display_name=group.display_name,
        changed=changed,
        data=data,
    )


def _membership_events(kind: str, group: Group, members: Sequence[MemberKeys]) -> list[NewEvent]:
    reference = {
        "id": str(group.id),
        "displayName": group.display_name,
        **({"externalId": group.external_id} if group.external_id else {}),
    }
    return [
        NewEvent(
            type=kind,
            resource_type="User",
            resource_id=member_id,
            external_id=external_id or "",
            user_name=user_name,
            data={
                "group": reference,
                "user": {
                    "id": str(member_id),
                    "userName": user_name,
                    **({"externalId": external_id} if external_id else {}),
                },
            },
        )
        for member_id, user_name, external_id in members
    ]


def group_changed(
    group: Group,
    entry: LedgerEntry,
    *,
    created: bool = False,
    before: tuple[str, str | None] | None = None,
    added: Sequence[MemberKeys] = (),
    removed: Sequence[MemberKeys] = (),
) -> None:
    """The events of one group write, in one statement: group.created, or group.renamed /
    group.updated when `before` (displayName, externalId) differs, then one
    group.member_removed / group.member_added per member whose membership changed."""
    events: list[NewEvent] = []
    if created:
        events.append(_group_event(EventType.GROUP_CREATED, group, _group_resource(group)))
    elif before is not None:
        changed = [
            name
            for name, old, new in (
                ("displayName", before[0], group.display_name),
                ("externalId", before[1] or "", group.external_id or ""),
            )
            if old != new
        ]
        if changed:
            kind = EventType.GROUP_RENAMED if "displayName" in changed else EventType.GROUP_UPDATED
            events.append(_group_event(kind, group, _group_resource(group), changed))
    events += _membership_events(EventType.GROUP_MEMBER_REMOVED, group, removed)
    events += _membership_events(EventType.GROUP_MEMBER_ADDED, group, added)
    _emit(events, entry)


def group_deleted(subject: Subject, entry: LedgerEntry) -> None:
    """group.deleted; its members' memberships go with it without an event each."""
    _emit([_deleted(EventType.GROUP_DELETED, subject)], entry)


def seat_limit_reached(company: Company, user_name: str, context: CallContext) -> None:
    """company.seat_limit_reached: a write was refused for want of a seat. Written after the
    refused write rolled back, in a transaction of its own (like the ledger's failure row)."""
    emit(
        [
            NewEvent(
                type=EventType.SEAT_LIMIT_REACHED,
                resource_type="Company",
                user_name=user_name,
                data={
                    "company": company.slug,
                    "seatLimit": company.seat_limit,
                    "refusedUserName": user_name,
                },
            )
        ],
        origin=_origin(context),
    )
