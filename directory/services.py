"""Writes about members (SCIM Users). Each service owns its transaction, the seat lock, the
multi-valued attribute rows and the ledger row; views call exactly one of them."""

from __future__ import annotations

import copy
import functools
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django_tenants.utils import schema_context

from directory import change_events
from directory.brake import DEPROVISION_ONE_CTE, deprovision_params, deprovision_take
from directory.columns import member_column_values
from directory.errors import MemberNotFound
from directory.integrity import check_preconditions, unique_keys
from directory.ledger import CallContext, LedgerEntry, Subject, recorded
from directory.models import MEMBER_BUCKET_SIZE, Member, WaitlistEntry
from directory.seats import TAKE_ONE_CTE, SeatLimitReached, seats_refused
from directory.selectors import (
    WAITING_CTE,
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
from directory.waitlist import (
    FORGET_MEMBER_CTE,
    SOMEONE_WAITING,
    Drained,
    Prepared,
    drain_batch,
    waitlist_context,
    waitlist_drain,
    waitlist_drained,
    waitlist_forget,
    waitlist_prepare,
    waitlisted,
)
from events.outbox import Along, Emission, along_cte
from infra.prepared_query import prepared_cursor
from infra.transactions import ending_transaction, outside_transaction
from scim_protocol import errors
from scim_protocol.patch import apply_patch, patch_readings
from scim_protocol.readings import Reading
from scim_protocol.schema import ENTERPRISE_USER, USER
from scim_protocol.user_input import (
    DroppedValue,
    UserPolicy,
    normalized_user,
    policy_from,
    primary_email,
    quoted,
    reads_as_true,
)
from tenants.models import Company, CompanyEvent
from tenants.services import company_event_extend, company_update_settings, seat_limit_check

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
    with (
        _seat_refusal_announced(company, context) as watch,
        recorded("create", Subject.from_payload("User", payload), context, payload) as entry,
    ):
        watch.entry = entry
        normalized = normalized_user(payload, user_policy(company))
        resource = normalized.resource
        now = timezone.now()
        member = Member(id=uuid.uuid4(), created_at=now, updated_at=now, version=1)
        _apply(member, resource)
        own = _link_manager(member, resource, current=None, strict=company.scim_strict)
        # What the create records (its ledger row, its event with the rendered resource) is
        # built before its statement: from its seat lock to the commit the company's other
        # writers wait, so only that statement runs in between.
        entry.succeeding(
            _subject(member),
            201,
            warnings=normalized.dropped + own,
            normalised=normalized.readings,
        )
        created = change_events.user_created(company, member, entry)
        if not member.active:
            # Created deactivated: a person waiting under this name no longer wants a seat.
            # Waitlist rows are the last locks of directory.selectors' order, so the reports
            # waiting for this member, which its statement locks again, are locked first.
            members_waiting_for(member.id, member.user_name)
            waitlist_forget(user_name=member.user_name, external_id=member.external_id or "")
        # One statement: it locks the reports waiting for this member, takes the seat, writes
        # the member, adopts the reports, and writes the event and ledger row (`_write`).
        try:
            # With its event and ledger row riding, nothing is written after it: when
            # nothing was before it either (no manager locked, not created deactivated), it
            # is the whole transaction (`last`).
            _write(
                member,
                insert=True,
                values=True,
                recording=created if created.bound else None,
                seat=company if member.active else None,
                last=created.bound,
            )
        except SeatLimitReached as full:
            # Re-provisioning someone who exists is a 409 even when seats are full (the
            # IdP's retry of a person the waitlist provisioned): never a waitlist entry.
            if _named(member.user_name).exists():
                raise errors.Uniqueness(
                    f'A user with userName "{member.user_name}" already exists.'
                ) from None
            raise waitlisted(
                full, operation="create", resource=resource, member_id=None, idp=context.idp
            ) from None
        if not created.bound:
            created.run()
    return member


def member_replace(
    *,
    company: Company,
    member_id: str,
    payload: Any,
    context: CallContext,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> MemberWithRoles:
    """PUT: replace the member with the User in `payload` (readOnly id/meta/groups and
    `password` are ignored); returns the member and its groups, read with the member (a
    user's write never changes them; `_member_update` says when that read takes the row
    lock). `if_match` and `if_none_match` are the request's preconditions, checked against
    the version the write replaces. Raises NotFound, PreconditionFailed, Mutability
    (userName immutable by company policy), Uniqueness, SeatLimitReached (reactivation),
    InvalidValue."""
    subject = Subject.from_payload("User", payload, parse_member_id(member_id))

    def revise(member: Member) -> _Revision:
        normalized = normalized_user(payload, user_policy(company))
        return normalized.resource, normalized.dropped, normalized.readings

    with (
        _seat_refusal_announced(company, context) as watch,
        recorded("replace", subject, context, payload) as entry,
    ):
        watch.entry = entry
        # A PUT saying `active: false` deactivates, or keeps a user deactivated: seats and
        # the waitlist are involved, so the member is locked from the start.
        optimistic = not (isinstance(payload, dict) and payload.get("active") is False)
        return _member_update(
            company,
            member_id,
            entry,
            context,
            revise,
            if_match=if_match,
            if_none_match=if_none_match,
            optimistic=optimistic,
        )


def member_patch(
    *,
    company: Company,
    member_id: str,
    operations: Sequence[Any],
    context: CallContext,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> MemberWithRoles:
    """PATCH: apply the operations to the stored User, atomically (any failing operation
    changes nothing); returns what member_replace returns. Raises what member_replace raises,
    plus the PATCH errors (InvalidPath, NoTarget, InvalidSyntax)."""

    def revise(member: Member) -> _Revision:
        patched = apply_patch(copy.deepcopy(member.attributes), operations, USER)
        normalized = normalized_user(patched, user_policy(company), default_active=False)
        readings = patch_readings(operations, USER) + normalized.readings
        return normalized.resource, normalized.dropped, readings

    with (
        _seat_refusal_announced(company, context) as watch,
        recorded(
            "patch", Subject("User", parse_member_id(member_id)), context, list(operations)
        ) as entry,
    ):
        watch.entry = entry
        # A deactivation involves seats, the brake and the waitlist: it locks the member from
        # the start. A PATCH keeping `active: true` (Entra sends it with other changes, Okta
        # to reactivate) tries without: it finds an inactive member and takes the locked way.
        return _member_update(
            company,
            member_id,
            entry,
            context,
            revise,
            if_match=if_match,
            if_none_match=if_none_match,
            optimistic=not _may_deactivate(operations),
            subject_from_member=True,
        )


def _may_deactivate(operations: Sequence[Any]) -> bool:
    """Whether a PATCH may leave the member inactive: it names `active` (by path, or as a key
    of a path-less value) other than to set it true, or cannot be read. A hint only: an
    optimistic update that changes `active` after all takes the locked way."""
    for operation in operations:
        if not isinstance(operation, dict):
            return True
        path, value = operation.get("path"), operation.get("value")
        keeps_true = reads_as_true(value) and str(operation.get("op", "")).lower() != "remove"
        if isinstance(path, str) and "active" in path.lower() and not keeps_true:
            return True
        if path is None and isinstance(value, dict):
            named = [v for key, v in value.items() if "active" in str(key).lower()]
            if not all(reads_as_true(v) for v in named):
                return True
    return False


# What an update makes of the stored member: the canonical resource, the optional values
# dropped from it and what was read in the caller's dialect (the ledger row's warnings and
# readings).
_Revision = tuple[dict[str, Any], Sequence[DroppedValue], Sequence[Reading]]


class _NeedsLocks(Exception):
    """An optimistic update that would lock more than its member's row (`_member_update`)."""


def _member_update(
    company: Company,
    member_id: str,
    entry: LedgerEntry,
    context: CallContext,
    revise: Callable[[Member], _Revision],
    *,
    if_match: str | None,
    if_none_match: str | None,
    optimistic: bool,
    subject_from_member: bool = False,
) -> MemberWithRoles:
    """An update of one member (PUT, PATCH): `revise` makes the new resource from the stored
    member. Returns the member as written, with its groups.

    When `optimistic`, the member is first read without a lock, outside the transaction
    (infra.transactions), and written only if its version is still the one read, in one
    statement that is then the whole transaction: no BEGIN or COMMIT round trip, and no lock
    held between the read and the write. Only an update that locks nothing but the member's
    row can: one that keeps the member active, its userName (a rename locks the reports
    waiting for it) and its manager (a new one is locked). Otherwise, or when the member
    changed meanwhile, it reads the member locked and writes in the transaction.

    The preconditions (`if_match`, `if_none_match`) are checked on each try against the
    version it read: the version the write replaces, as the optimistic statement writes
    only if it is still there, and the locked try checks them again."""

    def attempt(locked: bool) -> MemberWithRoles | None:
        """One try: None when an optimistic one cannot be (`_NeedsLocks`) or found the
        member changed since it read it."""
        try:
            with nullcontext() if locked else outside_transaction():
                found = member_get_with_roles(member_id, for_update=locked)
                member = found.member
                if subject_from_member:
                    entry.subject = _subject(member)
                check_preconditions(
                    member.version, "user", if_match=if_match, if_none_match=if_none_match
                )
                resource, warnings, readings = revise(member)
                change = _update_prepare(company, member, resource, locked=locked)
        except _NeedsLocks:
            return None
        entry.succeeding(
            _subject(member), 200, warnings=tuple(warnings) + change.warnings, normalised=readings
        )
        if _update_recorded(company, found, change, entry, context, optimistic=not locked):
            return found
        return None

    for locked in (False, True) if optimistic else (True,):
        if (written := attempt(locked)) is not None:
            return written
    raise AssertionError("A locked update is written or raises.")


def member_delete(
    *,
    company: Company,
    member_id: str,
    context: CallContext,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> None:
    """DELETE, as the company's deprovisioning policy says (`Company.scim_delete_action`):
    delete (Entra's hard delete: a later GET is 404) or deactivate and keep the member (a
    later GET shows `active: false`; the IdP can reactivate them). Either frees the seat, and
    the ledger row says which happened. Preconditions as member_replace's, against the
    locked member. Raises NotFound, PreconditionFailed."""
    with recorded("delete", Subject("User", parse_member_id(member_id)), context) as entry:
        if company.scim_delete_action == Company.DeleteAction.DEACTIVATE:
            _deactivate_on_delete(company, member_id, if_match, if_none_match, entry, context)
            return
        member = member_get(member_id, for_update=True)
        entry.subject = _subject(member)
        check_preconditions(member.version, "user", if_match=if_match, if_none_match=if_none_match)
        # Its reports' rows (their manager becomes empty) before the seat lock: the order
        # every write takes (directory.selectors). No new report can appear meanwhile: naming
        # this member as manager takes FOR KEY SHARE on its row, which waits for this delete.
        reports_of(member.id)
        freed = member.active
        if freed:
            # The head of the seat waitlist is prepared before the seat lock (lock order);
            # the brake may hold the delete (503, nothing changed).
            prepared = waitlist_prepare(1)
            deprovision_take(company)
        member.delete()  # with a reactivation of it that was waiting
        entry.succeeded(entry.subject, 204, detail="Deleted.")
        change_events.user_deleted(entry.subject, entry)
        if freed:
            # After the delete's event, as a deactivation's (_update_write).
            waitlist_drain(company, prepared, _provision_waiting)


def _deactivate_on_delete(
    company: Company,
    member_id: str,
    if_match: str | None,
    if_none_match: str | None,
    entry: LedgerEntry,
    context: CallContext,
) -> None:
    """The DELETE of a company that keeps its users: the same write as a PATCH setting
    `active` to false (its row, then the seat lock), so a later reactivation is an ordinary
    update. Deleting an already inactive member changes nothing."""
    found = member_get_with_roles(member_id, for_update=True)
    member = found.member
    entry.subject = _subject(member)
    check_preconditions(member.version, "user", if_match=if_match, if_none_match=if_none_match)
    active = member.active
    if active:
        change = _update_prepare(company, member, {**member.attributes, "active": False})
    entry.succeeding(
        _subject(member),
        204,
        detail="Deactivated and kept, as this company's deprovisioning policy says "
        "(the identity provider can reactivate the user).",
    )
    if active:
        _update_recorded(company, found, change, entry, context)


def seat_limit_set(*, company: Company, limit: int | None, actor: str, reason: str = "") -> Drained:
    """Change the seat limit (None: unlimited), as support does in the admin and with
    `manage.py company_seats`, and provision the people on the waitlist that now fit, oldest
    first: a batch in the same transaction, the rest by the Celery task. Returns how many
    were provisioned, are left to the task and still wait; `reason` goes into the company's
    history with the change. Raises ValidationError for a limit the column cannot
    hold (negative, or past a PostgreSQL integer)."""
    seat_limit_check(limit)
    used = Company.objects.only("seats_used").get(pk=company.pk).seats_used
    room = drain_batch() if limit is None else min(max(0, limit - used), drain_batch())
    with schema_context(company.schema_name), transaction.atomic():
        prepared = waitlist_prepare(room)
        # Takes the seat lock (the company's row) and records the change.
        changed = company_update_settings(
            company=company,
            actor=actor,
            seat_limit=limit,
            clear_seat_limit=limit is None,
            reason=reason,
        )
        provisioned = waitlist_drain(company, prepared, _provision_waiting)
        drained = waitlist_drained(company, provisioned)
        if "seat_limit" in changed and drained.anyone:
            company_event_extend(
                company=company,
                action=CompanyEvent.Action.SEAT_LIMIT_CHANGED,
                detail=drained.as_detail(),
            )
        return drained


def waitlist_drain_now(company: Company) -> int:
    """Provision a batch of waiting people that fit (the Celery task's work, in the
    company's schema). Returns how many were provisioned."""
    with transaction.atomic():
        prepared = waitlist_prepare(drain_batch())
        Company.objects.select_for_update().only("pk").get(pk=company.pk)  # the seat lock
        return waitlist_drain(company, prepared, _provision_waiting)


def waitlist_drain_locked(company: Company, prepared: Prepared) -> int:
    """`waitlist_drain` with this module's provisioning, for a seat-freeing path outside it
    (the seat recount): call in the company's schema, holding the seat lock, with `prepared`
    read before it. Returns how many were provisioned."""
    return waitlist_drain(company, prepared, _provision_waiting)


# --- internals ------------------------------------------------------------------------------


class _Watch:
    entry: LedgerEntry | None = None


@contextmanager
def _seat_refusal_announced(company: Company, context: CallContext) -> Iterator[_Watch]:
    """Around `recorded`: a write refused for want of a seat becomes a
    company.seat_limit_reached event, written after the rollback, as the ledger's failure row
    is (the refused write itself leaves nothing)."""
    watch = _Watch()
    try:
        yield watch
    except SeatLimitReached:
        user_name = watch.entry.subject.user_name if watch.entry else ""
        with transaction.atomic():
            change_events.seat_limit_reached(company, user_name, context)
        raise


def _subject(member: Member) -> Subject:
    return Subject(
        resource_type="User",
        resource_id=member.id,
        user_name=member.user_name,
        external_id=member.external_id or "",
        display_name=member.display_name,
    )


def _provision_waiting(company: Company, entry: WaitlistEntry) -> None:
    """Provision one person from the waitlist through the services the IdP's requests use,
    so they get the same ledger rows (and side effects). Someone created or reactivated
    meanwhile (the IdP's own retry won) needs nothing."""
    context = waitlist_context(entry)
    if entry.operation == WaitlistEntry.Operation.REACTIVATE:
        member = (
            Member.objects.filter(id=entry.member_id).only("active").first()
            if entry.member_id
            else None
        )
        if member is None or member.active:
            return
        member_patch(
            company=company,
            member_id=str(member.pk),
            operations=[{"op": "replace", "path": "active", "value": True}],
            context=context,
        )
        return
    if not _named(entry.user_name).exists():
        member_create(company=company, payload=entry.request, context=context)


def _named(user_name: str) -> QuerySet[Member]:
    """The member with this userName, folded as the unique index folds."""
    return Member.objects.alias(folded_name=Lower("user_name")).filter(
        folded_name=folded(user_name)
    )


@dataclass
class _Change:
    """An update worked out (`_update_prepare`) and not yet written (`_update_write`)."""

    was_active: bool
    changed: list[str]  # the attributes it changes (change_events.changed_attributes)
    # The version the member was read at: an optimistic write expects it still there.
    version_read: int
    waiting: list[uuid.UUID]
    values_changed: bool
    # A manager reference naming the member itself, left out (`_link_manager`).
    warnings: tuple[DroppedValue, ...] = ()


def _update_prepare(
    company: Company, member: Member, resource: dict[str, Any], *, locked: bool = True
) -> _Change:
    """Check `resource` against the company's rules and put it on `member` (not written):
    its row is locked, and the reports waiting for a new userName are locked too, before the
    seat lock (directory.selectors' lock order). Raises Mutability (userName immutable) and
    InvalidValue (a manager reference naming the member). With `locked` false (the member
    read without its lock, for an optimistic write), raises _NeedsLocks instead of locking
    anything: for a rename, a new manager, or `active` other than true before and after."""
    was_active, before = member.active, member.attributes
    old_user_name = member.user_name
    # Renamed as the unique index sees it (the database's folding), not as Python lowers.
    renamed = not same_when_folded(resource["userName"], old_user_name)
    if company.username_immutable and renamed:
        raise errors.Mutability(
            f'userName cannot change for this company (it is "{old_user_name}").'
        )
    if not locked and (renamed or not was_active or resource.get("active") is not True):
        raise _NeedsLocks
    current_manager = (member.manager_id, member.manager_ref)
    version_read = member.version
    _apply(member, resource)
    own = _link_manager(
        member, resource, current=current_manager[0], locking=locked, strict=company.scim_strict
    )
    waiting = members_waiting_for(member.id, member.user_name) if renamed else []
    # RFC 7644 §3.5.2: an update that changes nothing keeps the version and lastModified, so a
    # client's ETag stays good. The same truth as "no event" (change_events.user_updating).
    changed = change_events.changed_attributes(before, member.attributes)
    if changed or current_manager != (member.manager_id, member.manager_ref):
        member.version += 1
        member.updated_at = timezone.now()
    return _Change(
        was_active=was_active,
        changed=changed,
        version_read=version_read,
        waiting=waiting,
        # The searchable copies of emails, phone numbers… are rewritten only when those
        # changed (not on the deactivations and reactivations that most updates are).
        values_changed=_multi_valued(resource) != _multi_valued(before),
        warnings=own,
    )


def _update_write(
    company: Company,
    member: Member,
    change: _Change,
    context: CallContext,
    recording: Emission | None = None,
    along: Along | None = None,
    *,
    optimistic: bool = False,
) -> bool:
    """Write a prepared update: the seat lock when `active` flips (the brake counts a
    deactivation; the head of the seat waitlist is provisioned into the freed seat), the
    member's row, the waiting reports' adoption, then `recording` (its event and ledger row,
    built before the seat lock: from there to the commit the company's other writers wait),
    in the member's statement when nothing comes after it; `along` (a ledger row with no
    event to carry it, of an update that leaves `active` as it was) rides there instead, or,
    when the member does not change at all (and keeps no waiting reactivation to delete),
    is written alone.
    Raises SeatLimitReached (a waitlisted reactivation) and DeprovisioningHeld.

    `optimistic` (of a member read without its lock, by `_member_update`): the statement
    writes only if the member's version is still the one read, and is the transaction's
    last; returns False when it wrote nothing (the member changed meanwhile). Otherwise
    returns True."""
    if (
        along is not None
        and not optimistic
        and member.active
        and member.version == change.version_read
    ):
        # Nothing of the member changes (its version stayed: `_update_prepare`) and its row is
        # locked: the ledger row is the whole write. Read without the lock (`optimistic`), the
        # member's statement below still runs, as the check that nobody changed it meanwhile
        # (else this answer would hide their change and pass an If-Match or If-None-Match
        # it no longer meets).
        # (A user kept deactivated also takes it: it deletes a waiting reactivation.)
        with prepared_cursor() as cursor:
            cursor.execute(along.sql, along.params)
        return True
    # With no reports to adopt, the member's statement is the update's last, and the event
    # and ledger row ride in it (one round trip less).
    rides = recording is not None and recording.bound and not change.waiting
    reactivated = member.active and not change.was_active
    deactivated = change.was_active and not member.active
    # Still deactivated: the IdP no longer wants a reactivation that was waiting.
    forgetting = not member.active and not deactivated
    # When `active` flips, the seat is taken or given back in the member's statement, before
    # its row (`_write`): the seat lock before writing the new userName, as a create takes
    # it before inserting one, so a rename racing a create of that name cannot deadlock.
    try:
        written = _write(
            member,
            insert=False,
            values=change.values_changed,
            recording=recording if rides else None,
            seat=company if reactivated else None,
            freeing=company if deactivated else None,
            forgetting=forgetting,
            along=along,
            expected=change.version_read if optimistic else None,
            last=optimistic and (rides or along is not None),
        )
    except SeatLimitReached as full:
        raise waitlisted(
            full,
            operation="reactivate",
            resource=member.attributes,
            member_id=member.id,
            idp=context.idp,
        ) from None
    if not written and optimistic:
        return False
    prepared: Prepared | None = None
    if not written:
        # A deactivation whose statement wrote nothing: someone waits for a seat, or the
        # brake holds it. The head of the seat waitlist is prepared before the seat lock
        # (lock order) and provisioned into the freed seat after the write; or the brake
        # holds the deactivation (503, nothing changed).
        prepared = waitlist_prepare(1)
        deprovision_take(company)
        rides = rides and not prepared.entries
        _write(
            member,
            insert=False,
            values=change.values_changed,
            recording=recording if rides else None,
        )
    _adopt(member, change.waiting)
    if recording is not None and not rides:
        recording.run()
    if prepared is not None:
        # After this write's events: a vendor replaying them sees the seat freed before
        # the waiting person takes it (events.outbox says why the stream row may come
        # before the waitlist rows here).
        waitlist_drain(company, prepared, _provision_waiting)
    return True


def _update_recorded(
    company: Company,
    found: MemberWithRoles,
    change: _Change,
    entry: LedgerEntry,
    context: CallContext,
    *,
    optimistic: bool = False,
) -> bool:
    """Write an update prepared on `found.member` with its event and ledger row (after
    `entry.succeeding`), built here, before `_update_write` takes the seat lock, as a
    create's are. Returns what `_update_write` returns."""
    recording = change_events.user_updating(
        company,
        found.member,
        found.roles,
        changed=change.changed,
        was_active=change.was_active,
        entry=entry,
    )
    # An update that changes nothing (an IdP re-sending what it sent) has no event to carry
    # its ledger row, which then rides in the member's statement on its own.
    along = None
    if recording is None and found.member.active == change.was_active:
        along = entry.take_success()
    return _update_write(
        company, found.member, change, context, recording, along, optimistic=optimistic
    )


def _multi_valued(resource: dict[str, Any]) -> list[Any]:
    return [resource.get(attribute, []) for attribute in MULTI_VALUED]


def _apply(member: Member, resource: dict[str, Any]) -> None:
    """Copy the canonical resource onto the member's columns."""
    member.attributes = resource
    for field, value in member_column_values(resource).items():
        setattr(member, field, value)
    # `_write` stores it folded by the database, as the filters fold what they compare it with.
    member.primary_email = primary_email(resource) or ""


def _link_manager(
    member: Member,
    resource: dict[str, Any],
    *,
    current: uuid.UUID | None,
    strict: bool,
    locking: bool = True,
) -> tuple[DroppedValue, ...]:
    """Point the member at the manager the resource names (by id or userName), or keep the
    reference waiting for that manager to be created. A manager it did not have before is
    locked FOR KEY SHARE (directory.selectors' lock order), so a concurrent delete of that
    manager either waits for this write or has happened, and the reference waits instead.
    A reference naming the member itself (HR data often makes the head of the company their
    own manager) is left out of the resource and returned as a warning; a `strict` company
    refuses it (InvalidValue). `current`: the manager it has now (None for a new member).
    Not `locking` (an optimistic update): raises _NeedsLocks instead of locking a new
    manager."""
    manager = resource.get(ENTERPRISE_USER, {}).get("manager")
    reference = (manager or {}).get("value", "")
    if not reference:
        member.manager_id, member.manager_ref = None, ""
        return ()
    new = member._state.adding
    # A create holds no row yet, so it can lock the manager as it looks it up. An update
    # locks it only when the manager changes: one it already had needs no foreign key check,
    # and waiting for it would deadlock with its delete, which waits for this member's row.
    found = manager_named(reference, excluding=member.id, lock=new)
    if found is not None and found != current and not new:
        if not locking:
            raise _NeedsLocks
        found = manager_named(reference, excluding=member.id, lock=True)
    if found is None and (
        parse_member_id(reference) == member.id or same_when_folded(reference, member.user_name)
    ):
        if strict:
            raise errors.InvalidValue("A user cannot be their own manager.")
        enterprise = resource[ENTERPRISE_USER]
        del enterprise["manager"]
        if not enterprise:
            del resource[ENTERPRISE_USER]
        member.manager_id, member.manager_ref = None, ""
        return (
            DroppedValue(
                f"{ENTERPRISE_USER}:manager",
                quoted(reference),
                "A user cannot be their own manager, so it was not stored. Leave the manager "
                "empty for this user in your identity provider.",
            ),
        )
    member.manager_id = found
    member.manager_ref = "" if found else reference[:255]
    return ()


# Constant SQL, since compiling the equivalent ORM update cost ~0.5 ms (a tenth of a create).
_ADOPT_SQL = "UPDATE directory_member SET manager_id = %s, manager_ref = '' WHERE id = ANY(%s)"


def _adopt(member: Member, waiting: list[uuid.UUID]) -> None:
    """The members whose manager was named (by id or userName) before this member existed,
    found and locked by `members_waiting_for`, now point at it."""
    if waiting:
        with prepared_cursor() as cursor:
            cursor.execute(_ADOPT_SQL, [member.id, waiting])


# A member's row and, when they changed, the searchable copies of its multi-valued
# attributes, in one statement, as constant SQL: the ORM compiled its INSERT or UPDATE of
# every column again on each write, more Python than the rest of the service. The copies'
# foreign key is checked at commit (deferred), so they may come in the member's statement;
# the DELETE of the old copies sees the rows from before the statement, never the new ones.
# Texts are folded as `directory.selectors.folded` folds them: lower() in the database, then
# cut to the column's size.
#
# PostgreSQL runs a WITH's sub-statements in an order it does not promise, so the lock order
# of directory.selectors is kept by what each part reads: a part that must come after
# another selects its rows only once that one returned a row.
_INSERT_INTO = """INSERT INTO directory_member (
    id, user_name, external_id, active, display_name, given_name, family_name, primary_email,
    manager_id, manager_ref, attributes, version, created_at, updated_at
)"""
_INSERT_ROW = """
    %(id)s, %(user_name)s, %(external_id)s, %(active)s, %(display_name)s, %(given_name)s,
    %(family_name)s, left(lower(%(primary_email)s), 320), %(manager_id)s, %(manager_ref)s,
    %(attributes)s::jsonb, %(version)s, %(created_at)s, %(updated_at)s
"""
# A create's statement begins with the reports waiting for it, locked
# (directory.selectors.WAITING_CTE), then its seat when it is active
# (directory.seats.TAKE_ONE_CTE): the row is selected only once `{after}` (the seat, else the
# waiting reports) returned one, so the new userName's index entry comes after both, and a
# refused seat writes no member. The reports then point at the new member (`adopted`): their
# rows are already locked, and their foreign key to it is checked at commit.
_INSERT_SQL = f"""
{_INSERT_INTO}
SELECT {_INSERT_ROW}
WHERE EXISTS (SELECT FROM {{after}})
RETURNING seq, primary_email
"""  # noqa: S608 - constant fragments
_ADOPTED_CTE = """,
adopted AS (
    UPDATE directory_member AS m SET manager_id = %(id)s, manager_ref = ''
    FROM waiting
    WHERE m.id = ANY(waiting.ids) AND EXISTS (SELECT FROM member)
)"""
# When `active` flips, an update's statement begins with its seat: taken for a reactivation
# (directory.seats.TAKE_ONE_CTE), given back under the brake for a deactivation, only when
# nobody waits for a seat (directory.brake.DEPROVISION_ONE_CTE). The row is then updated
# only once that returned one, and nothing is written without it.
_UPDATE_SQL = """
UPDATE directory_member SET
    user_name = %(user_name)s, external_id = %(external_id)s, active = %(active)s,
    display_name = %(display_name)s, given_name = %(given_name)s,
    family_name = %(family_name)s, primary_email = left(lower(%(primary_email)s), 320),
    manager_id = %(manager_id)s, manager_ref = %(manager_ref)s,
    attributes = %(attributes)s::jsonb, version = %(version)s, updated_at = %(updated_at)s
WHERE id = %(id)s{gate}
RETURNING seq, primary_email
"""
# With an emission riding (`_statement`'s `riding`), PostgreSQL may lock the stream row
# before it runs `gone` and `searchable`, so they are not strictly before the write's last
# lock. No deadlock can come of it: they touch only this member's value rows, which have no
# unique index and which no other transaction writes without holding the member's row first
# (an update holds it from its first read; a create's member is new). The copies are
# replaced only with the member's row: a write refused its seat, or a deactivation that
# gave none back, writes none.
_WITH_SQL = """
WITH {first}member AS ({member}){ctes}
SELECT seq, primary_email FROM member
"""
# A value's searchable copy is its first 1024 characters, folded, unless they take more
# bytes than a B-tree entry of `membervalue_lookup` holds beside the attribute's name (2704
# in all): then its first 600 characters, which fit at 4 bytes each. Filters on such long
# values still match by prefix (`sw`, `co` within the copy).
_VALUES_CTES = """,
gone AS (
    DELETE FROM directory_membervalue
    WHERE %(replace)s AND member_id = %(id)s AND EXISTS (SELECT FROM member)
),
searchable AS (
    INSERT INTO directory_membervalue (member_id, attribute, item, value_lower, type_lower)
    SELECT %(id)s, v.doc->>'attribute', v.doc->'item',
        CASE WHEN octet_length(cut.value) <= 2400 THEN cut.value ELSE left(cut.value, 600) END,
        left(lower(v.doc->>'type'), 64)
    FROM jsonb_array_elements(%(values)s::jsonb) AS v(doc),
        LATERAL (SELECT left(lower(v.doc->>'value'), 1024) AS value) AS cut
    WHERE EXISTS (SELECT FROM member)
)"""


# The position index's bucket row of a new member is counted by a statement trigger
# (migration 0005), which PostgreSQL fires at the end of the whole statement, after every
# CTE: with the events riding in a create's statement, the stream row would be locked before
# the bucket row, against directory.selectors' lock order (a DELETE, bucket row then stream
# row, could deadlock with it). So a create's statement locks the bucket row itself first,
# with an upsert that changes no count (creating the row at 0 if it is new), and the events
# ride after `placed`, which returns a row only once that lock is held. The trigger's own
# upsert then finds the row already locked by this transaction.
_PLACED_CTE = f""",
placed AS (
    INSERT INTO directory_memberbucket AS b (bucket, members)
    SELECT seq / {MEMBER_BUCKET_SIZE}, 0 FROM member
    ON CONFLICT (bucket) DO UPDATE SET members = b.members
    RETURNING 1
)"""  # noqa: S608 - a constant


@functools.cache
def _statement(
    insert: bool,
    values: bool,
    riding: str | None,
    seated: bool,
    freeing: bool,
    forgetting: bool,
    expecting: bool,
) -> str:
    """The text of `_write`'s statement for one shape, built once: psycopg prepares a text
    once per connection, so it must come out the same for every write of that shape."""
    if insert:
        first = f"{WAITING_CTE},\n"
        if seated:
            first += TAKE_ONE_CTE.format(when="EXISTS (SELECT FROM waiting)") + ",\n"
        member = _INSERT_SQL.format(after="seat" if seated else "waiting")
        ctes = _ADOPTED_CTE
    else:
        first, gate, ctes = "", "", ""
        if seated or freeing:
            first = (
                TAKE_ONE_CTE.format(when="true")
                if seated
                else DEPROVISION_ONE_CTE.format(unless=SOMEONE_WAITING)
            )
            gate = " AND EXISTS (SELECT FROM seat)"
        elif forgetting:
            # count(*) reads the DELETE to its end: every entry is gone before the row.
            first, gate = FORGET_MEMBER_CTE, " AND (SELECT count(*) FROM forgotten) >= 0"
        if expecting:
            gate += " AND version = %(expected)s"
        member = _UPDATE_SQL.format(gate=gate)
        if not values and riding is None and not first:
            return member
        first += ",\n" if first else ""
    if values:
        ctes += _VALUES_CTES
    if riding is not None:
        ctes += (_PLACED_CTE if insert else "") + f",\n{riding}"
    return _WITH_SQL.format(first=first, member=member, ctes=ctes)


def _write(
    member: Member,
    *,
    insert: bool,
    values: bool,
    recording: Emission | None = None,
    seat: Company | None = None,
    freeing: Company | None = None,
    forgetting: bool = False,
    along: Along | None = None,
    expected: int | None = None,
    last: bool = False,
) -> bool:
    """Insert or update the member's row from its fields (`_apply`), and rewrite its
    searchable values from `member.attributes` when `values`; `recording` (an emission of
    the connection's own company) rides in the same statement, written only once the
    member's row is, and an insert's position bucket row locked (Emission.riding,
    `_PLACED_CTE`), so pass it only when nothing is written after this.

    An insert first locks the members waiting for it as their manager, and points them at
    it once written (what `members_waiting_for` and `_adopt` do on their own). Given `seat`
    (a create of an active member, a reactivation), the statement takes one of that
    company's seats, after those locks and before the row, and writes nothing without it.
    An update given `freeing` (a deactivation) gives that company's seat back under its
    brake (directory.brake) in the statement, before the row, unless someone waits for a
    seat (directory.waitlist), and writes nothing without it: it returns False then, and
    the caller takes the long way (`waitlist_prepare`, `deprovision_take`, `_write` again).
    An update `forgetting` (of a member that stays deactivated) first deletes the member's
    waiting reactivation (`waitlist_forget`). `along`, instead of `recording`, is a ledger row
    with no event to carry it, written in the statement with the row; only for an update
    that takes and frees no seat. `expected`: an update writes only if the member's version
    is still this one (read without its lock), and returns False otherwise; only for an
    update that takes, frees and forgets nothing. `last`: nothing else is
    written in the transaction after this statement, which then runs as the transaction
    itself when nothing ran before it either (infra.transactions.ending_transaction: no
    BEGIN or COMMIT round trip). Returns True when written.

    Raises Uniqueness (409) when userName or externalId is taken
    (directory.integrity.unique_keys), SeatLimitReached when `seat` was not free and
    MemberNotFound when the row to update is gone (for both, the caller's transaction must
    roll back: it takes `recording`'s ledger row with it), ValueError when `recording` is of
    another company or its parameter names clash, or `freeing` is given to an insert or
    with `seat`."""
    if (freeing is not None or forgetting) and (insert or seat is not None):
        raise ValueError("_write(): only an update frees a seat or forgets, and takes none.")
    if along is not None and (insert or not (recording is seat is freeing is None)):
        raise ValueError("_write(): `along` only for an update taking or freeing no seat.")
    if expected is not None and (insert or forgetting or not (seat is freeing is None)):
        raise ValueError("_write(): `expected` only for an update locking no other row.")
    params: dict[str, Any] = {
        "id": member.id,
        "user_name": member.user_name,
        "external_id": member.external_id,
        "active": member.active,
        "display_name": member.display_name,
        "given_name": member.given_name,
        "family_name": member.family_name,
        "primary_email": member.primary_email,
        "manager_id": member.manager_id,
        "manager_ref": member.manager_ref,
        "attributes": json.dumps(member.attributes),
        "version": member.version,
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }
    if insert:
        params["id_text"] = str(member.id)
    if values:
        # One JSON array, as events.outbox sends its events (the encoder is C).
        searchable = [
            {
                "attribute": attribute,
                "item": item,
                "value": str(item.get("value", "")),
                "type": str(item.get("type", "")),
            }
            for attribute in MULTI_VALUED
            for item in member.attributes.get(attribute, [])
            if isinstance(item, dict)
        ]
        params |= {"replace": not insert, "values": json.dumps(searchable)}
    if seat is not None:
        params["seat_company"] = seat.pk
    if freeing is not None:
        params |= deprovision_params(freeing)
    if expected is not None:
        params["expected"] = expected
    riding = None
    if recording is not None:
        riding, params = recording.riding("placed" if insert else "member", params)
    elif along is not None:
        if clash := params.keys() & along.params.keys():
            raise ValueError(f"_write(): `along` reuses the parameter(s) {sorted(clash)}.")
        # It takes no lock, so it needs no place in the lock order; written with the row
        # only, as it is when it rides with events.
        riding, params = along_cte(along.sql, "member"), params | along.params
    sql = _statement(
        insert,
        values,
        riding,
        seat is not None,
        freeing is not None,
        forgetting,
        expected is not None,
    )
    with (
        unique_keys(
            {
                "user_name": f'A user with userName "{member.user_name}" already exists.',
                "external_id": f'A user with externalId "{member.external_id}" already exists.',
            }
        ),
        prepared_cursor() as cursor,
        ending_transaction() if last else nullcontext() as ending,
    ):
        cursor.execute(sql, params)
        written = cursor.fetchone()
        if written is None and ending is not None:
            ending.wrote_nothing()
    if written is None and seat is not None:
        raise seats_refused(seat)
    if written is None and (freeing is not None or expected is not None):
        return False
    if written is None:  # an update of a row gone meanwhile (callers hold its lock)
        raise MemberNotFound(f"No user with id {str(member.id)!r}.")
    member.seq, member.primary_email = written
    member._state.adding = False
    return True
