"""The brake on mass deprovisioning. A mis-scoped Okta assignment or an Entra scoping filter
change deactivates people by the hundred; the brake stops it before it empties a company.

Within a window (the company's `deprovision_brake_window_minutes`, one hour by default), the
identity provider may deactivate or delete max(minimum, percent x the active users when the
window began) active users (10 and 20% by default). The next one is **held**: answered 503
with Retry-After and a SCIM error saying why, nothing changed, a "held" ledger row. The brake
has tripped then: every further deactivation and deletion is held until an owner (portal) or
support (admin) releases it or confirms; the IdP's retries are then let through.

The counter is a fixed window kept on the company row in `public`, changed by the same
conditional UPDATE that gives the seat back (`deprovision_take`): it holds the seat lock, so
concurrent deactivations are counted one after the other, and it rolls back with a write that
fails. No scan of the ledger per request; only a release counts the held rows, once.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any, ClassVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from directory.models import ProvisioningEvent
from infra.prepared_query import prepared_cursor
from scim_protocol.errors import ScimError
from tenants.models import Company, CompanyEvent

logger = logging.getLogger(__name__)


class DeprovisioningHeld(ScimError):
    """A deactivation or deletion the brake held: nothing changed; retry after a release."""

    status = 503
    code: ClassVar[str] = "deprovisioning_held"  # directory.diagnosis.DEPROVISIONING_HELD
    deliberate = True
    ledger_outcome = ProvisioningEvent.Outcome.HELD
    default_detail = "Deprovisioning is paused for this company."


# `fresh`: the window has not begun or is over, so this deprovision starts a new one, whose
# base is the active users before it. Every expression reads the row as it is when the
# UPDATE gets its lock (READ COMMITTED re-reads a row a concurrent write changed), so
# concurrent deprovisions are counted one after the other.
_FRESH = (
    "(deprovision_window_start IS NULL OR deprovision_window_start"
    " <= %(brake_now)s - make_interval(mins => deprovision_brake_window_minutes))"
)
_TAKE_SQL = f"""
UPDATE tenants_company SET
    seats_used = GREATEST(seats_used - 1, 0),
    deprovision_window_start =
        CASE WHEN {_FRESH} THEN %(brake_now)s ELSE deprovision_window_start END,
    deprovision_window_base = CASE WHEN {_FRESH} THEN seats_used ELSE deprovision_window_base END,
    deprovision_window_extra = CASE WHEN {_FRESH} THEN 0 ELSE deprovision_window_extra END,
    deprovision_window_count =
        CASE WHEN {_FRESH} THEN 1 ELSE deprovision_window_count + 1 END
