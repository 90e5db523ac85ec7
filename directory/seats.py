"""Seats: an active member uses one. The count lives on the company row in `public`, changed
only under a row lock on that company (the seat lock), in the transaction of the write."""

from __future__ import annotations

from typing import ClassVar

from django.db.models import F

from infra.prepared_query import prepared_cursor
from scim_protocol.errors import ScimError
from tenants.models import Company


class SeatLimitReached(ScimError):
    status = 403
    code: ClassVar[str] = "seat_limit"
    default_detail = "Seat limit reached."


# One statement: the UPDATE locks the row, and a concurrent one waits for it, then re-checks
# the condition against the committed count (PostgreSQL's READ COMMITTED). Constant SQL, as
# directory.brake's: the ORM's UPDATE compiled again on every create or reactivation cost
# more Python than the round trip.
_TAKE_SQL = """
UPDATE tenants_company SET seats_used = seats_used + %(count)s
WHERE id = %(id)s AND (seat_limit IS NULL OR seat_limit >= seats_used + %(count)s)
"""


def seats_take(company: Company, count: int = 1) -> None:
    """Take `count` seats for members becoming active. Locks the company row until the
    transaction ends, so concurrent creates cannot both take the last seat. Raises
    SeatLimitReached when the limit would be passed. Call inside a transaction."""
    with prepared_cursor() as cursor:
        cursor.execute(_TAKE_SQL, {"id": company.pk, "count": count})
        if cursor.rowcount:
            return
    raise seats_refused(company)


def seats_refused(company: Company) -> SeatLimitReached:
    """The error for a seat that was not free, with the seats in use read now."""
    full = Company.objects.only("seat_limit", "seats_used").get(pk=company.pk)
    return SeatLimitReached(
        f"Seat limit reached: {full.seats_used} of {full.seat_limit} seats in use. "
        "Deactivate a user or ask support to raise the limit."
    )


# `_TAKE_SQL` for one seat as a CTE of a member's own statement (directory.services): a
# create's, or a reactivation's. `{when}` is a condition that holds only once the locks that
# come before the seat's are held (a create's: `EXISTS (SELECT FROM waiting)`, the CTE that
# locked the reports waiting for it), or `true`. The member's INSERT or UPDATE there writes
# its row only once this returned one, so the seat lock is still taken before the new
# userName's index entry, and a refused seat writes no member. No row back from that
# statement: call `seats_refused`.
TAKE_ONE_CTE = """seat AS (
    UPDATE tenants_company SET seats_used = seats_used + 1
    WHERE id = %(seat_company)s AND (seat_limit IS NULL OR seat_limit >= seats_used + 1)
        AND {when}
    RETURNING 1
)"""


def seats_release(company: Company, count: int = 1) -> None:
    """Give back `count` seats (members deactivated or deleted). Call inside a transaction."""
    Company.objects.filter(pk=company.pk, seats_used__gte=count).update(
        seats_used=F("seats_used") - count
    )
