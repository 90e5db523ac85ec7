"""Every index of a table that SCIM writes is paid for by each write (a member's UPDATE changes
indexed columns, so it adds an entry to every index of the table): the write-hot tables keep
exactly the indexes some read or constraint needs (directory/0016, events/0002), and each read
the product offers on them still goes through an index in a company of realistic size. Drop an
index a read needs and one of these plans turns into a scan of the table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory.exports import clean_criteria, ledger_events, ledger_purge
from directory.models import Member, ProvisioningEvent
from directory.portal_selectors import MEMBER_SORTS, held_deprovisions, members_for_portal
from directory.retry import log_entry
from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim, okta_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MEMBERS = 20_000
GROUPS = 200
WRITE_HOT = (
    "directory_member",
    "directory_membervalue",
    "directory_membership",
    "directory_provisioningevent",
    "directory_waitlistentry",
    "events_changeevent",
)


def _seed() -> dict[str, str]:
    """MEMBERS members as bench_seed writes them (SQL: only the plans matter), one in fifty
    deactivated, half reporting to member 1, one in a hundred waiting for a manager not
    provisioned yet, each with a work email value; GROUPS groups sharing the members; a
    ledger row per member (one in twenty failed, one in 97 held, the
    rest succeeded; the first hundred past any retention period, ten of them retried);
    statistics as autovacuum keeps them. Returns the ids of member 1, member 2 and member 2's
    group."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO directory_member (id, user_name, external_id, active, display_name,
                given_name, family_name, primary_email, manager_ref, attributes, version,
                created_at, updated_at)
            SELECT gen_random_uuid(), u.name || '@example.com', 'ext-' || i, i %% 50 <> 0,
                'User ' || i, 'Given' || i, 'Family' || i, u.name || '@example.com', '',
                jsonb_build_object('title', 'Engineer ' || (i %% 97),
                    %s, jsonb_build_object('department', 'Dept ' || (i %% 89))),
                1, now() - make_interval(secs => %s - i), now() - make_interval(secs => %s - i)
            FROM generate_series(1, %s) AS i,
                LATERAL (SELECT left(md5(i::text), 6) || i AS name) AS u
            """,
            [ENTERPRISE, MEMBERS, MEMBERS, MEMBERS],
        )
        cursor.execute(
            "SELECT id FROM directory_member WHERE external_id IN ('ext-1', 'ext-2') "
            "ORDER BY external_id"
        )
        (first,), (second,) = cursor.fetchall()
        cursor.execute(
            "UPDATE directory_member SET manager_id = %s WHERE seq %% 2 = 0 AND id <> %s",
            [first, first],
        )
        cursor.execute(
            "UPDATE directory_member "
            "SET manager_ref = 'pending' || (seq / 100 %% 10) || '@example.com' "
            "WHERE seq %% 100 = 1",
            [],
        )
        cursor.execute(
            """
            INSERT INTO directory_membervalue (member_id, attribute, item, value_lower, type_lower)
            SELECT id, 'emails', jsonb_build_object('value', primary_email, 'type', 'work'),
                primary_email, 'work'
            FROM directory_member
            """
        )
        cursor.execute(
            "INSERT INTO directory_group (id, display_name, version, created_at, updated_at) "
            "SELECT gen_random_uuid(), 'Team ' || i, 1, now(), now() "
            "FROM generate_series(0, %s - 1) AS i",
            [GROUPS],
        )
        cursor.execute(
            """
            INSERT INTO directory_membership (group_id, member_id, display, created_at)
            SELECT g.id, m.id, m.user_name, now()
            FROM directory_member AS m
            JOIN directory_group AS g ON g.display_name = 'Team ' || m.seq %% %s
            """,
            [GROUPS],
        )
        cursor.execute("SELECT group_id FROM directory_membership WHERE member_id = %s", [second])
        (group,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO directory_provisioningevent (created_at, operation, resource_type,
                resource_id, user_name, external_id, display_name, outcome, status, scim_type,
                detail, idp, credential, request_id)
            SELECT CASE WHEN i <= 100 THEN now() - interval '400 days'
                    ELSE now() - make_interval(secs => %s - i) END, 'create', 'User',
                gen_random_uuid(), 'user' || i, '', '',
                CASE WHEN i %% 20 = 0 THEN 'failed' WHEN i %% 97 = 0 THEN 'held'
                    ELSE 'succeeded' END,
                CASE WHEN i %% 20 = 0 THEN 409 WHEN i %% 97 = 0 THEN 503 ELSE 201 END,
                CASE WHEN i %% 20 = 0 THEN 'uniqueness' ELSE '' END, '', '', '', ''
            FROM generate_series(1, %s) AS i
            """,
            [MEMBERS, MEMBERS],
        )
        # Ten retries of rows the retention purge deletes.
        cursor.execute(
            """
            UPDATE directory_provisioningevent SET retry_of_id = id - 10
            WHERE id IN (SELECT id FROM directory_provisioningevent ORDER BY id LIMIT 10 OFFSET 10)
            """
        )
        for table in WRITE_HOT[:4]:
            cursor.execute(f"ANALYZE {table}")
    return {"first": str(first), "second": str(second), "group": str(group)}


