"""The seat waitlist: people whose create or reactivation was refused for seats, provisioned
oldest first, as many as fit, as soon as seats free up.

- A refusal is remembered after its rollback (`waitlisted`: the 403's `after_rollback`), as
  the service normalised the User, secrets taken out. The IdP's retries of the same person
  keep their place in line (one entry per userName).
- Seats free up when an active member is deactivated or deleted, or support raises the limit.
  That transaction provisions the people at the head of the line itself, under the seat
  lock, through the same services as the IdP's own requests (member_create, member_patch):
  each gets its ledger row, noted "Provisioned from the waitlist". The IdP's next retry or
  import then finds the user by userName and links it.
- Lock order (directory.selectors): a provisioned person's create locks other members (a
  manager it names, reports waiting for its userName) and a reactivation locks the member
  itself: those locks come before the seat lock. So the line's head is read and those rows
  locked first (`waitlist_prepare`), the seat lock is taken, and only prepared people are
  provisioned (`waitlist_drain`); waitlist rows themselves are locked last. When more seats
  are free than were prepared (a large limit raise, a head that changed meanwhile), a Celery
  task drains the rest right after the commit, one batch per transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower

from directory.errors import MemberNotFound
from directory.ledger import CallContext, redact_request
from directory.models import Member, WaitlistEntry
from directory.seats import SeatLimitReached
from directory.selectors import folded, manager_named, member_get, members_waiting_for
from infra.model_rows import ModelRows
from infra.prepared_query import prepared_cursor
from scim_protocol.errors import ScimError
from scim_protocol.schema import ENTERPRISE_USER
from tenants.models import Company

logger = logging.getLogger(__name__)

WAITLIST_IDP = "Headcount waitlist"


def waitlist_context(entry: WaitlistEntry) -> CallContext:
    """Who a provisioning from the waitlist is, for the ledger."""
    return CallContext(
        idp=WAITLIST_IDP,
        credential=entry.idp,
        note="Provisioned from the waitlist "
        f"(waiting since {entry.created_at:%Y-%m-%d %H:%M} UTC).",
    )


def waitlisted(
    refusal: SeatLimitReached,
    *,
    operation: str,
    resource: dict[str, Any],
    member_id: uuid.UUID | None,
    idp: str,
) -> SeatLimitReached:
    """The 403 of a create or reactivation refused for seats, saying the person waits; the
    entry is written after the rollback (directory.ledger.recorded)."""
    verb = "creates" if operation == WaitlistEntry.Operation.CREATE else "reactivates"
    error = SeatLimitReached(
        f"{refusal.detail} The user is on the waitlist: Headcount {verb} it automatically, "
        "oldest first, when a seat frees up; a later retry then finds it by userName."
    )
    error.after_rollback = [  # type: ignore[attr-defined]
        partial(
            waitlist_add,
            operation=operation,
            resource=resource,
            member_id=member_id,
            idp=idp,
        )
    ]
    return error


def _named(user_name: str) -> Any:
    return WaitlistEntry.objects.alias(folded_name=Lower("user_name")).filter(
        folded_name=folded(user_name)
    )


def _provisioned(user_name: str, member_id: uuid.UUID | None) -> bool:
    if member_id is not None:
        return Member.objects.filter(id=member_id, active=True).exists()
    return (
        Member.objects.alias(folded_name=Lower("user_name"))
        .filter(folded_name=folded(user_name))
        .exists()
    )


def waitlist_add(
    *, operation: str, resource: dict[str, Any], member_id: uuid.UUID | None, idp: str
) -> WaitlistEntry | None:
    """Put the person on the waitlist, or, already waiting, refresh what is stored and keep
    the place. The stored request has its secrets taken out. None: the person was provisioned
    meanwhile (a drain that freed seats ran while this request was being refused)."""
    user_name = str(resource.get("userName", ""))[:255]
    fields = {
        "operation": operation,
        "external_id": str(resource.get("externalId") or "")[:255],
        "display_name": str(resource.get("displayName") or "")[:255],
        "member_id": member_id,
        "request": redact_request("replace", "User", resource).body,
        "idp": idp[:200],
    }
    for _attempt in range(2):
        # Locking the entry waits for a drain provisioning this person right now; after it,
        # someone created or active already waits for nothing (their retry is answered 409).
        existing = _named(user_name).select_for_update().first()
        if _provisioned(user_name, member_id):
            if existing is not None:
                existing.delete()
            return None
        if existing is not None:
            _named(user_name).update(**fields, attempts=F("attempts") + 1)
            existing.refresh_from_db()
            return existing
        try:
            with transaction.atomic():
                return WaitlistEntry.objects.create(user_name=user_name, **fields)
        except IntegrityError:
            continue  # the same person's other request got there first: refresh that entry
    raise RuntimeError("unreachable: the waitlist entry neither exists nor can be created")


@cache
def _entry_rows() -> ModelRows:
    return ModelRows(WaitlistEntry)


@cache
def _head_sql() -> str:
    return (
        f"SELECT {_entry_rows().columns('entry')} "  # noqa: S608 - constant: the model's columns
        f'FROM "{WaitlistEntry._meta.db_table}" entry ORDER BY entry.created_at, entry.id LIMIT %s'
    )


def waitlist_entries(limit: int) -> list[WaitlistEntry]:
    """The first `limit` people in line, oldest first."""
    # Every deactivation reads the line's head (almost always empty): constant SQL, bound and
    # prepared, rows built without the ORM's per-call compilation.
    rows = _entry_rows()
    with prepared_cursor() as cursor:
        cursor.execute(_head_sql(), [limit])
        return [rows.instance(row) for row in cursor.fetchall()]


# Whether anyone is in line, as a condition a deactivation's own statement can put on its
# seat (directory.brake.DEPROVISION_ONE_CTE): with nobody waiting, the freed seat goes to no
# one and the deactivation needs no `waitlist_prepare` before the seat lock.
SOMEONE_WAITING = "EXISTS (SELECT FROM directory_waitlistentry)"


def waitlist_count() -> int:
    return WaitlistEntry.objects.count()


def waitlist_counts(schema_names: Sequence[str]) -> dict[str, int]:
    """How many people wait in each of these company schemas, in one statement."""
    if not schema_names:
        return {}
    quote = connection.ops.quote_name
    table = quote(WaitlistEntry._meta.db_table)
    sql = " UNION ALL ".join(
        f"SELECT %s, count(*) FROM {quote(name)}.{table}"  # noqa: S608 - quoted identifiers
        for name in schema_names
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(schema_names))
        return {name: count for name, count in cursor.fetchall()}


def waitlist_drop(entry_id: str) -> WaitlistEntry | None:
    """Take someone off the waitlist (an owner or admin decided); None when not waiting."""
    try:
        parsed = uuid.UUID(str(entry_id))
    except ValueError:
        return None
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().filter(pk=parsed).first()
        if entry is not None:
            entry.delete()
    return entry


_FORGET_MEMBER_SQL = "DELETE FROM directory_waitlistentry WHERE member_id = %s"
# The same, as a CTE of the member's own statement (directory.services), with the member's
# `id` parameter; the member's UPDATE reads it all first, so these rows are locked before
# the write's event locks the stream row (a drain holds a waitlist row and then locks it).
FORGET_MEMBER_CTE = """forgotten AS (
    DELETE FROM directory_waitlistentry WHERE member_id = %(id)s RETURNING 1
)"""


def waitlist_forget(*, user_name: str = "", external_id: str = "", member_id: Any = None) -> int:
    """The IdP deactivated or deleted a waiting person: they wait no more. Returns how many
    entries went."""
    removed = 0
    if member_id is not None:
        # Every PATCH that keeps a user deactivated asks (an entry references nothing and
        # nothing listens for its deletion): one prepared DELETE, no ORM collector.
        with prepared_cursor() as cursor:
            cursor.execute(_FORGET_MEMBER_SQL, [member_id])
            removed += cursor.rowcount
    if user_name:
        removed += _named(user_name).delete()[0]
    if external_id:
        removed += WaitlistEntry.objects.filter(external_id=external_id).delete()[0]
    return removed


@dataclass(frozen=True)
class Prepared:
    """The head of the line, read and with the rows its provisioning locks already locked."""

    entries: list[WaitlistEntry]


def waitlist_prepare(limit: int) -> Prepared:
    """Read the first `limit` people in line and lock, before the seat lock, the members
    their provisioning will lock (the lock order of directory.selectors)."""
    if limit <= 0:
        return Prepared([])
    entries = waitlist_entries(limit)
    for entry in entries:
        if entry.member_id is not None:
            try:
                member_get(str(entry.member_id), for_update=True, no_key=True)
            except MemberNotFound:
                continue
            continue
        manager = (entry.request.get(ENTERPRISE_USER) or {}).get("manager") or {}
        reference = manager.get("value", "") if isinstance(manager, dict) else ""
        if reference:
            manager_named(str(reference), excluding=uuid.uuid4(), lock=True)
        members_waiting_for(uuid.uuid4(), entry.user_name)
    return Prepared(entries)


def free_seats(company: Company) -> int | None:
    """Seats free now (None: no limit). Read under the seat lock for an exact answer."""
    row = Company.objects.only("seat_limit", "seats_used").get(pk=company.pk)
    if row.seat_limit is None:
        return None
    return max(0, row.seat_limit - row.seats_used)


@dataclass(frozen=True)
class Drained:
    """What a change that freed seats did for the waitlist: `now` provisioned in its own
    transaction, `later` to be provisioned by the Celery task it queued (at most
    WAITLIST_DRAIN_BATCH fit in one transaction), `waiting` still in line after both."""

    now: int
    later: int
    waiting: int

    @property
    def anyone(self) -> bool:
        return bool(self.now or self.later or self.waiting)

    def as_detail(self) -> dict[str, object]:
        """For the company's history (support_admin.history reads these keys)."""
        return {
            "waitlist_now": self.now,
            "waitlist_later": self.later,
            "waitlist_waiting": self.waiting,
        }

    def describe(self) -> str:
        if not self.anyone:
            return "Nobody was waiting for a seat."
        parts = [f"{self.now} provisioned from the waitlist now"]
        if self.later:
            parts.append(
                f"{self.later} more are being provisioned in the background "
                "(needs a running worker)"
            )
        parts.append(f"{self.waiting} still waiting" if self.waiting else "nobody still waiting")
        return "; ".join(parts) + "."


