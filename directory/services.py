"""Writes about members (SCIM Users). Each service owns its transaction, the seat lock, the
multi-valued attribute rows and the ledger row; views call exactly one of them."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from directory.columns import member_column_values
from directory.integrity import check_if_match, save_unique
from directory.ledger import CallContext, LedgerEntry, Subject, recorded
from directory.models import Member, MemberValue
from directory.seats import seats_release, seats_take
from directory.selectors import (
    MemberWithRoles,
    folded,
    manager_named,
    member_get,
    member_get_with_roles,
    members_waiting_for,
    parse_member_id,
    reports_of,
    same_when_folded,
)
from scim_protocol import errors
from scim_protocol.patch import apply_patch
from scim_protocol.schema import ENTERPRISE_USER, USER
from scim_protocol.user_input import UserPolicy, normalized_user, policy_from, primary_email
from tenants.models import Company

MULTI_VALUED = (
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509Certificates",
)


def user_policy(company: Company) -> UserPolicy:
    return policy_from(
        company.username_is_work_email, company.attribute_allowlist, strict=company.scim_strict
    )


def member_create(*, company: Company, payload: Any, context: CallContext) -> Member:
    """Create a member from a POSTed User. Raises ScimError subclasses: InvalidValue /
    InvalidSyntax for a bad body, Uniqueness (409) when userName or externalId is taken,
    SeatLimitReached (403) when no seat is free. Every outcome is recorded in the ledger;
    optional values left out (scim_protocol.user_input) are warnings on its row."""
    with recorded("create", Subject.from_payload("User", payload), context, payload) as entry:
        normalized = normalized_user(payload, user_policy(company))
        resource = normalized.resource
        now = timezone.now()
        member = Member(id=uuid.uuid4(), created_at=now, updated_at=now, version=1)
        _apply(member, resource)
        _link_manager(member, resource, current=None)
        # Locks in the order directory.selectors documents: the waiting reports' rows, then
        # the seat lock (the company's row), then the position index's bucket row and the new
        # userName's index entry, as in member_delete and updates.
        waiting = members_waiting_for(member.id, member.user_name)
        if member.active:
            seats_take(company)
        _save(member, insert=True)
        _write_values(member, resource, replace=False)
        _adopt(member, waiting)
        entry.succeeded(_subject(member), 201, warnings=normalized.dropped)
    return member


def member_replace(
    *,
    company: Company,
    member_id: str,
    payload: Any,
    context: CallContext,
    if_match: str | None = None,
) -> MemberWithRoles:
    """PUT: replace the member with the User in `payload` (readOnly id/meta/groups and
    `password` are ignored); returns the member and its groups, read with the row lock (a
    user's write never changes them). Raises NotFound, PreconditionFailed, Mutability
    (userName immutable by company policy), Uniqueness, SeatLimitReached (reactivation),
    InvalidValue."""
    subject = Subject.from_payload("User", payload, parse_member_id(member_id))
    with recorded("replace", subject, context, payload) as entry:
        found = member_get_with_roles(member_id, for_update=True)
        member = found.member
        check_if_match(member.version, if_match, "user")
        normalized = normalized_user(payload, user_policy(company))
        _update(company, member, normalized.resource)
        entry.succeeded(_subject(member), 200, warnings=normalized.dropped)
    return found


def member_patch(
    *,
    company: Company,
    member_id: str,
    operations: Sequence[Any],
    context: CallContext,
    if_match: str | None = None,
) -> MemberWithRoles:
    """PATCH: apply the operations to the stored User, atomically (any failing operation
    changes nothing); returns what member_replace returns. Raises what member_replace raises,
    plus the PATCH errors (InvalidPath, NoTarget, InvalidSyntax)."""
    with recorded(
        "patch", Subject("User", parse_member_id(member_id)), context, list(operations)
    ) as entry:
        found = member_get_with_roles(member_id, for_update=True)
        member = found.member
        entry.subject = _subject(member)
        check_if_match(member.version, if_match, "user")
        patched = apply_patch(copy.deepcopy(member.attributes), operations, USER)
        normalized = normalized_user(patched, user_policy(company), default_active=False)
        _update(company, member, normalized.resource)
        entry.succeeded(_subject(member), 200, warnings=normalized.dropped)
    return found


def member_delete(
    *, company: Company, member_id: str, context: CallContext, if_match: str | None = None
) -> None:
    """DELETE, as the company's deprovisioning policy says (`Company.scim_delete_action`):
    delete (Entra's hard delete: a later GET is 404) or deactivate and keep the member (a
    later GET shows `active: false`; the IdP can reactivate them). Either frees the seat, and
    the ledger row says which happened. Raises NotFound, PreconditionFailed."""
    with recorded("delete", Subject("User", parse_member_id(member_id)), context) as entry:
        if company.scim_delete_action == Company.DeleteAction.DEACTIVATE:
            _deactivate_on_delete(company, member_id, if_match, entry)
            return
        member = member_get(member_id, for_update=True)
        entry.subject = _subject(member)
        check_if_match(member.version, if_match, "user")
        # Its reports' rows (their manager becomes empty) before the seat lock: the order
        # every write takes (directory.selectors). No new report can appear meanwhile: naming
        # this member as manager takes FOR KEY SHARE on its row, which waits for this delete.
        reports_of(member.id)
        if member.active:
            seats_release(company)
        member.delete()
        entry.succeeded(entry.subject, 204, detail="Deleted.")


def _deactivate_on_delete(
    company: Company, member_id: str, if_match: str | None, entry: LedgerEntry
) -> None:
    """The DELETE of a company that keeps its users: the same write as a PATCH setting
    `active` to false (its row, then the seat lock), so a later reactivation is an ordinary
    update. Deleting an already inactive member changes nothing."""
    member = member_get(member_id, for_update=True)
    entry.subject = _subject(member)
    check_if_match(member.version, if_match, "user")
    if member.active:
        _update(company, member, {**member.attributes, "active": False})
    entry.succeeded(
        _subject(member),
        204,
        detail="Deactivated and kept, as this company's deprovisioning policy says "
        "(the identity provider can reactivate the user).",
    )


# --- internals ------------------------------------------------------------------------------


def _subject(member: Member) -> Subject:
    return Subject(
        resource_type="User",
        resource_id=member.id,
        user_name=member.user_name,
        external_id=member.external_id or "",
        display_name=member.display_name,
    )


def _update(company: Company, member: Member, resource: dict[str, Any]) -> None:
    was_active = member.active
    old_user_name, old_external_id = member.user_name, member.external_id
    old_values = _multi_valued(member.attributes)
    # Renamed as the unique index sees it (the database's folding), not as Python lowers.
    renamed = not same_when_folded(resource["userName"], old_user_name)
    if company.username_immutable and renamed:
        raise errors.Mutability(
            f'userName cannot change for this company (it is "{old_user_name}").'
        )
    current_manager = member.manager_id
    _apply(member, resource)
    _link_manager(member, resource, current=current_manager)
    waiting = members_waiting_for(member.id, member.user_name) if renamed else []
    # The seat lock (the company's row) before writing the new userName: a create takes it
    # before inserting one, so a rename racing a create of the same name cannot deadlock.
    if member.active and not was_active:
        seats_take(company)
    elif was_active and not member.active:
        seats_release(company)
    member.version += 1
    member.updated_at = timezone.now()
    keys_changed = (member.user_name, member.external_id) != (old_user_name, old_external_id)
    _save(member, insert=False, keys_changed=keys_changed)
    # The searchable copies of emails, phone numbers… are rewritten only when those changed
    # (not on the deactivations and reactivations that most updates are).
    if _multi_valued(resource) != old_values:
        _write_values(member, resource, replace=True)
    _adopt(member, waiting)


def _multi_valued(resource: dict[str, Any]) -> list[Any]:
    return [resource.get(attribute, []) for attribute in MULTI_VALUED]


def _apply(member: Member, resource: dict[str, Any]) -> None:
    """Copy the canonical resource onto the member's columns."""
    member.attributes = resource
    for field, value in member_column_values(resource).items():
        setattr(member, field, value)
    # Folded by the database, as the filters fold what they compare it with.
    member.primary_email = folded(primary_email(resource) or "", max_length=320)


def _link_manager(member: Member, resource: dict[str, Any], *, current: uuid.UUID | None) -> None:
    """Point the member at the manager the resource names (by id or userName), or keep the
    reference waiting for that manager to be created. A manager it did not have before is
    locked FOR KEY SHARE (directory.selectors' lock order), so a concurrent delete of that
    manager either waits for this write or has happened, and the reference waits instead.
    Raises InvalidValue when the member names itself. `current`: the manager it has now
    (None for a new member)."""
    manager = resource.get(ENTERPRISE_USER, {}).get("manager")
    reference = (manager or {}).get("value", "")
    if not reference:
        member.manager_id, member.manager_ref = None, ""
        return
    new = member._state.adding
    # A create holds no row yet, so it can lock the manager as it looks it up. An update
    # locks it only when the manager changes: one it already had needs no foreign key check,
    # and waiting for it would deadlock with its delete, which waits for this member's row.
    found = manager_named(reference, excluding=member.id, lock=new)
    if found is not None and found != current and not new:
        found = manager_named(reference, excluding=member.id, lock=True)
    if found is None and (
        parse_member_id(reference) == member.id or same_when_folded(reference, member.user_name)
    ):
        raise errors.InvalidValue("A user cannot be their own manager.")
    member.manager_id = found
    member.manager_ref = "" if found else reference[:255]


# Constant SQL, since compiling the equivalent ORM update cost ~0.5 ms (a tenth of a create).
_ADOPT_SQL = "UPDATE directory_member SET manager_id = %s, manager_ref = '' WHERE id = ANY(%s)"


def _adopt(member: Member, waiting: list[uuid.UUID]) -> None:
    """The members whose manager was named (by id or userName) before this member existed,
    found and locked by `members_waiting_for`, now point at it."""
    if waiting:
        with connection.cursor() as cursor:
            cursor.execute(_ADOPT_SQL, [member.id, waiting])


def _save(member: Member, *, insert: bool, keys_changed: bool = True) -> None:
    save_unique(
        member,
        insert=insert,
        keys_changed=keys_changed,
        conflicts={
            "user_name": f'A user with userName "{member.user_name}" already exists.',
            "external_id": f'A user with externalId "{member.external_id}" already exists.',
        },
    )


def _write_values(member: Member, resource: dict[str, Any], *, replace: bool) -> None:
    if replace:
        MemberValue.objects.filter(member=member).delete()
    rows = [
        MemberValue(
            member=member,
            attribute=attribute,
            item=item,
            value_lower=folded(str(item.get("value", "")), max_length=1024),
            type_lower=folded(str(item.get("type", "")), max_length=64),
        )
        for attribute in MULTI_VALUED
        for item in resource.get(attribute, [])
        if isinstance(item, dict)
    ]
    if rows:
        MemberValue.objects.bulk_create(rows)
