"""Reads for the company portal's pages: members, groups (roles) and the provisioning log's
exports, in the current company's schema.

Lists the portal pages through come back as querysets, so its Paginator counts and slices them
in the database; every one has a stable order. Each returns only the columns its page shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Func, Q, QuerySet, TextField, Window
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Collate, Lower, TruncDate
from django.db.models.lookups import Contains, Exact, StartsWith
from django.utils import timezone

from directory.models import (
    FILTER_VALUE_CHARS,
    Group,
    LedgerExport,
    Member,
    MemberDepartment,
    MemberTitle,
    ProvisioningEvent,
    WaitlistEntry,
    person_name,
)
from directory.selectors import folded, member_count, parse_member_id
from scim_protocol.schema import ENTERPRISE_USER
from tenants.models import Company

MEMBER_STATES = ("active", "deactivated")  # anything else lists everyone
MEMBERS_PER_PAGE = 50
# Counting and paging stop here: past ten thousand members a person narrows the list rather
# than reads page 201, and an OFFSET stays bounded whatever the company's size. A search
# stops sooner: each of its matches is read and sorted, and twenty pages of a search are
# plenty to look through. So does a department or title filter: counting reads each match's
# row (PostgreSQL plans no index-only scan on an expression index), scattered over the
# table, which cost more than the rest of the page at 10,000 matches in a 1M company.
MEMBER_MATCH_CAP = 10_000
MEMBER_SEARCH_CAP = 1_000


class _Folded(Func):
    """What a search looks through, folded: the same expression as the trigram index of
    migration directory/0010, column for column, so the planner matches the two (it compares
    expression trees, so a column may carry its table's alias here). Title and department
    may be absent from the stored resource; the text columns are NOT NULL."""

    template = "lower(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = TextField()


class _Title(Func):
    template = "coalesce(%(expressions)s ->> 'title', '')"
    output_field = TextField()


class _Department(Func):
    template = (
        "coalesce(%(expressions)s #>> "
        "'{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,department}', '')"
    )
    output_field = TextField()


def member_search_text() -> Func:
    return _Folded(
        F("user_name"),
        F("display_name"),
        F("given_name"),
        F("family_name"),
        F("primary_email"),
        _Title(F("attributes")),
        _Department(F("attributes")),
    )


# Shorter queries hold no trigram for the index to look up (it would read all of it): they
# match the start of userName, displayName or email through the prefix indexes instead.
TRIGRAM_MIN_LENGTH = 3

# The email as its index (member_email) holds it: stored folded, compared in byte order, so
# the one index serves both the email sort and the prefix match under any database collation
# (LIKE 'ab%' reads a B-tree only in C collation or with a pattern opclass).
MEMBER_EMAIL = Collate(F("primary_email"), "C")

# Sort key → ORDER BY, each served by an index that ends in a unique column (stable pages).
# "status" ascending lists deactivated members first: the (active, seq) index's own order.
MEMBER_SORTS: dict[str, tuple[Any, ...]] = {
    "created": (F("created_at"), F("id")),
    "name": (Lower("display_name"), F("seq")),
    "userName": (Lower("user_name"),),
    "email": (MEMBER_EMAIL, F("seq")),
    "status": (F("active"), F("seq")),
}


@dataclass(frozen=True)
class MemberListPage:
    """One page of the Members list. `total` is exact up to the cap (MEMBER_SEARCH_CAP for a
    search or a department or title filter, MEMBER_MATCH_CAP otherwise); past it `capped` is
    true and the pages stop there."""

    rows: Sequence[Member]  # each with `title`, `department` and `manager_name`
    total: int
    capped: bool
    number: int
    pages: int
    sort: str

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _members_matching(query: str, state: str, department: str, title: str) -> QuerySet[Member]:
    members = Member.objects.all()
    if len(query) >= TRIGRAM_MIN_LENGTH:
        members = members.filter(Contains(member_search_text(), folded(query)))
    elif query:
        prefix = folded(query)
        members = members.filter(
            Q(StartsWith(Lower("user_name"), prefix))
            | Q(StartsWith(Lower("display_name"), prefix))
            | Q(StartsWith(MEMBER_EMAIL, prefix))
        )
    if state in MEMBER_STATES:
        members = members.filter(active=state == "active")
    # Exact values, on the expressions their indexes hold (member_department, member_title).
    # Both sides cut to the indexed length, as PostgreSQL's left() cuts: by characters.
    if department:
        members = members.filter(
            Exact(MemberDepartment("attributes"), department[:FILTER_VALUE_CHARS])
        )
    if title:
        members = members.filter(Exact(MemberTitle("attributes"), title[:FILTER_VALUE_CHARS]))
    return members


def members_for_portal(
    query: str,
    state: str,
    sort: str = "created",
    page: int = 1,
    *,
    department: str = "",
    title: str = "",
) -> MemberListPage:
    """Page `page` (1-based, clamped to the pages there are) of the members whose userName,
    names, email, title or department contain `query` (case-folded as the unique indexes
    fold; one or two characters: whose userName, displayName or email start with it), active
    or deactivated ones only when `state` says so, in exactly `department` and with exactly
    `title` when given (stored values, as member_filter_choices lists them), ordered by
    `sort` (a MEMBER_SORTS key, "-" first for descending; anything else is "created").

    A search is one query while its matches fit under the cap (two past it, three for a page
    past the end); a list is two: the count (the bucket counts when nothing narrows it) and
    the page."""
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in MEMBER_SORTS:
        key, descending = "created", False
    order = [term.desc() if descending else term.asc() for term in MEMBER_SORTS[key]]
    matching = _members_matching(query, state, department, title)
    cap = MEMBER_SEARCH_CAP if query or department or title else MEMBER_MATCH_CAP
    rows: list[Member] | None = None
    source = matching
    if query:
        # The matches found through the search's index, then sorted, counted by a window
        # over them. Ordered and limited as one query, the planner would walk the sort's
        # index and filter every member it passes (it cannot tell how few match).
        found = Member.objects.filter(pk__in=matching.order_by().values("pk")[: cap + 1])
        rows = _page_rows(found.annotate(matches=Window(Count("pk"))), order, page)
        total = rows[0].matches if rows else _bounded_count(matching, cap)  # type: ignore[attr-defined]
        # Past the cap the matches are dense, and walking the sort's index is the better read.
        source = found if total <= cap else matching
    elif state in MEMBER_STATES or department or title:
        total = _bounded_count(matching, cap)
    else:
        total = member_count()
    capped = total > cap
    pages = max(1, -(-min(total, cap) // MEMBERS_PER_PAGE))
    number = min(max(page, 1), pages)
    if rows is None or capped or number != page:
        rows = _page_rows(source, order, number, ids_first=True)
    return MemberListPage(
        rows=rows,
        total=min(total, cap),
        capped=capped,
        number=number,
        pages=pages,
        sort=f"-{key}" if descending else key,
    )


# The most values each filter's picker offers. Listing them costs one index probe per value;
# a value past the cap can still be typed.
FILTER_CHOICES_CAP = 1_000
# Seconds a process reuses the values it listed for a company. Hundreds of probes (700
# titles in the benchmark's company) cost more than the rest of the page, and the values
# change only when the identity provider brings a new department or title; until then the
# new value can be typed, and filters as soon as it is stored.
FILTER_CHOICES_MAX_AGE = 60


@dataclass(frozen=True)
class MemberFilterChoices:
    """The distinct departments and titles the members have, for the filters' pickers."""

    departments: list[str]
    titles: list[str]


def _distinct_values(name: str, expression: str) -> str:
    """A recursive CTE `name(value)` listing the distinct non-empty values of `expression`
    in index order: each step asks the expression's index for the first value past the last
    one (a skip scan), so it costs one probe per value, however many members share each."""
    return f"""{name}(value) AS (
    (SELECT {expression} FROM directory_member WHERE {expression} > '' ORDER BY 1 LIMIT 1)
    UNION ALL
    SELECT (
        SELECT {expression} FROM directory_member
        WHERE {expression} > {name}.value ORDER BY 1 LIMIT 1
    )
    FROM {name} WHERE {name}.value IS NOT NULL
)"""  # noqa: S608 - constant SQL pieces (the expressions of directory.models)


# Both lists in one statement. The outer LIMITs stop each recursion at the cap: a CTE is
# read only as far as its reader asks.
_DEPARTMENTS = _distinct_values(
    "departments", MemberDepartment.template % {"expressions": "attributes"}
)
_TITLES = _distinct_values("titles", MemberTitle.template % {"expressions": "attributes"})
_FILTER_CHOICES_SQL = f"""
WITH RECURSIVE {_DEPARTMENTS},
{_TITLES}
(SELECT 'department', value FROM departments WHERE value IS NOT NULL LIMIT %(cap)s)
UNION ALL
(SELECT 'title', value FROM titles WHERE value IS NOT NULL LIMIT %(cap)s)
"""  # noqa: S608 - constant SQL; the cap is a parameter


def member_filter_choices(
    cap: int = FILTER_CHOICES_CAP, *, max_age: int = FILTER_CHOICES_MAX_AGE
) -> MemberFilterChoices:
    """Up to `cap` distinct departments and titles of the company's members, each sorted as
    the database orders text: one query, read through the filters' indexes, or what this
    process read for the company less than `max_age` seconds ago (0: read now)."""
    key = f"directory:member-filter-choices:{connection.schema_name}:{cap}"  # type: ignore[attr-defined]
    if max_age and (kept := cache.get(key)) is not None:
        return kept
    with connection.cursor() as cursor:
        cursor.execute(_FILTER_CHOICES_SQL, {"cap": cap})
        rows = cursor.fetchall()
    choices = MemberFilterChoices(
        departments=[value for kind, value in rows if kind == "department"],
        titles=[value for kind, value in rows if kind == "title"],
    )
    if max_age:
        cache.set(key, choices, timeout=max_age)
    return choices


def _bounded_count(members: QuerySet[Member], cap: int) -> int:
    return members.order_by()[: cap + 1].count()


def _page_rows(
    members: QuerySet[Member], order: list[Any], number: int, *, ids_first: bool = False
) -> list[Member]:
    """Page `number` of `members` in `order`, with what the page shows. `ids_first`: the
    page's ids are found first (the OFFSET walks the order's index alone) and only those 50
    rows are read and joined to their managers, rather than every row skipped on the way."""
    start = max(number - 1, 0) * MEMBERS_PER_PAGE
    if ids_first:
        ids = members.order_by(*order).values("pk")[start : start + MEMBERS_PER_PAGE]
        members, start = Member.objects.filter(pk__in=ids), 0
    rows = list(
        members.order_by(*order)
        .only(
            "id",
            "user_name",
            "display_name",
            "given_name",
            "family_name",
            "primary_email",
            "active",
            "created_at",
            "manager_id",
        )
        .annotate(
            title=KeyTextTransform("title", "attributes"),
            department=KeyTextTransform("department", KeyTransform(ENTERPRISE_USER, "attributes")),
            manager_display_name=F("manager__display_name"),
            manager_given_name=F("manager__given_name"),
            manager_family_name=F("manager__family_name"),
            manager_user_name=F("manager__user_name"),
        )[start : start + MEMBERS_PER_PAGE]
    )
    for row in rows:
        if row.manager_id is not None:
            # The manager named as on its own page (person_name), from the joined columns.
            row.manager_name = person_name(  # type: ignore[attr-defined]
                display_name=row.manager_display_name,
                given_name=row.manager_given_name,
                family_name=row.manager_family_name,
                user_name=row.manager_user_name,
            )
    return list(rows)


def member_reports(member: Member, limit: int = 50) -> list[Member]:
    """The first `limit` members whose manager is `member`, by userName: one query."""
    # Not `member.reports`: a related manager hands each row its manager, which reads the
    # deferred manager_id of every row, one query each.
    return list(
        Member.objects.filter(manager_id=member.pk)
        .order_by("user_name")
        .only("id", "user_name", "display_name", "given_name", "family_name")[:limit]
    )


def groups_with_member_counts() -> QuerySet[Group]:
    """Groups by displayName, each with `member_count` (one GROUP BY for the whole page)."""
    return Group.objects.annotate(member_count=Count("memberships")).order_by("display_name")


def group_member_list(group: Group) -> QuerySet[Member]:
    """The members of `group` by userName, with what the group's page shows of them."""
    return (
        Member.objects.filter(memberships__group=group)
        .order_by("user_name")
        .only("id", "user_name", "display_name", "given_name", "family_name", "active")
    )


def _live_exports() -> QuerySet[LedgerExport]:
    return LedgerExport.objects.filter(expires_at__gt=timezone.now())


def exports_live(limit: int = 10) -> list[LedgerExport]:
    """The newest `limit` exports that have not expired."""
    return list(_live_exports()[:limit])


def export_get(export_id: str) -> LedgerExport | None:
    """The export with this id, expired or not (an expired one's row outlives its file for a
    while: exports.EXPIRED_KEPT); None for an unknown or malformed id."""
    parsed = parse_member_id(export_id)
    return LedgerExport.objects.filter(pk=parsed).first() if parsed else None


@dataclass(frozen=True)
class DayActivity:
    """What the identity provider did on one day (UTC): requests that reached the ledger,
    and how many of them failed."""

    day: dt.date
    requests: int
    failures: int


def activity_by_day(days: int = 30, *, today: dt.date | None = None) -> list[DayActivity]:
    """The last `days` days up to `today` (UTC), oldest first, each with its ledger's
    request and failure counts (zero for a quiet day).

    Counting is a read of every ledger row of the period (1.2 s for a million rows here), so
    the days before today are counted once a day per company and process and kept in the
    cache: the ledger only ever gains rows stamped now, so a finished day's counts stay
    true (until retention deletes its rows). Today is counted on every call, one grouped
    query over the ledger's time index reading today's rows only."""
    last = today or timezone.now().astimezone(dt.UTC).date()
    first = last - dt.timedelta(days=days - 1)
    key = f"directory:activity:{connection.schema_name}:{first}:{last}"  # type: ignore[attr-defined]
    finished: dict[dt.date, tuple[int, int]] | None = cache.get(key)
    if finished is None:
        finished = _counts_by_day(first, last)
        cache.set(key, finished, timeout=_SECONDS_PER_DAY)
    counted = {**finished, **_counts_by_day(last, last + dt.timedelta(days=1))}
    return [
        DayActivity(day, *counted.get(day, (0, 0)))
        for day in (first + dt.timedelta(days=offset) for offset in range(days))
    ]


_SECONDS_PER_DAY = 86_400


def _counts_by_day(first: dt.date, before: dt.date) -> dict[dt.date, tuple[int, int]]:
    """(requests, failures) per UTC day with any, from `first` up to `before` (excluded)."""
    since = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(before, dt.time.min, tzinfo=dt.UTC)
    return {
        row["day"]: (row["requests"], row["failures"])
        for row in ProvisioningEvent.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(
            requests=Count("id"),
            failures=Count("id", filter=Q(outcome=ProvisioningEvent.Outcome.FAILED)),
        )
        .order_by()
    }


@dataclass(frozen=True)
class Waitlist:
    """The head of the seat waitlist (oldest first) and how many wait in all."""

    total: int
    entries: Sequence[WaitlistEntry]


def waitlist_for_portal(limit: int = 50) -> Waitlist:
    """The first `limit` people waiting for a seat and the total, in one query (the total
    rides on each row as a window count)."""
    rows = list(
        WaitlistEntry.objects.annotate(total=Window(Count("*")))
        .order_by("created_at", "id")
        .only("id", "operation", "user_name", "external_id", "display_name", "idp", "created_at")[
            :limit
        ]
    )
    return Waitlist(total=rows[0].total if rows else 0, entries=rows)


def held_deprovisions(company: Company, limit: int = 50) -> list[ProvisioningEvent]:
    """The requests the deprovisioning brake held since it tripped, newest first; nothing
    (and no query) while it is not tripped."""
    if company.deprovision_held_since is None:
        return []
    return list(
        ProvisioningEvent.objects.filter(
            outcome=ProvisioningEvent.Outcome.HELD,
            created_at__gte=company.deprovision_held_since,
        ).only("id", "created_at", "operation", "user_name", "external_id", "idp", "resource_id")[
            :limit
        ]
    )


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
    return (
        Member.objects.filter(match)
        .only("id", "user_name", "display_name", "given_name", "family_name")
        .first()
    )
