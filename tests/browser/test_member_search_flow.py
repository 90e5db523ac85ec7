"""Finding a member as a company admin does: users pushed by a live SCIM client, then typed
into the Members page's search box or picked as a department in Chromium, then sorted by a
column header."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_provisioning_log_flow import sign_in
from tests.live import IdP, live_scim_company

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_admin_finds_a_member_by_part_of_a_department_and_sorts(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as acme:
        idp = IdP.bearer(live_server_url, acme, "Okta SCIM Client 1.0.0")
        for user_name, name, department in [
            ("ada@live.test", "Ada Lovelace", "Analytical Engines"),
            ("grace@live.test", "Grace Hopper", "Compilers"),
            ("alan@live.test", "Alan Turing", "Analytical Machines"),
        ]:
            body = {
                "userName": user_name,
                "displayName": name,
                ENTERPRISE: {"department": department},
            }
            assert idp.call("POST", "/Users", body).status == 201
        page = chromium.new_page()
        sign_in(page, f"{live_server_url}/t/{acme.company.slug}")

        page.get_by_role("link", name="Members").click()
        page.get_by_label("Search").fill("ALYTICAL")
        page.get_by_role("button", name="Search").click()
        rows = page.locator("#member-list tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#member-count")).to_have_text("2 members")
        page.get_by_role("link", name="Name", exact=True).click()
        expect(rows.first).to_contain_text("Ada Lovelace")
        page.get_by_role("link", name="Name", exact=True).click()  # again: descending

        expect(rows.first).to_contain_text("Alan Turing")
        expect(page.locator("th[aria-sort=descending]")).to_have_text("Name ▼")
        expect(page.locator("#member-list")).not_to_contain_text("Grace Hopper")


def test_admin_filters_members_by_department_and_shares_the_link(
    live_server_url: str, chromium: Browser, django_db_blocker: Any
) -> None:
    with live_scim_company(django_db_blocker) as acme:
        idp = IdP.bearer(live_server_url, acme, "Okta SCIM Client 1.0.0")
        for user_name, name, department, title in [
            ("ada@live.test", "Ada Lovelace", "Research", "Engineer"),
            ("grace@live.test", "Grace Hopper", "Research Ops", "Admiral"),
            ("alan@live.test", "Alan Turing", "Research", "Cryptanalyst"),
            ("joan@live.test", "Joan Clarke", "Codebreaking", "Cryptanalyst"),
        ]:
            body = {
                "userName": user_name,
                "displayName": name,
                "title": title,
                ENTERPRISE: {"department": department},
            }
            assert idp.call("POST", "/Users", body).status == 201
        page = chromium.new_page()
        sign_in(page, f"{live_server_url}/t/{acme.company.slug}")
        page.get_by_role("link", name="Members").click()

        offered = page.locator("#departments option").evaluate_all(
            "options => options.map(option => option.value)"
        )
        page.get_by_label("Department").fill("Research")
        page.get_by_role("button", name="Search").click()
        rows = page.locator("#member-list tbody tr")
        expect(rows).to_have_count(2)
        shared = page.url
        page.get_by_role("link", name="Name", exact=True).click()  # sorting keeps the filter
        expect(rows).to_have_count(2)
        other = chromium.new_page()  # the link, opened in another session
        sign_in(other, f"{live_server_url}/t/{acme.company.slug}")
        other.goto(shared)

        assert offered == ["Codebreaking", "Research", "Research Ops"]
        expect(page.locator("#member-count")).to_have_text("2 members")
        expect(rows.first).to_contain_text("Ada Lovelace")
        expect(page.locator("#member-list")).to_contain_text("Alan Turing")
        expect(page.locator("#member-list")).not_to_contain_text("Grace Hopper")
        expect(page.get_by_label("Department")).to_have_value("Research")
        expect(other.locator("#member-list tbody tr")).to_have_count(2)
        expect(other.locator("#member-list")).not_to_contain_text("Joan Clarke")