@pytest.fixture(scope="module")
def seeded(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """The seeded company, once for the module (it takes seconds): each test's transaction is
    a savepoint inside this one, so what a test writes is gone for the next, and the seed is
    gone for the next module."""
    with django_db_blocker.unblock(), transaction.atomic():  # type: ignore[attr-defined]
        connection.set_tenant(Company.objects.get(slug="acme"))
        ids = _seed()
        connection.set_schema_to_public()
        yield ids
        transaction.set_rollback(True)


def _plans(run: Callable[[], object], tables: tuple[str, ...]) -> list[str]:
    """The plans of the statements `run` sends that read or write any of `tables` (EXPLAIN
    only: nothing runs twice)."""
    # Statements sent with their values in the text, so that each can be EXPLAINed again: a
    # prepared statement's text carries $1… (DB_PREPARED_STATEMENTS).
    with (
        override_settings(DB_PREPARED_STATEMENTS=False),
        CaptureQueriesContext(connection) as captured,
    ):
        run()
    plans = []
    with connection.cursor() as cursor:
        for statement in captured.captured_queries:
            sql = statement["sql"]
            if sql.startswith("SET ") or not any(table in sql for table in tables):
                continue
            cursor.execute("EXPLAIN " + sql)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert plans, "no statement read the tables"
    return plans


def _no_scan(plans: list[str], tables: tuple[str, ...]) -> None:
    for plan in plans:
        for table in tables:
            assert not re.search(rf"Seq Scan on {table}\b", plan), plan


def _sorts_the_members(plans: list[str]) -> bool:
    """Whether a plan sorts members by a key no index gave it: a Sort (not an Incremental
    Sort, which only orders ties as they come) of more rows than a few pages."""
    for plan in plans:
        for rows, key in re.findall(
            r"(?:^|->  )Sort  \(cost=\S+ rows=(\d+).*\n\s+Sort Key: (.*)", plan, re.M
        ):
            if int(rows) > 1000 and "directory_member." in key:
                return True
    return False


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s",
            [table],
        )
        return {name for (name,) in cursor.fetchall()}


