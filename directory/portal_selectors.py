"""Reads for the company portal's pages: members, groups (roles) and the provisioning log's
exports, in the current company's schema.

Lists the portal pages through come back as querysets, so its Paginator counts and slices them
in the database; every one has a stable order. Each returns only the columns its page shows.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, StartsWith
from django.utils import timezone

from directory.models import Group, LedgerExport, Member, ProvisioningEvent
from directory.selectors import folded, parse_member_id

MEMBER_STATES = ("active", "deactivated")  # anything else lists everyone


def members_for_portal(query: str, state: str) -> QuerySet[Member]:
    """Members in provisioning order, those whose userName, displayName or primary email
    starts with `query` (case-folded as the unique indexes fold), active or deactivated
    ones only when `state` says so."""
    members = Member.objects.order_by("created_at", "id").only(
        "id",
        "user_name",
        "display_name",
        "given_name",
        "family_name",
        "primary_email",
        "active",
        "updated_at",
    )
    if query:
        prefix = folded(query)
        members = members.filter(
            Q(StartsWith(Lower("user_name"), prefix))
            | Q(StartsWith(Lower("display_name"), prefix))
            # primary_email is stored folded.
            | Q(StartsWith("primary_email", prefix))
        )
    if state in MEMBER_STATES:
        members = members.filter(active=state == "active")
    return members


def member_reports(member: Member, limit: int = 50) -> list[Member]:
    """The first `limit` members whose manager is `member`, by userName: one query."""
    # Not `member.reports`: a related manager hands each row its manager, which reads the
    # deferred manager_id of every row, one query each.
    return list(
        Member.objects.filter(manager_id=member.pk)
        .order_by("user_name")
        .only("id", "user_name", "display_name")[:limit]
    )


def groups_with_member_counts() -> QuerySet[Group]:
    """Groups by displayName, each with `member_count` (one GROUP BY for the whole page)."""
    return Group.objects.annotate(member_count=Count("memberships")).order_by("display_name")


def group_member_list(group: Group) -> QuerySet[Member]:
    """The members of `group` by userName, with what the group's page shows of them."""
    return (
        Member.objects.filter(memberships__group=group)
        .order_by("user_name")
        .only("id", "user_name", "display_name", "active")
    )


def _live_exports() -> QuerySet[LedgerExport]:
    return LedgerExport.objects.filter(expires_at__gt=timezone.now())


def exports_live(limit: int = 10) -> list[LedgerExport]:
    """The newest `limit` exports that have not expired."""
    return list(_live_exports()[:limit])


def export_live(export_id: str) -> LedgerExport | None:
    """The export with this id unless it expired; None for an unknown or malformed id."""
    parsed = parse_member_id(export_id)
    return _live_exports().filter(pk=parsed).first() if parsed else None


def ledger_event_get(event_id: int) -> ProvisioningEvent | None:
    return ProvisioningEvent.objects.filter(pk=event_id).first()


def member_conflicting(user_name: str, external_id: str) -> Member | None:
    """The member a create or rename collided with: the same userName (folded as the unique
    index folds) or externalId. One indexed query; None when it is gone since."""
    match = Q()
    if user_name:
        match |= Q(Exact(Lower("user_name"), folded(user_name)))
    if external_id:
        match |= Q(external_id=external_id)
    if not match:
        return None
    return Member.objects.filter(match).only("id", "user_name", "display_name").first()
