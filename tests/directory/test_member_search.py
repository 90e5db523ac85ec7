"""The Members page's search and sorts (directory.portal_selectors.members_for_portal): any
part of a name, userName, email, title or department; read through indexes, never a scan of
the company's members."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory import portal_selectors
from directory.portal_selectors import member_filter_choices, members_for_portal
from tenants.models import Company
from tests.scim_client import Scim, okta_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _person(
    scim: Scim,
    user_name: str,
    display: str,
    *,
    title: str = "",
    department: str = "",
    manager: str = "",
    active: bool = True,
) -> str:
    given, _, family = display.partition(" ")
    enterprise: dict[str, Any] = {"department": department}
    if manager:
        enterprise["manager"] = {"value": manager}
    body = okta_user(
        user_name,
        externalId=user_name,
        displayName=display,
        name={"givenName": given, "familyName": family},
        title=title,
        active=active,
        **{ENTERPRISE: enterprise},
    )
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


@pytest.fixture
def people(scim: Scim, acme: Company) -> dict[str, str]:
    return {
        "ada": _person(
            scim, "ada.l@analytical.test", "Ada Lovelace", title="Mathematician", department="R&D"
        ),
        "grace": _person(
            scim,
            "ghopper@navy.test",
            "Grace Hopper",
            title="Rear Admiral",
            department="Accounting",
            active=False,
        ),
        "alan": _person(
            scim, "turing@bletchley.test", "Alan Turing", title="Cryptanalyst", department="Hut 8"
        ),
    }


def _names(query: str = "", state: str = "all", sort: str = "created") -> list[str]:
    return [row.user_name for row in members_for_portal(query, state, sort).rows]


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("VELAC", "ada.l@analytical.test"),  # family name, any case
        ("hopp", "ghopper@navy.test"),  # inside the userName
        ("bletchley", "turing@bletchley.test"),  # email domain
        ("ematic", "ada.l@analytical.test"),  # title
        ("countin", "ghopper@navy.test"),  # department (enterprise extension)
        ("Hut 8", "turing@bletchley.test"),
        ("grace hop", "ghopper@navy.test"),  # across given and family name
    ],
)
def test_search_finds_any_part_of_each_field(people: dict[str, str], query: str, who: str) -> None:
    assert _names(query) == [who]


def test_like_metacharacters_in_a_search_are_plain_text(people: dict[str, str]) -> None:
    assert (
        _names("%%%") == [] and _names("___") == [] and _names("R&D") == ["ada.l@analytical.test"]
    )


def test_one_or_two_characters_match_the_start_of_a_username_name_or_email(
    people: dict[str, str],
) -> None:
    assert _names("gh") == ["ghopper@navy.test"]  # userName starts with it
    assert _names("A") == ["ada.l@analytical.test", "turing@bletchley.test"]  # display names
    assert _names("ov") == []  # inside a name: too short to search anywhere


def test_search_combines_with_the_status_filter(people: dict[str, str]) -> None:
    assert _names("test", state="active") == ["ada.l@analytical.test", "turing@bletchley.test"]
    assert _names("test", state="deactivated") == ["ghopper@navy.test"]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("created", ["ada", "grace", "alan"]),
        ("-created", ["alan", "grace", "ada"]),
        ("name", ["ada", "alan", "grace"]),
        ("-name", ["grace", "alan", "ada"]),
        ("userName", ["ada", "grace", "alan"]),
        ("-userName", ["alan", "grace", "ada"]),
        ("email", ["ada", "grace", "alan"]),
        ("status", ["grace", "ada", "alan"]),  # deactivated first
        ("-status", ["alan", "ada", "grace"]),
        ("nonsense", ["ada", "grace", "alan"]),  # unknown: provisioning order
    ],
)
def test_members_sort_by_each_column_both_ways(
    people: dict[str, str], sort: str, order: list[str]
) -> None:
    page = members_for_portal("", "all", sort)

    assert [str(row.pk) for row in page.rows] == [people[who] for who in order]


def test_rows_carry_title_department_and_manager(scim: Scim, people: dict[str, str]) -> None:
    _person(
        scim,
        "report@analytical.test",
        "Report One",
        title="Analyst",
        department="R&D",
        manager=people["ada"],
    )

    (row,) = members_for_portal("report", "all").rows

    assert (row.title, row.department, row.manager_name) == ("Analyst", "R&D", "Ada Lovelace")
    assert str(row.manager_id) == people["ada"]


def test_counting_and_paging_stop_at_the_cap(
    people: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_selectors, "MEMBER_SEARCH_CAP", 2)
    monkeypatch.setattr(portal_selectors, "MEMBERS_PER_PAGE", 1)

    page = members_for_portal("test", "all", page=99)

    assert (page.total, page.capped, page.pages, page.number) == (2, True, 2, 2)
    assert [row.user_name for row in page.rows] == ["ghopper@navy.test"]


def test_a_department_filter_counts_and_pages_up_to_the_search_cap(
    people: dict[str, str], scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_selectors, "MEMBER_SEARCH_CAP", 2)
    monkeypatch.setattr(portal_selectors, "MEMBERS_PER_PAGE", 1)
    for n in range(2):
        _person(scim, f"rd{n}@analytical.test", f"Rd {n}", department="R&D")

    page = members_for_portal("", "all", page=99, department="R&D")

    assert (page.total, page.capped, page.pages, page.number) == (2, True, 2, 2)


def _seed(count: int) -> None:
    """`count` members written as bench_seed writes them (no services: only the plan matters),
    with the index and statistics as autovacuum would keep them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO directory_member (id, user_name, active, display_name, given_name,
                family_name, primary_email, manager_ref, attributes, version, created_at,
                updated_at)
            SELECT gen_random_uuid(), u.name || '@example.com', true, 'User ' || i,
                'User', i::text, u.name || '@example.com', '',
                jsonb_build_object('title', 'Engineer ' || (i %% 97),
                    %s, jsonb_build_object('department', 'Dept ' || (i %% 89))),
                1, now(), now()
            FROM generate_series(1, %s) AS i,
                LATERAL (SELECT left(md5(i::text), 6) || i AS name) AS u
            """,
            [ENTERPRISE, count],
        )
        # New rows wait in the GIN index's pending list until a vacuum merges them, and the
        # planner prices scanning that list: without this the plan depends on whether
        # autovacuum has come by yet.
        cursor.execute("SELECT gin_clean_pending_list('member_search_trgm'::regclass)")
        cursor.execute("ANALYZE directory_member")


def _plans(query: str, sort: str = "created", page: int = 1, **exact: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        members_for_portal(query, "all", sort, page, **exact)
    return _explained(captured)


def _explained(captured: CaptureQueriesContext) -> list[str]:
    plans = []
    with connection.cursor() as cursor:
        for statement in captured.captured_queries:
            if "directory_member" in statement["sql"] and "SET search_path" not in statement["sql"]:
                cursor.execute("EXPLAIN " + statement["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


@pytest.mark.parametrize("sort", ["created", "-name", "email"])
def test_a_search_reads_the_trigram_index_not_every_member(acme: Company, sort: str) -> None:
    _seed(20_000)

    # A fragment of one member's userName, as a person types it.
    plans = _plans(hashlib.md5(b"1234").hexdigest()[:6].upper(), sort)  # noqa: S324

    assert plans, "no query read the members"
    for plan in plans:
        assert "member_search_trgm" in plan, plan
        assert "Seq Scan on directory_member" not in plan, plan


def test_a_short_search_reads_the_prefix_indexes(acme: Company) -> None:
    _seed(20_000)

    plans = _plans("ab")  # 1 in 256 userNames starts with it

    for plan in plans:
        assert "Seq Scan on directory_member" not in plan, plan
        assert "member_user_name_prefix" in plan, plan


def test_a_search_page_past_the_end_shows_the_last_page(people: dict[str, str]) -> None:
    page = members_for_portal("test", "all", "userName", page=5)

    assert (page.total, page.capped, page.pages, page.number) == (3, False, 1, 1)
    assert [row.user_name for row in page.rows] == [
        "ada.l@analytical.test",
        "ghopper@navy.test",
        "turing@bletchley.test",
    ]


def test_a_search_is_one_query_while_its_matches_fit_under_the_cap(
    people: dict[str, str],
) -> None:
    with CaptureQueriesContext(connection) as captured:
        page = members_for_portal("test", "all", "-name")

    statements = [q for q in captured.captured_queries if "search_path" not in q["sql"]]
    assert len(statements) == 1 and page.total == 3


def test_exact_department_and_title_filters_combine_with_search_status_and_sort(
    people: dict[str, str], scim: Scim
) -> None:
    _person(scim, "rd.ops@analytical.test", "Rd Ops", title="Mathematician", department="R&D Ops")
    _person(scim, "babbage@analytical.test", "Charles Babbage", title="Inventor", department="R&D")

    def names(
        query: str = "", state: str = "all", sort: str = "created", **exact: str
    ) -> list[str]:
        return [row.user_name for row in members_for_portal(query, state, sort, **exact).rows]

    assert names(department="R&D") == ["ada.l@analytical.test", "babbage@analytical.test"]
    assert names(department="R&D", title="Inventor") == ["babbage@analytical.test"]
    assert names(title="Mathematician", sort="-name") == [
        "rd.ops@analytical.test",
        "ada.l@analytical.test",
    ]
    assert names("lovelace", department="R&D") == ["ada.l@analytical.test"]
    assert names(department="Accounting", state="active") == []
    assert names(department="Accounting", state="deactivated") == ["ghopper@navy.test"]
    assert names(department="r&d") == [] and names(department="R&") == []  # exact values
    assert members_for_portal("", "all", department="R&D").total == 2


def test_the_filters_offer_each_distinct_department_and_title_once(
    people: dict[str, str], scim: Scim
) -> None:
    _person(scim, "babbage@analytical.test", "Charles Babbage", title="Inventor", department="R&D")
    _person(scim, "nobody@analytical.test", "No Body")  # no title, an empty department

    choices = member_filter_choices(max_age=0)
    capped = member_filter_choices(cap=2, max_age=0)

    assert choices.departments == ["Accounting", "Hut 8", "R&D"]
    assert choices.titles == ["Cryptanalyst", "Inventor", "Mathematician", "Rear Admiral"]
    assert (capped.departments, capped.titles) == (
        ["Accounting", "Hut 8"],
        ["Cryptanalyst", "Inventor"],
    )


@pytest.mark.parametrize(
    ("sort", "page", "exact", "index"),
    [
        ("created", 1, {"department": "Dept 7"}, "member_department"),
        ("created", 4, {"title": "Engineer 7"}, "member_title"),
        ("-name", 1, {"department": "Dept 7"}, "member_department"),
        ("email", 2, {"department": "Dept 7", "title": "Engineer 7"}, "member_"),
    ],
)
def test_an_exact_filter_reads_its_index_not_every_member(
    acme: Company, sort: str, page: int, exact: dict[str, str], index: str
) -> None:
    _seed(20_000)

    plans = _plans("", sort, page, **exact)

    assert plans, "no query read the members"
    assert any(index in plan for plan in plans), plans
    for plan in plans:
        assert "Seq Scan on directory_member" not in plan, plan


def test_listing_the_filter_values_is_a_skip_scan_of_their_indexes(acme: Company) -> None:
    _seed(20_000)

    with CaptureQueriesContext(connection) as captured:
        choices = member_filter_choices(max_age=0)
    (statement,) = captured.captured_queries
    with connection.cursor() as cursor:  # ANALYZE: plain EXPLAIN leaves out the probes' plans
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert len(choices.departments) == 89 and len(choices.titles) == 97
    assert "Seq Scan" not in plan, plan
    # The first value, then one probe per further value (loops=89: 88 values and the end).
    assert plan.count("Index Scan using member_department on directory_member") == 2, plan
    assert plan.count("Index Scan using member_title on directory_member") == 2, plan
    # At most one row per probe. PostgreSQL 15 prints a loop's rows rounded ("rows=1"), 18
    # their average with decimals ("rows=0.99": the last probe finds nothing).
    assert re.search(r"\(actual rows=(1|0\.\d+|1\.00) loops=89\)", plan), plan
    assert re.search(r"\(actual rows=(1|0\.\d+|1\.00) loops=97\)", plan), plan


def test_a_person_with_a_title_longer_than_an_index_entry_is_provisioned_and_filtered(
    scim: Scim, acme: Company
) -> None:
    # 1,500 characters of three bytes each that do not compress: 4.5 kB, over a B-tree
    # entry's limit, and within what SCIM accepts for a string. Directories fill titles and
    # departments freely.
    title = "技術部長" + "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1500))
    department = "".join(chr(0x4E00 + (i * 104729) % 20000) for i in range(1500))
    member_id = _person(
        scim, "long.title@acme.test", "Long Title", title=title, department=department
    )

    rows = members_for_portal("", "all", "created", department=department, title=title).rows
    assert [str(row.id) for row in rows] == [member_id]
    # The picker lists the indexed part of each value; choosing it finds the person.
    choices = member_filter_choices(max_age=0)
    (listed,) = [value for value in choices.titles if value.startswith("技術部長")]
    assert [str(row.id) for row in members_for_portal("", "all", "created", title=listed).rows] == [
        member_id
    ]


def test_a_process_reuses_a_companys_filter_values_and_never_another_companys(
    people: dict[str, str], scim: Scim, outsider: Company
) -> None:
    cache.clear()
    listed = member_filter_choices()
    _person(scim, "babbage@analytical.test", "Charles Babbage", title="Inventor", department="Mint")

    with CaptureQueriesContext(connection) as captured:
        again = member_filter_choices()
    connection.set_tenant(outsider)
    elsewhere = member_filter_choices()

    assert again == listed and not captured.captured_queries
    assert "Mint" not in again.departments  # until the values are listed again
    assert (elsewhere.departments, elsewhere.titles) == ([], [])