def test_the_write_hot_tables_keep_only_the_indexes_a_read_or_constraint_needs(
    acme: Company,
) -> None:
    connection.set_tenant(acme)

    assert _indexes("directory_membervalue") == {
        "directory_membervalue_pkey",
        "membervalue_lookup",
        "membervalue_member",
    }
    assert _indexes("directory_membership") == {
        "directory_membership_pkey",
        "membership_by_member",
        "membership_unique",
    }
    assert _indexes("directory_waitlistentry") == {
        "directory_waitlistentry_pkey",
        "waitlist_external_id",
        "waitlist_member",
        "waitlist_order",
        "waitlist_user_name_ci_unique",
    }
    assert _indexes("events_changeevent") == {"events_changeevent_pkey", "changeevent_occurred_at"}
    assert _indexes("directory_provisioningevent") == {
        "directory_provisioningevent_pkey",
        "provisioning_recent",
        "provisioning_not_succeeded",
        "provisioning_resource",
        "provisioning_failed_kind",
        "provisioning_warned_recent",
        "provisioning_retry_of",
    }
    # Each read by a SCIM filter or sortBy, the Members page, or a constraint; the pairs on
    # lower(user_name) and lower(display_name) because a pattern opclass (LIKE 'ab%' under
    # any collation) cannot give the sort order of the default one.
    assert _indexes("directory_member") == {
        "directory_member_pkey",
        "member_user_name_ci_unique",
        "member_user_name_prefix",
        "member_seq_unique",
        "member_external_id_unique",
        "member_page_order",
        "member_active_seq",
        "member_display_name_ci",
        "member_display_name_prefix",
        "member_given_name_ci",
        "member_family_name_ci",
        "member_email",
        "member_updated_at",
        "member_pending_manager_ci",
        "member_manager",
        "member_department",
        "member_title",
        "member_search_trgm",
    }


def test_the_partial_indexes_hold_only_the_rows_some_read_looks_up(
    acme: Company,
) -> None:
    connection.set_tenant(acme)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname IN ('member_manager', 'provisioning_retry_of', "
            "'provisioning_not_succeeded')"
        )
        definitions = dict(cursor.fetchall())

    assert definitions["member_manager"].endswith("(manager_id) WHERE (manager_id IS NOT NULL)")
    assert definitions["provisioning_retry_of"].endswith(
        "(retry_of_id) WHERE (retry_of_id IS NOT NULL)"
    )
    assert definitions["provisioning_not_succeeded"].endswith(
        "WHERE (NOT ((outcome)::text = 'succeeded'::text))"
    )


# Each attribute with a column of its own (directory.columns), the multi-valued emails, and
# the manager (by id, or by a pending reference to one not provisioned yet).
USER_FILTERS = [
    'userName eq "{user_name}"',
    'userName sw "ab"',
    'externalId eq "ext-7"',
    'id eq "{first}"',
    'displayName eq "User 7"',
    'displayName sw "User 12"',
    'name.givenName eq "given7"',
    'name.familyName eq "family7"',
    "active eq false",
    'meta.created gt "{recent}"',
    'meta.lastModified gt "{recent}"',
    'emails eq "{user_name}"',
    'emails[type eq "work" and value eq "{user_name}"]',
    'manager.value eq "{second}"',
    'manager.value eq "Pending7@Example.com"',
]
USER_SORTS = [
    "userName",
    "displayName",
    "name.givenName",
    "name.familyName",
    "meta.created",
    "meta.lastModified",
    "active",
]


def _user_pages(scim: Scim, query: str) -> None:
    # A second page too: its COUNT and OFFSET are statements of their own.
    for start in (1, 101):
        response = scim.get(f"/Users?{query}&startIndex={start}&count=10")
        assert response.status_code == 200, response.content