def waitlist_drained(company: Company, provisioned: int) -> Drained:
    """After `waitlist_drain`, holding the seat lock: the `provisioned` people, and how the
    rest of the line stands. Seats still free while people wait are the task's to fill:
    the drain queued it, having stopped at the people it had not prepared (an IdP's create
    can still take such a seat first, docs/operations.md)."""
    waiting = waitlist_count()
    room = free_seats(company)
    later = waiting if room is None else min(room, waiting)
    return Drained(now=provisioned, later=later, waiting=waiting - later)


Provision = Callable[[Company, WaitlistEntry], None]


def waitlist_drain(company: Company, prepared: Prepared, provision: Provision) -> int:
    """Provision people from the head of the line while seats are free. Call holding the
    seat lock, with the head prepared by `waitlist_prepare` before it. `provision` makes the
    write through the member services (it raises their ScimErrors). Returns how many were
    provisioned; queues the Celery task when seats and people remain that were not prepared."""
    if not prepared.entries:
        return 0  # nobody was waiting: a deactivation then costs one query more, no lock
    ready = {entry.pk for entry in prepared.entries}
    provisioned = 0
    more = False
    while True:
        room = free_seats(company)
        if room is not None and room <= 0:
            break
        # Waitlist rows after the seat lock: the last lock of the order.
        entry = WaitlistEntry.objects.select_for_update().order_by("created_at", "id").first()
        if entry is None:
            break
        if entry.pk not in ready:
            more = True
            break
        try:
            provision(company, entry)
            provisioned += 1
        except SeatLimitReached:
            break
        except ScimError as error:
            # Recorded as a failed write with the waitlist's context; the person is dropped
            # (their data no longer passes: a policy changed, an externalId was taken).
            logger.info("Waitlist entry %s not provisioned: %s", entry.pk, error.detail)
        WaitlistEntry.objects.filter(pk=entry.pk).delete()
    if more:
        transaction.on_commit(partial(_drain_later, connection.schema_name))  # type: ignore[attr-defined]
    return provisioned


def drain_batch() -> int:
    return max(1, settings.WAITLIST_DRAIN_BATCH)


def _drain_later(schema_name: str) -> None:
    from directory.tasks import waitlist_drain_task

    try:
        waitlist_drain_task.delay(schema_name)
    except Exception:  # the broker is away: the next freed seat or limit change drains
        logger.warning("Could not queue the waitlist drain of %s.", schema_name, exc_info=True)