WHERE id = %(brake_company)s AND (
    deprovision_brake_percent = 0
    OR (
        deprovision_held_since IS NULL
        AND CASE WHEN {_FRESH} THEN 1 ELSE deprovision_window_count + 1 END
            <= GREATEST(
                deprovision_brake_minimum,
                CASE WHEN {_FRESH} THEN seats_used ELSE deprovision_window_base END
                    * deprovision_brake_percent / 100
            ) + CASE WHEN {_FRESH} THEN 0 ELSE deprovision_window_extra END
    )
)
"""  # noqa: S608 - constant SQL: only _FRESH is put in


# `_TAKE_SQL` as a CTE of a deactivation's own statement (directory.services), with
# `_take_params`; named `seat` as directory.seats.TAKE_ONE_CTE is, since the member's UPDATE
# reads it the same way. `{unless}` is a condition under which nothing is taken (someone
# waits for the freed seat: the deactivation then takes the long way). No row back: nothing
# was taken, for that reason or because the brake holds; `deprovision_take` tells which.
DEPROVISION_ONE_CTE = f"""seat AS (
{_TAKE_SQL}    AND NOT {{unless}}
    RETURNING 1
)"""


def _take_params(company: Company, now: dt.datetime) -> dict[str, Any]:
    return {"brake_company": company.pk, "brake_now": now}


def deprovision_params(company: Company) -> dict[str, Any]:
    """The parameters of DEPROVISION_ONE_CTE, for `company` now."""
    return _take_params(company, timezone.now())


def allowance(company: Company) -> int:
    """How many deprovisions the current window allows (as `_TAKE_SQL` computes it)."""
    base = company.deprovision_window_base * company.deprovision_brake_percent // 100
    return max(company.deprovision_brake_minimum, base) + company.deprovision_window_extra


def _take(company: Company, now: dt.datetime) -> bool:
    with prepared_cursor() as cursor:
        cursor.execute(_TAKE_SQL, _take_params(company, now))
        return bool(cursor.rowcount)


def deprovision_take(company: Company) -> None:
    """Give back the seat of an active member being deactivated or deleted, counted against
    the brake. Takes the seat lock until the transaction ends. Raises DeprovisioningHeld
    (nothing changed; the caller's transaction rolls back) when the brake holds it."""
    now = timezone.now()
    if _take(company, now):
        return
    # Refused. The state that says why is read under the seat lock, and the take is decided
    # again under it: a release that committed since the refusal would otherwise show as
    # this request's window, and the request, held under the released trip, would trip the
    # brake again as soon as an owner lifted it (`brake_trip`).
    state = Company.objects.select_for_update().get(pk=company.pk)
    if _take(company, now):
        return
    minutes = state.deprovision_brake_window_minutes
    if state.deprovision_held_since is None:
        why = (
            f"{state.deprovision_window_count} active users were deactivated or deleted in "
            f"the last {minutes} minutes, the most this company's brake allows "
            f"({allowance(state)})."
        )
    else:
        why = f"The brake tripped at {state.deprovision_held_since:%Y-%m-%d %H:%M} UTC."
    error = DeprovisioningHeld(
        f"Deprovisioning is paused for this company: {why} Nothing was changed. An owner can "
        "release the brake in Headcount (Overview); retry then.",
        headers={"Retry-After": str(settings.DEPROVISION_BRAKE_RETRY_AFTER)},
    )
    error.after_rollback = [  # type: ignore[attr-defined]
        partial(brake_trip, company.pk, now, state.deprovision_window_start)
    ]
    raise error


def brake_trip(company_id: int, now: dt.datetime, window_seen: dt.datetime | None) -> bool:
    """Mark the brake tripped at `now` (when the first held request was refused, before its
    ledger row), after that request rolled back. The first trip records a CompanyEvent and
    emails owners, admins and support once, after the commit; later held requests of the
    same trip change nothing. Returns True for the first.

    `window_seen` is the window the request was refused in. A release starts a new one, so
    a request refused before a release whose transaction ends after it (a straggler) does
    not trip the brake again: it was held under the released trip, and its retry gets room
    in the release's allowance like the held requests the release counted. Compared as
    stored, not against a clock: the servers' clocks need not agree."""
    same_window = Q(deprovision_window_start=window_seen)
    with transaction.atomic():
        tripped = Company.objects.filter(
            same_window, pk=company_id, deprovision_held_since__isnull=True
        ).update(deprovision_held_since=now)
        if not tripped:
            released = (
                Company.objects.filter(pk=company_id, deprovision_held_since__isnull=True)
                .exclude(same_window)
                .update(deprovision_window_extra=F("deprovision_window_extra") + 1)
            )
            if released:
                return False
            # Held requests race to get here: one refused earlier may arrive after another
            # tripped the brake with a later `now`. The trip moves back to the earliest, so
            # every held request's ledger row (written after its own `now`) falls in it.
            Company.objects.filter(
                same_window, pk=company_id, deprovision_held_since__gt=now
            ).update(deprovision_held_since=now)
            return False
        company = Company.objects.get(pk=company_id)
        CompanyEvent.objects.create(
            company=company,
            action=CompanyEvent.Action.BRAKE_TRIPPED,
            actor="deprovisioning brake",
            detail={
                "deprovisioned": company.deprovision_window_count,
                "allowance": allowance(company),
                "window_minutes": company.deprovision_brake_window_minutes,
            },
        )
        transaction.on_commit(partial(_tell_people, company))
    return True


def brake_release(*, company: Company, actor: str, confirmed: bool) -> int | None:
    """Lift the brake: the held requests are accepted when the IdP retries them (they are
    added to a new window's allowance, whose count starts again). `confirmed` records that
    the deprovisioning was meant. Returns how many people were held, None when the brake
    was not tripped. Recorded as a CompanyEvent."""
    with transaction.atomic():
        locked = Company.objects.select_for_update().get(pk=company.pk)
        since = locked.deprovision_held_since
        if since is None:
            return None
        with schema_context(locked.schema_name):
            held = (
                ProvisioningEvent.objects.filter(
                    outcome=ProvisioningEvent.Outcome.HELD, created_at__gte=since
                )
                .values("resource_id")
                .distinct()
                .count()
            )
        locked.deprovision_held_since = None
        locked.deprovision_window_start = timezone.now()
        locked.deprovision_window_base = locked.seats_used
        locked.deprovision_window_count = 0
        locked.deprovision_window_extra = held
        locked.save(
            update_fields=[
                "deprovision_held_since",
                "deprovision_window_start",
                "deprovision_window_base",
                "deprovision_window_count",
                "deprovision_window_extra",
                "updated_at",
            ]
        )
        CompanyEvent.objects.create(
            company=locked,
            action=CompanyEvent.Action.BRAKE_CONFIRMED
            if confirmed
            else CompanyEvent.Action.BRAKE_RELEASED,
            actor=actor,
            detail={"held": held, "held_since": since.isoformat()},
        )
    company.deprovision_held_since = None
    return held


def _tell_people(company: Company) -> None:
    with schema_context(company.schema_name):
        admins = list(
            User.objects.filter(
                is_active=True, role__in=[User.Role.OWNER, User.Role.ADMIN]
            ).values_list("email", flat=True)
        )
    recipients = [*admins, *settings.SUPPORT_EMAILS]
    if not recipients:
        return
    send_mail(
        subject=f"Headcount: deprovisioning paused for {company.name}",
        message=(
            f"Your identity provider deactivated or deleted {company.deprovision_window_count} "
            f"active users of {company.name} within "
            f"{company.deprovision_brake_window_minutes} minutes, the most the brake allows "
            f"({allowance(company)}), and then asked for more. Further deactivations and "
            "deletions are held: nothing "
            "more is changed, and the identity provider is asked to retry later.\n\n"
            "If this was a mistake (a mis-scoped assignment, a changed scoping filter), fix it "
            "in the identity provider, then release the brake. If it was meant, confirm it. "
            f"Both are on the Overview of the company's portal: {company.portal_path}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
    logger.warning(
        "Deprovisioning brake tripped for %s; %d people told", company.schema_name, len(recipients)
    )