def test_each_user_filter_reads_an_index(scim: Scim, seeded: dict[str, str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_name FROM directory_member WHERE id = %s", [seeded["first"]])
        (user_name,) = cursor.fetchone()
    recent = (timezone.now() - timezone.timedelta(seconds=30)).isoformat()

    for expression in USER_FILTERS:
        wanted = quote(expression.format(user_name=user_name, recent=recent, **seeded))
        plans = _plans(
            lambda: _user_pages(scim, f"filter={wanted}"),  # noqa: B023
            ("directory_member",),
        )

        _no_scan(plans, ("directory_member", "directory_membervalue"))


@pytest.mark.usefixtures("seeded")
def test_each_user_sort_reads_an_index(scim: Scim) -> None:
    for sort_by in USER_SORTS:
        for order in ("ascending", "descending"):
            query = f"sortBy={sort_by}&sortOrder={order}"
            plans = _plans(lambda: _user_pages(scim, query), ("directory_member",))  # noqa: B023

            _no_scan(plans, ("directory_member",))
            # Ties on the sort key are put in seq order as they come (Incremental Sort); a
            # Sort of the members is a read of them all.
            assert not _sorts_the_members(plans), plans


@pytest.mark.usefixtures("seeded")
def test_each_members_page_sort_and_filter_reads_an_index(acme: Company) -> None:
    connection.set_tenant(acme)
    views = [
        {"sort": sort, "state": state}
        for sort in (*MEMBER_SORTS, *(f"-{key}" for key in MEMBER_SORTS))
        for state in ("all", "deactivated")
    ]
    views += [{"sort": "created", "state": "all", "department": "Dept 7"}]
    views += [{"sort": "-created", "state": "all", "title": "Engineer 7"}]

    for view in views:
        plans = _plans(
            lambda: members_for_portal("", page=3, **view),  # noqa: B023
            ("directory_member",),
        )

        _no_scan(plans, ("directory_member",))
        if view["state"] == "all" and len(view) == 2:
            assert not _sorts_the_members(plans), (view, plans)


@pytest.mark.usefixtures("seeded")
def test_the_members_page_sorts_and_searches_emails_through_one_index(acme: Company) -> None:
    connection.set_tenant(acme)

    for sort in ("email", "-email"):
        plans = _plans(
            lambda: members_for_portal("", "all", sort, page=3),  # noqa: B023
            ("directory_member",),
        )
        assert any("member_email" in plan for plan in plans), plans
        assert not _sorts_the_members(plans), plans
    # One or two characters match the start of a userName, a name or an email.
    plans = _plans(lambda: members_for_portal("ab", "all"), ("directory_member",))
    _no_scan(plans, ("directory_member",))
    assert any("member_email" in plan for plan in plans), plans


def test_a_group_and_its_members_are_read_through_the_membership_indexes(
    scim: Scim, seeded: dict[str, str]
) -> None:
    removal = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{seeded["second"]}"]'}],
    }

    holds_second = quote(f'members eq "{seeded["second"]}"')

    def run() -> None:
        assert scim.get(f"/Groups/{seeded['group']}").status_code == 200
        assert scim.get(f"/Users/{seeded['second']}").status_code == 200
        assert scim.get(f"/Groups?filter={holds_second}").status_code == 200
        assert scim.patch(f"/Groups/{seeded['group']}", removal).status_code in (200, 204)

    plans = _plans(run, ("directory_membership",))

    _no_scan(plans, ("directory_membership",))
    assert "membership_unique" in "\n".join(plans)


def test_deleting_a_user_reaches_its_values_memberships_and_reports_through_indexes(
    scim: Scim, seeded: dict[str, str]
) -> None:
    plans = _plans(
        lambda: scim.delete(f"/Users/{seeded['second']}"),
        ("directory_membervalue", "directory_membership", "directory_waitlistentry", "manager_id"),
    )

    _no_scan(
        plans,
        (
            "directory_member",
            "directory_membervalue",
            "directory_membership",
            "directory_waitlistentry",
        ),
    )
    read = "\n".join(plans)
    for index in (
        "membervalue_member",
        "membership_by_member",
        "waitlist_member",
        "member_manager",
    ):
        assert index in read, read


@pytest.mark.usefixtures("seeded")
def test_a_new_user_finds_the_reports_waiting_for_it_through_the_pending_index(scim: Scim) -> None:
    plans = _plans(
        lambda: scim.post("/Users", okta_user("Pending3@example.com", externalId="p3")),
        ("manager_ref",),
    )

    _no_scan(plans, ("directory_member",))
    assert "member_pending_manager_ci" in "\n".join(plans)
    assert Member.objects.filter(manager__user_name="Pending3@example.com").count() == 20


@pytest.mark.usefixtures("seeded")
def test_a_ledger_rows_retries_and_the_retention_purge_read_the_retry_index(acme: Company) -> None:
    connection.set_tenant(acme)
    retried = ProvisioningEvent.objects.filter(retry_of__isnull=False).order_by("id").first()
    assert retried is not None

    plans = _plans(lambda: log_entry(retried.retry_of_id), ("retry_of",))
    plans += _plans(lambda: ledger_purge(365), ("retry_of",))

    _no_scan(plans, ("directory_provisioningevent",))
    assert any("provisioning_retry_of" in plan for plan in plans), plans


@pytest.mark.usefixtures("seeded")
def test_the_ledgers_failures_and_held_requests_read_the_index_of_rows_that_did_not_succeed(
    acme: Company,
) -> None:
    connection.set_tenant(acme)
    held_since = timezone.now() - dt.timedelta(hours=1)
    Company.objects.filter(pk=acme.pk).update(deprovision_held_since=held_since)
    acme.refresh_from_db()

    plans = _plans(
        lambda: list(ledger_events(clean_criteria({"outcome": "failed"}))[:50]),
        ("directory_provisioningevent",),
    )
    plans += _plans(lambda: held_deprovisions(acme), ("directory_provisioningevent",))

    _no_scan(plans, ("directory_provisioningevent",))
    assert all("provisioning_not_succeeded" in plan for plan in plans), plans


EVENTS = 100_000


@pytest.fixture
def outbox_and_feed(acme: Company) -> Iterator[None]:
    """EVENTS events in acme's outbox and as many in the feed, one in a hundred a deletion,
    with SCIM-like data, analysed (inside the test's transaction: gone after it)."""
    with connection.cursor() as cursor:
        for table, key in (
            ('"co_acme".events_changeevent', "seq"),
            ("public.events_feed_feedevent", "position"),
        ):
            extra = ", schema_name, seq" if key == "position" else ""
            value = ", 'co_acme', i" if key == "position" else ""
            cursor.execute(
                f"""
                INSERT INTO {table} ({key}, id, type, occurred_at, resource_type, resource_id,
                    external_id, user_name, display_name, changed, data, request_id, idp{extra})
                SELECT i, gen_random_uuid(),
                    CASE WHEN i %% 100 = 0 THEN 'user.deleted' ELSE 'user.updated' END,
                    now(), 'User', gen_random_uuid(), 'ext-' || i, 'u' || i || '@example.com',
                    'User ' || i, '["title"]',
                    jsonb_build_object('userName', 'u' || i || '@example.com',
                        'title', 'Engineer ' || i, 'groups', '[]'::jsonb,
                        'meta', jsonb_build_object('version', 'W/"2"', 'location', '/Users/x')),
                    'req-' || i, 'Okta SCIM Client 1.0.0'{value}
                FROM generate_series(1 + 10000000, %s + 10000000) AS i
                """,  # noqa: S608 - constants only
                [EVENTS],
            )
            cursor.execute(f"ANALYZE {table}")
    connection.set_schema_to_public()
    yield


@pytest.mark.usefixtures("outbox_and_feed")
def test_a_read_of_some_event_types_walks_only_the_primary_key_range_after_the_cursor(
    acme: Company,
) -> None:
    from events.selectors import company_events_of_types, feed_of_types

    plans = []
    for after in (0, 10_000_000 + EVENTS // 2):
        plans += _plans(
            lambda: company_events_of_types(acme.schema_name, after, ["user.deleted"], 100),  # noqa: B023
            ("events_changeevent",),
        )
        plans += _plans(
            lambda: feed_of_types(after, ["user.deleted"], 100),  # noqa: B023
            ("events_feed_feedevent",),
        )

    _no_scan(plans, ("events_changeevent", "events_feed_feedevent"))
    read = "\n".join(plans)
    assert read.count("events_changeevent_pkey") >= 2 * 3, read
    assert read.count("events_feed_feedevent_pkey") >= 2 * 3, read
