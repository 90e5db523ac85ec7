"""The periodic seat check: recount active users in every company, keep a snapshot, warn
company admins at 80% and 100%, flag companies whose limit is now below their usage.
Nobody is ever deactivated automatically. A recount that frees seats (the stored count had
drifted above the real one) provisions the people waiting for them, as every path that frees
seats does (directory/waitlist.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from directory.models import Member
from directory.services import waitlist_drain_locked
from directory.waitlist import Prepared, drain_batch, waitlist_prepare
from tenants.models import Company, SeatUsage

logger = logging.getLogger(__name__)
ORDER: list[str] = [
    Company.SeatLevel.OK,
    Company.SeatLevel.WARNING,
    Company.SeatLevel.FULL,
    Company.SeatLevel.OVER,
]


def seat_level(used: int, limit: int | None) -> str:
    if limit is None:
        return Company.SeatLevel.OK
    if used > limit:
        return Company.SeatLevel.OVER
    if used >= limit:
        return Company.SeatLevel.FULL
    if limit and used * 100 >= limit * settings.SEAT_WARNING_PERCENT:
        return Company.SeatLevel.WARNING
    return Company.SeatLevel.OK


def seat_level_now() -> Case:
    """seat_level() of a Company row's seats_used and seat_limit, as a SQL expression: lists
    filter on the level as the portal shows it now, in the query. The stored `seat_level` is
    the hourly check's reading, kept to warn admins only when the level rises."""
    used, limit = F("seats_used"), F("seat_limit")
    return Case(
        When(seat_limit__isnull=True, then=Value(Company.SeatLevel.OK)),
        When(seats_used__gt=limit, then=Value(Company.SeatLevel.OVER)),
        When(seats_used__gte=limit, then=Value(Company.SeatLevel.FULL)),
        When(
            Q(seat_limit__gt=0)
            & GreaterThanOrEqual(used * 100, limit * settings.SEAT_WARNING_PERCENT),
            then=Value(Company.SeatLevel.WARNING),
        ),
        default=Value(Company.SeatLevel.OK),
        output_field=CharField(),
    )


def company_seat_check(company: Company) -> str:
    """Recount one company under its seat lock (so no SCIM write slips between count and
    store), provision the waiting people the true count makes room for, oldest first, in the
    same transaction, snapshot it, and warn its admins when the level rose. Returns the
    level."""
    with transaction.atomic():
        with schema_context(company.schema_name):
            # The line's head is read before the seat lock (the lock order of waitlist.py).
            prepared = waitlist_prepare(drain_batch())
        locked = Company.objects.select_for_update().get(pk=company.pk)
        with schema_context(locked.schema_name):
            used = Member.objects.filter(active=True).count()
            if prepared.entries:
                Company.objects.filter(pk=locked.pk).update(seats_used=used)
                if _drained(locked, prepared):
                    used = Company.objects.only("seats_used").get(pk=locked.pk).seats_used
        level = seat_level(used, locked.seat_limit)
        rose = ORDER.index(level) > ORDER.index(locked.seat_level)
        Company.objects.filter(pk=locked.pk).update(
            seats_used=used, seat_level=level, seats_checked_at=timezone.now()
        )
        SeatUsage.objects.create(company=locked, seats_used=used, seat_limit=locked.seat_limit)
    if rose and level != Company.SeatLevel.OK:
        _warn_admins(locked, used, level)
    return level


def _drained(company: Company, prepared: Prepared) -> int:
    """The waitlist drained into the seats the recount found, in a savepoint: a waiting
    person whose provisioning fails in a way no SCIM error describes must not stop this
    company's recount, nor the seat check of every company after it (tenants/periodic.py
    stops the run at the first failure). Logged as an error; the person stays waiting.
    Returns how many were provisioned."""
    try:
        with transaction.atomic():
            return waitlist_drain_locked(company, prepared)
    except Exception:
        logger.exception(
            "seat check: provisioning the waitlist of %s failed; the recount goes on",
            company.slug,
        )
        return 0


def _warn_admins(company: Company, used: int, level: str) -> None:
    with schema_context(company.schema_name):
        recipients = list(
            User.objects.filter(
                is_active=True, role__in=[User.Role.OWNER, User.Role.ADMIN]
            ).values_list("email", flat=True)
        )
    if not recipients:
        return
    state = {"warning": "nearly full", "full": "full", "over": "over the limit"}[level]
    send_mail(
        subject=f"Headcount: {company.name} seats are {state} ({used} of {company.seat_limit})",
        message=(
            f"{company.name} uses {used} of its {company.seat_limit} seats.\n\n"
            "When every seat is in use, your identity provider cannot create or reactivate "
            "users in Headcount. Deactivate users you no longer need, or ask support to raise "
            "the limit.\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
    logger.info(
        "Seat warning (%s) sent to %d admin(s) of %s", level, len(recipients), company.schema_name
    )
