"""The Members page: what the IdP provisioned, searchable, read-only."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from directory import portal_selectors
from directory.models import person_name
from scim_protocol.schema import ENTERPRISE_USER
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.scim_client import Scim, okta_user


def signed_in(company: Company) -> Client:
    make_portal_user(company, email="vic@acme.test", role=User.Role.VIEWER)
    browser = Client()
    browser.post("/t/acme/login/", {"username": "vic@acme.test", "password": TEST_PASSWORD})
    return browser


def test_members_list_search_and_status_filter(scim: Scim, acme: Company) -> None:
    scim.post("/Users", okta_user("ada@acme.test", externalId="1", displayName="Ada Lovelace"))
    grace = scim.post(
        "/Users",
        okta_user("grace@acme.test", externalId="2", displayName="Grace Hopper", active=False),
    ).json()
    browser = signed_in(acme)

    everyone = browser.get("/t/acme/members/").content.decode()
    searched = browser.get("/t/acme/members/", {"q": "GRA"}).content.decode()
    deactivated = browser.get("/t/acme/members/", {"state": "deactivated"}).content.decode()
    active = browser.get("/t/acme/members/", {"state": "active"}).content.decode()

    assert "Ada Lovelace" in everyone and "Grace Hopper" in everyone and "2 members" in everyone
    assert "identity provider is the source of truth" in everyone
    assert "Grace Hopper" in searched and "Ada Lovelace" not in searched
    assert "Grace Hopper" in deactivated and "Ada Lovelace" not in deactivated
    assert "Ada Lovelace" in active and "Grace Hopper" not in active
    assert f"/t/acme/members/{grace['id']}/" in everyone


def test_member_detail_shows_every_attribute_and_the_manager(scim: Scim, acme: Company) -> None:
    boss = scim.post(
        "/Users", okta_user("boss@acme.test", externalId="b", displayName="The Boss")
    ).json()
    ada = scim.post(
        "/Users",
        okta_user(
            "ada@acme.test",
            externalId="a",
            title="Engineer",
            **{
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "manager": {"value": boss["id"]},
                    "department": "R&D",
                }
            },
        ),
    ).json()
    browser = signed_in(acme)

    page = browser.get(f"/t/acme/members/{ada['id']}/").content.decode()
    unknown = browser.get("/t/acme/members/00000000-0000-0000-0000-000000000000/")

    assert "ada@acme.test" in page and "Engineer" in page and "R&amp;D" in page
    assert f'href="/t/acme/members/{boss["id"]}/"' in page and "The Boss" in page
    assert "Read-only" in page
    assert unknown.status_code == 404


def test_a_managers_page_lists_their_reports_by_user_name(scim: Scim, acme: Company) -> None:
    boss = scim.post("/Users", okta_user("boss@acme.test", externalId="b")).json()
    manager = {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "manager": {"value": boss["id"]}
        }
    }
    zed = scim.post(
        "/Users", okta_user("zed@acme.test", externalId="z", displayName="", **manager)
    ).json()
    amy = scim.post(
        "/Users", okta_user("amy@acme.test", externalId="a", displayName="Amy", **manager)
    ).json()
    browser = signed_in(acme)

    page = browser.get(f"/t/acme/members/{boss['id']}/").content.decode()

    reports = page.split("<dt>Reports</dt>")[1].split("</dd>")[0]
    assert reports.index(f"/t/acme/members/{amy['id']}/") < reports.index(zed["id"])
    # zed has no displayName: named by its given and family names, as on every page.
    assert ">Amy</a>" in reports and ">Test User</a>" in reports


def test_dashboard_shows_the_scim_policies_read_only(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(
        username_immutable=True, attribute_allowlist=["name", "emails"]
    )
    browser = signed_in(acme)

    page = browser.get("/t/acme/").content.decode()

    assert "No: changes are refused" in page
    assert "userName, externalId, active, name, emails" in page
    assert "<form" not in page.split('id="scim-policies"')[1].split("</section>")[0]


def test_dashboard_says_how_values_and_deletes_are_handled(acme: Company) -> None:
    browser = signed_in(acme)
    default = browser.get("/t/acme/").content.decode()
    Company.objects.filter(pk=acme.pk).update(scim_strict=True, scim_delete_action="deactivate")

    changed = browser.get("/t/acme/").content.decode()

    def fact(page: str, fact_id: str) -> str:
        return page.split(f'id="{fact_id}">')[1].split("</dd>")[0]

    assert fact(default, "value-policy").startswith("Normalised; a value that cannot be is left")
    assert fact(default, "deprovisioning-policy") == "The user is deleted"
    assert fact(changed, "value-policy").startswith("Strict: a user whose value cannot be")
    assert fact(changed, "deprovisioning-policy").startswith("The user is deactivated and kept")


def test_groups_page_shows_roles_with_member_counts_and_member_roles(
    scim: Scim, acme: Company
) -> None:
    ada = scim.post(
        "/Users", okta_user("ada@acme.test", externalId="1", displayName="Ada Lovelace")
    ).json()
    bob = scim.post("/Users", okta_user("bob@acme.test", externalId="2", displayName="Bob")).json()
    admins = scim.post(
        "/Groups",
        {"displayName": "Admins", "members": [{"value": ada["id"]}, {"value": bob["id"]}]},
    ).json()
    scim.post("/Groups", {"displayName": "Readers", "members": [{"value": bob["id"]}]})
    browser = signed_in(acme)

    listing = browser.get("/t/acme/groups/").content.decode()
    detail = browser.get(f"/t/acme/groups/{admins['id']}/").content.decode()
    member = browser.get(f"/t/acme/members/{bob['id']}/").content.decode()

    assert "Admins</a></td><td>2</td>" in listing and "Readers</a></td><td>1</td>" in listing
    assert "Ada Lovelace" in detail and "2 members" in detail and "source of truth" in listing
    assert ">Admins</a>" in member and ">Readers</a>" in member


def test_unknown_or_malformed_member_and_group_ids_are_portal_404s(acme: Company) -> None:
    browser = signed_in(acme)

    answers = [
        browser.get(path).status_code
        for path in (
            "/t/acme/members/not-a-uuid/",
            "/t/acme/groups/00000000-0000-0000-0000-000000000000/",
            "/t/acme/groups/not-a-uuid/",
        )
    ]

    assert answers == [404, 404, 404]


def test_members_page_searches_inside_fields_shows_columns_and_sorts(
    scim: Scim, acme: Company
) -> None:
    boss = scim.post(
        "/Users", okta_user("boss@acme.test", externalId="b", displayName="Zoe Boss")
    ).json()
    scim.post(
        "/Users",
        okta_user(
            "ada@acme.test",
            externalId="a",
            displayName="Ada Lovelace",
            title="Principal Engineer",
            **{
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": "Research",
                    "manager": {"value": boss["id"]},
                }
            },
        ),
    )
    browser = signed_in(acme)

    by_title = browser.get("/t/acme/members/", {"q": "engineer"}).content.decode()
    by_name_desc = browser.get("/t/acme/members/", {"sort": "-name"}).content.decode()
    short = browser.get("/t/acme/members/", {"q": "gi"}).content.decode()

    row = by_title.split('id="member-list"')[1]
    assert "Ada Lovelace" in row and "<code>boss@acme.test</code>" not in row
    assert "<td>Principal Engineer</td>" in row and "<td>Research</td>" in row
    assert f'href="/t/acme/members/{boss["id"]}/">Zoe Boss</a>' in row
    assert by_name_desc.index("Zoe Boss") < by_name_desc.index("Ada Lovelace")
    assert (
        'aria-sort="descending"><a href="?q=&amp;state=all&amp;department=&amp;title=&amp;sort=name">'
        in by_name_desc
    )
    assert "type three characters or more" in short and "No members match" in short


def _colleague(scim: Scim, user_name: str, display: str, department: str, title: str) -> None:
    body = okta_user(
        user_name,
        externalId=user_name,
        displayName=display,
        title=title,
        **{
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": department}
        },
    )
    assert scim.post("/Users", body).status_code == 201


def test_members_page_filters_by_exact_department_and_title_and_links_keep_them(
    scim: Scim, acme: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_selectors, "MEMBERS_PER_PAGE", 1)
    cache.clear()  # the filter values another test listed for this company, in this process
    _colleague(scim, "ada@acme.test", "Ada Lovelace", "R&D", "Engineer")
    _colleague(scim, "alan@acme.test", "Alan Turing", "R&D", "Engineer")
    _colleague(scim, "joan@acme.test", "Joan Clarke", "R&D Ops", "Engineer")
    _colleague(scim, "grace@acme.test", "Grace Hopper", "R&D", "Admiral")
    browser = signed_in(acme)

    first = browser.get(
        "/t/acme/members/", {"department": "R&D", "title": "Engineer", "sort": "-name"}
    ).content.decode()
    partial = browser.get("/t/acme/members/", {"department": "R&"}).content.decode()

    assert "2 members" in first and "Page 1 of 2" in first
    assert "Alan Turing" in first  # descending: Alan, then Ada on page 2
    filters = "q=&amp;state=all&amp;department=R%26D&amp;title=Engineer"
    assert f'href="?{filters}&amp;sort=-name&amp;page=2">Next' in first
    assert f'<a href="?{filters}&amp;sort=name">Name' in first
    assert 'value="R&amp;D" list="departments"' in first
    departments = first.split('<datalist id="departments">')[1].split("</datalist>")[0]
    titles = first.split('<datalist id="titles">')[1].split("</datalist>")[0]
    assert departments == '<option value="R&amp;D"><option value="R&amp;D Ops">'
    assert titles == '<option value="Admiral"><option value="Engineer">'
    assert "No members in department “R&amp;”." in partial  # exact values, not a search


def test_a_person_without_a_display_name_has_one_name_on_every_page(
    scim: Scim, acme: Company
) -> None:
    def named(user_name: str, external_id: str, **extra: object) -> dict[str, object]:
        body = okta_user(user_name, externalId=external_id, **extra)
        del body["displayName"]
        return body

    smith = scim.post(
        "/Users", named("u1@acme.test", "1", name={"givenName": "User1", "familyName": "Smith"})
    ).json()
    only_family = scim.post(
        "/Users", named("u2@acme.test", "2", name={"familyName": "Jones"})
    ).json()
    report = scim.post(
        "/Users",
        named(
            "u3@acme.test",
            "3",
            name={"givenName": "Rita", "familyName": "Report"},
            **{ENTERPRISE_USER: {"manager": {"value": smith["id"]}}},
        ),
    ).json()
    group = scim.post(
        "/Groups",
        {"displayName": "Staff", "members": [{"value": smith["id"]}, {"value": only_family["id"]}]},
    ).json()
    browser = signed_in(acme)

    members = browser.get("/t/acme/members/").content.decode()
    member = browser.get(f"/t/acme/members/{smith['id']}/").content.decode()
    reporting = browser.get(f"/t/acme/members/{report['id']}/").content.decode()
    group_page = browser.get(f"/t/acme/groups/{group['id']}/").content.decode()

    smith_link = f'<a href="/t/acme/members/{smith["id"]}/">User1 Smith</a>'
    jones_link = f'<a href="/t/acme/members/{only_family["id"]}/">Jones</a>'
    assert members.count(smith_link) == 2 and jones_link in members  # a name, Rita's manager
    assert "<h1>User1 Smith</h1>" in member
    assert f'<a href="/t/acme/members/{report["id"]}/">Rita Report</a>' in member  # reports
    assert "<h1>Rita Report</h1>" in reporting and smith_link in reporting  # its manager
    assert smith_link in group_page and jones_link in group_page


def test_person_name_is_display_then_given_and_family_then_user_name() -> None:
    def name(display: str = "", given: str = "", family: str = "") -> str:
        return person_name(
            display_name=display, given_name=given, family_name=family, user_name="u@x.test"
        )

    assert name("Ada L.", "Ada", "Lovelace") == "Ada L."
    assert name(given="Ada", family="Lovelace") == "Ada Lovelace"
    assert name(given="Ada") == "Ada" and name(family="Lovelace") == "Lovelace"
    assert name() == "u@x.test"
