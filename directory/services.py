"""Writes about members (SCIM Users). Each service owns its transaction, the seat lock, the
multi-valued attribute rows and the ledger row; views call exactly one of them."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from directory.integrity import check_if_match, save_unique
from directory.ledger import CallContext, Subject, recorded
from directory.models import Member, MemberValue
from directory.seats import seats_release, seats_take
from directory.selectors import member_get, parse_member_id
from scim import errors
from scim.patch import apply_patch
from scim.schema import ENTERPRISE_USER, USER
from scim.user_input import UserPolicy, normalize_user, policy_from, primary_email
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
    return policy_from(company.username_is_work_email, company.attribute_allowlist)


def member_create(*, company: Company, payload: Any, context: CallContext) -> Member:
    """Create a member from a POSTed User. Raises ScimError subclasses: InvalidValue /
    InvalidSyntax for a bad body, Uniqueness (409) when userName or externalId is taken,
    SeatLimitReached (403) when no seat is free. Every outcome is recorded in the ledger."""
    with recorded("create", Subject.from_payload("User", payload), context, payload) as entry:
        resource = normalize_user(payload, user_policy(company))
        now = timezone.now()
        member = Member(id=uuid.uuid4(), created_at=now, updated_at=now, version=1)
        _apply(member, resource)
        # First, as in member_delete and updates: the seat lock (the company's row) comes
        # before the position index's bucket row and the new userName's index entry.
        if member.active:
            seats_take(company)
        _save(member, insert=True)
        _write_values(member, resource, replace=False)
        _adopt_waiting_reports(member)
        entry.succeeded(_subject(member), 201)
    return member


def member_replace(
    *,
    company: Company,
    member_id: str,
    payload: Any,
    context: CallContext,
    if_match: str | None = None,
) -> Member:
    """PUT: replace the member with the User in `payload` (readOnly id/meta/groups and
    `password` are ignored). Raises NotFound, PreconditionFailed, Mutability (userName
    immutable by company policy), Uniqueness, SeatLimitReached (reactivation), InvalidValue."""
    subject = Subject.from_payload("User", payload, parse_member_id(member_id))
    with recorded("replace", subject, context, payload) as entry:
        member = member_get(member_id, for_update=True, with_roles=True)
        check_if_match(member.version, if_match, "user")
        _update(company, member, normalize_user(payload, user_policy(company)))
        entry.succeeded(_subject(member), 200)
    return member


def member_patch(
    *,
    company: Company,
    member_id: str,
    operations: Sequence[Any],
    context: CallContext,
    if_match: str | None = None,
) -> Member:
    """PATCH: apply the operations to the stored User, atomically (any failing operation
    changes nothing). Raises what member_replace raises, plus the PATCH errors (InvalidPath,
    NoTarget, InvalidSyntax)."""
    with recorded(
        "patch", Subject("User", parse_member_id(member_id)), context, list(operations)
    ) as entry:
        member = member_get(member_id, for_update=True, with_roles=True)
        entry.subject = _subject(member)
        check_if_match(member.version, if_match, "user")
        patched = apply_patch(copy.deepcopy(member.attributes), operations, USER)
        _update(
            company, member, normalize_user(patched, user_policy(company), default_active=False)
        )
        entry.succeeded(_subject(member), 200)
    return member


def member_delete(
    *, company: Company, member_id: str, context: CallContext, if_match: str | None = None
) -> None:
    """DELETE (Entra's hard delete): the member is gone; a later GET is 404. Frees the seat."""
    with recorded("delete", Subject("User", parse_member_id(member_id)), context) as entry:
        member = member_get(member_id, for_update=True)
        entry.subject = _subject(member)
        check_if_match(member.version, if_match, "user")
        if member.active:
            seats_release(company)
        member.delete()
        entry.succeeded(entry.subject, 204)


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
    if company.username_immutable and resource["userName"].lower() != old_user_name.lower():
        raise errors.Mutability(
            f'userName cannot change for this company (it is "{old_user_name}").'
        )
    _apply(member, resource)
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
    if member.user_name.lower() != old_user_name.lower():
        _adopt_waiting_reports(member)


def _multi_valued(resource: dict[str, Any]) -> list[Any]:
    return [resource.get(attribute, []) for attribute in MULTI_VALUED]


def _apply(member: Member, resource: dict[str, Any]) -> None:
    """Copy the canonical resource onto the member's columns."""
    member.attributes = resource
    member.user_name = resource["userName"]
    member.external_id = resource.get("externalId") or None
    member.active = bool(resource.get("active", True))
    member.display_name = str(resource.get("displayName", ""))[:255]
    name = resource.get("name", {})
    member.given_name = str(name.get("givenName", ""))[:255]
    member.family_name = str(name.get("familyName", ""))[:255]
    member.primary_email = (primary_email(resource) or "").lower()[:320]
    _link_manager(member, resource.get(ENTERPRISE_USER, {}).get("manager"))


def _link_manager(member: Member, manager: dict[str, Any] | None) -> None:
    reference = (manager or {}).get("value", "")
    if not reference:
        member.manager, member.manager_ref = None, ""
        return
    by_id = parse_member_id(reference)
    lookup = Q(pk=by_id) if by_id else Q()
    lookup |= Q(user_name_ci=reference.lower())
    found = (
        Member.objects.alias(user_name_ci=Lower("user_name"))
        .filter(lookup)
        .exclude(pk=member.pk)
        .first()
    )
    if found is None and (by_id == member.id or reference.lower() == member.user_name.lower()):
        raise errors.InvalidValue("A user cannot be their own manager.")
    member.manager = found
    member.manager_ref = "" if found else reference[:255]


# Runs on every create: constant SQL, since compiling the equivalent ORM update cost ~0.5 ms
# (a tenth of a create). The partial index member_pending_manager holds only waiting rows.
_ADOPT_SQL = """
UPDATE directory_member SET manager_id = %(id)s, manager_ref = ''
WHERE manager_id IS NULL AND manager_ref <> ''
  AND (manager_ref = %(id_text)s OR upper(manager_ref) = upper(%(user_name)s))
  AND id <> %(id)s
"""


def _adopt_waiting_reports(member: Member) -> None:
    """Members whose manager was named (by id or userName, any case) before this member
    existed now point at it."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ADOPT_SQL,
            {"id": member.id, "id_text": str(member.id), "user_name": member.user_name},
        )


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
            value_lower=str(item.get("value", ""))[:1024].lower(),
            type_lower=str(item.get("type", ""))[:64].lower(),
        )
        for attribute in MULTI_VALUED
        for item in resource.get(attribute, [])
        if isinstance(item, dict)
    ]
    if rows:
        MemberValue.objects.bulk_create(rows)
