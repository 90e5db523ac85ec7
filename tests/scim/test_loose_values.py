"""Real directory data never blocks a person (issue #19): countries, time zones and languages
are normalised; what cannot be is left out with a warning on the ledger row; a strict company
refuses it instead. Also each company's deprovisioning policy for DELETE /Users/{id}."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from directory.exports import clean_criteria, ledger_events
from directory.models import Member, ProvisioningEvent
from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def entra_user(**overrides: Any) -> dict[str, Any]:
    """Entra's create (idp-flows E4) with its default mappings of country, preferredLanguage
    and a Windows-sourced time zone, as real tenants fill them."""
    body: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "Test_User_ab6490ee@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "addresses": [{"type": "work", "country": "United States", "locality": "Redmond"}],
        "preferredLanguage": "English",
        "timezone": "Pacific Standard Time",
        "roles": [],
    }
    body.update(overrides)
    return body


def set_policy(acme: Company, **fields: Any) -> None:
    Company.objects.filter(pk=acme.pk).update(**fields)


def test_entra_body_with_free_text_values_is_created_with_normalised_values(scim: Scim) -> None:
    response = scim.post("/Users", entra_user())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["addresses"] == [{"type": "work", "country": "US", "locality": "Redmond"}]
    assert body["preferredLanguage"] == "en"
    assert body["timezone"] == "America/Los_Angeles"
    stored = Member.objects.get(id=body["id"]).attributes
    assert stored["addresses"][0]["country"] == "US"
    assert ProvisioningEvent.objects.get().warnings is None


def test_a_garbage_country_is_left_out_and_the_ledger_row_warns(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        okta_user(addresses=[{"type": "work", "country": "Atlantis", "locality": "Ys"}]),
    )

    assert response.status_code == 201, response.content
    assert response.json()["addresses"] == [{"type": "work", "locality": "Ys"}]
    event = ProvisioningEvent.objects.get()
    assert event.outcome == "succeeded" and event.status == 201
    (warning,) = event.warnings
    assert warning["attribute"] == 'addresses[type eq "work"].country'
    assert warning["sent"] == "Atlantis"
    assert "ISO 3166-1" in warning["advice"] and "identity provider" in warning["advice"]
    # The password in the same body is never part of a warning (nor stored anywhere).
    assert "1mz050nq" not in str(event.warnings)


def test_a_patch_with_an_unknown_time_zone_succeeds_with_a_warning(scim: Scim) -> None:
    user_id = scim.post("/Users", okta_user(timezone="Europe/Berlin")).json()["id"]

    response = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "path": "timezone", "value": "Mars/Olympus"},
                {"op": "replace", "path": "title", "value": "Engineer"},
            ],
        },
    )

    assert response.status_code == 200, response.content
    assert "timezone" not in response.json() and response.json()["title"] == "Engineer"
    patched = ProvisioningEvent.objects.get(operation="patch")
    assert [w["attribute"] for w in patched.warnings] == ["timezone"]


def test_a_put_with_a_language_name_is_stored_as_its_tag(scim: Scim) -> None:
    created = scim.post("/Users", okta_user()).json()

    response = scim.put(f"/Users/{created['id']}", {**created, "preferredLanguage": "Deutsch"})

    assert response.status_code == 200, response.content
    assert response.json()["preferredLanguage"] == "de"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"addresses": [{"type": "work", "country": "Atlantis"}]}, "ISO 3166-1"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"preferredLanguage": "Klingon"}, "ISO 639-1"),
    ],
)
def test_a_strict_company_refuses_what_cannot_be_normalised(
    scim: Scim, acme: Company, overrides: dict[str, Any], named: str
) -> None:
    set_policy(acme, scim_strict=True)

    response = scim.post("/Users", okta_user(**overrides))

    assert named in assert_error(response, 400, "invalidValue")["detail"]
    assert not Member.objects.exists()
    assert ProvisioningEvent.objects.get().outcome == "failed"


def test_a_strict_company_still_takes_values_with_one_meaning(scim: Scim, acme: Company) -> None:
    set_policy(acme, scim_strict=True)

    response = scim.post("/Users", entra_user())

    assert response.status_code == 201, response.content
    assert response.json()["addresses"][0]["country"] == "US"


def test_required_attributes_and_policies_stay_errors_in_lenient_mode(
    scim: Scim, acme: Company
) -> None:
    set_policy(acme, username_is_work_email=True)

    missing = scim.post("/Users", okta_user(userName=""))
    not_work_email = scim.post(
        "/Users", okta_user("ada@acme.test", emails=[{"value": "x@acme.test", "type": "work"}])
    )
    scim.post("/Users", okta_user("ada@acme.test"))
    duplicate = scim.post("/Users", okta_user("ada@acme.test"))

    assert_error(missing, 400, "invalidValue")
    assert_error(not_work_email, 400, "invalidValue")
    assert_error(duplicate, 409, "uniqueness")


# --- core attributes nested under the core schema URN ---------------------------------------


def test_a_user_with_core_attributes_under_the_core_urn_is_created(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE_USER, ENTERPRISE],
            CORE_USER: {
                "userName": "nested@acme.test",
                "name": {"givenName": "Nes", "familyName": "Ted"},
                "emails": [{"value": "nested@acme.test", "type": "work", "primary": True}],
            },
            ENTERPRISE: {"department": "R&D"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["userName"] == "nested@acme.test" and body["name"]["givenName"] == "Nes"
    assert body[ENTERPRISE] == {"department": "R&D"}
    assert ProvisioningEvent.objects.get().user_name == "nested@acme.test"


def test_a_group_with_core_attributes_under_the_core_urn_is_created(scim: Scim) -> None:
    user_id = scim.post("/Users", okta_user()).json()["id"]
    core_group = "urn:ietf:params:scim:schemas:core:2.0:Group"

    response = scim.post(
        "/Groups",
        {
            "schemas": [core_group],
            core_group: {"displayName": "Nested", "members": [{"value": user_id}]},
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["displayName"] == "Nested"
    assert [m["value"] for m in response.json()["members"]] == [user_id]


# --- deprovisioning policy ------------------------------------------------------------------


def test_delete_deletes_by_default(scim: Scim, acme: Company) -> None:
    user_id = scim.post("/Users", okta_user()).json()["id"]

    response = scim.delete(f"/Users/{user_id}")

    assert response.status_code == 204
    assert_error(scim.get(f"/Users/{user_id}"), 404)
    assert ProvisioningEvent.objects.get(operation="delete").detail == "Deleted."
    assert Company.objects.get(pk=acme.pk).seats_used == 0


def test_delete_deactivates_and_keeps_the_user_when_the_company_says_so(
    scim: Scim, acme: Company
) -> None:
    set_policy(acme, scim_delete_action="deactivate")
    user_id = scim.post("/Users", okta_user()).json()["id"]

    response = scim.delete(f"/Users/{user_id}")
    again = scim.delete(f"/Users/{user_id}")

    assert response.status_code == 204 and again.status_code == 204
    kept = scim.get(f"/Users/{user_id}")
    assert kept.status_code == 200 and kept.json()["active"] is False
    found = scim.get('/Users?filter=userName eq "test.user@okta.local"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False
    assert Company.objects.get(pk=acme.pk).seats_used == 0
    deletes = ProvisioningEvent.objects.filter(operation="delete", outcome="succeeded")
    assert deletes.count() == 2
    assert all("Deactivated and kept" in event.detail for event in deletes)


def test_a_user_deactivated_by_delete_can_be_reactivated(scim: Scim, acme: Company) -> None:
    set_policy(acme, scim_delete_action="deactivate", seat_limit=1)
    user_id = scim.post("/Users", okta_user()).json()["id"]
    scim.delete(f"/Users/{user_id}")

    response = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "active", "value": "True"}],
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    assert Company.objects.get(pk=acme.pk).seats_used == 1


def test_delete_of_an_unknown_user_is_404_under_either_policy(scim: Scim, acme: Company) -> None:
    set_policy(acme, scim_delete_action="deactivate")

    assert_error(scim.delete("/Users/6e0d7c6b-2f58-4d86-9c4d-1c0b1f1b0d0e"), 404)


def test_the_log_can_list_only_the_writes_with_warnings(scim: Scim) -> None:
    scim.post("/Users", okta_user("plain@acme.test", externalId="1"))
    scim.post("/Users", okta_user("far@acme.test", externalId="2", timezone="Mars/Olympus"))
    scim.post("/Users", okta_user("", externalId="3"))

    warned = ledger_events(clean_criteria({"outcome": "warned"}))

    assert [event.user_name for event in warned] == ["far@acme.test"]


# --- what real directories hold that is not quite right ---------------------------------------

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_an_email_that_is_not_an_address_is_left_out_with_a_warning(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        okta_user(
            "ada@acme.test",
            emails=[
                {"value": "nobody", "type": "home"},
                {"value": " ada@acme.test ", "type": "work", "primary": True},
            ],
        ),
    )

    assert response.status_code == 201, response.content
    assert response.json()["emails"] == [
        {"value": "ada@acme.test", "type": "work", "primary": True}
    ]
    event = ProvisioningEvent.objects.get()
    (warning,) = event.warnings
    assert warning["attribute"] == "emails.value" and warning["sent"] == "nobody"
    assert "Not an email address" in warning["advice"]
    assert {
        "attribute": "emails.value",
        "sent": '" ada@acme.test "',
        "stored": '"ada@acme.test"',
    } in (event.normalised)


def test_a_strict_company_refuses_an_email_that_is_not_an_address(
    scim: Scim, acme: Company
) -> None:
    set_policy(acme, scim_strict=True)

    response = scim.post("/Users", okta_user(emails=[{"value": "nobody", "type": "work"}]))

    assert "email address" in assert_error(response, 400, "invalidValue")["detail"]
    assert not Member.objects.exists()


@pytest.mark.parametrize("address", ["jöhn@exämple.com", "δοκιμή@παράδειγμα.δοκιμή"])
def test_internationalised_email_addresses_are_kept(scim: Scim, address: str) -> None:
    response = scim.post("/Users", okta_user(emails=[{"value": address, "type": "work"}]))

    assert response.status_code == 201, response.content
    assert response.json()["emails"] == [{"value": address, "type": "work"}]
    assert ProvisioningEvent.objects.get().warnings is None


def test_a_name_sent_as_one_string_is_kept_as_the_formatted_name(scim: Scim) -> None:
    response = scim.post("/Users", okta_user(name="Ada Lovelace"))

    assert response.status_code == 201, response.content
    assert response.json()["name"] == {"formatted": "Ada Lovelace"}


@pytest.mark.parametrize("empty", ["", []])
def test_an_empty_enterprise_extension_is_taken_as_absent(scim: Scim, empty: Any) -> None:
    response = scim.post("/Users", okta_user(**{ENTERPRISE: empty}))

    assert response.status_code == 201, response.content
    assert ENTERPRISE not in response.json()


def test_a_user_named_as_their_own_manager_is_created_without_one(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        okta_user(
            "ceo@acme.test", **{ENTERPRISE: {"department": "Board", "manager": "ceo@acme.test"}}
        ),
    )

    assert response.status_code == 201, response.content
    assert response.json()[ENTERPRISE] == {"department": "Board"}
    member = Member.objects.get()
    assert member.manager_id is None and member.manager_ref == ""
    (warning,) = ProvisioningEvent.objects.get().warnings
    assert warning["attribute"] == f"{ENTERPRISE}:manager" and warning["sent"] == "ceo@acme.test"


def test_a_patch_making_a_user_their_own_manager_changes_the_rest(scim: Scim) -> None:
    user_id = scim.post("/Users", okta_user()).json()["id"]

    response = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "add", "path": f"{ENTERPRISE}:manager", "value": user_id},
                {"op": "replace", "path": "title", "value": "CEO"},
            ],
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "CEO" and ENTERPRISE not in response.json()
    (warning,) = ProvisioningEvent.objects.get(operation="patch").warnings
    assert warning["attribute"] == f"{ENTERPRISE}:manager"


def test_a_strict_company_refuses_a_user_as_their_own_manager(scim: Scim, acme: Company) -> None:
    set_policy(acme, scim_strict=True)

    response = scim.post(
        "/Users", okta_user("ceo@acme.test", **{ENTERPRISE: {"manager": "ceo@acme.test"}})
    )

    assert "own manager" in assert_error(response, 400, "invalidValue")["detail"]
    assert not Member.objects.exists()


def test_invisible_characters_around_a_user_name_are_trimmed_and_found_by_the_filter(
    scim: Scim,
) -> None:
    pasted = "\ufeff\u200bada@acme.test\u200b "

    created = scim.post("/Users", okta_user(pasted))
    found = scim.get("/Users?" + urlencode({"filter": f'userName eq "{pasted}"'})).json()
    found_by_search = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": f'userName eq "{pasted}" and active eq true',
        },
    ).json()
    again = scim.post("/Users", okta_user(pasted, externalId="again"))

    assert created.status_code == 201 and created.json()["userName"] == "ada@acme.test"
    assert [user["id"] for user in found["Resources"]] == [created.json()["id"]]
    assert [user["id"] for user in found_by_search["Resources"]] == [created.json()["id"]]
    assert_error(again, 409, "uniqueness")


def test_a_user_name_of_invisible_characters_only_is_refused(scim: Scim) -> None:
    response = scim.post("/Users", okta_user("\u200b\ufeff"))

    assert "userName is required" in assert_error(response, 400, "invalidValue")["detail"]


def test_a_long_value_in_wide_characters_is_stored_and_found_by_its_start(scim: Scim) -> None:
    # Three bytes each, more than a B-tree entry holds at 1,024 of them, and varied, so that
    # PostgreSQL's compression of the entry cannot make them fit.
    phone = "".join(chr(0x4E00 + (n * 7919) % 20_000) for n in range(1100))

    created = scim.post("/Users", okta_user(phoneNumbers=[{"value": phone, "type": "work"}]))
    found = scim.get(
        "/Users?" + urlencode({"filter": f'phoneNumbers[value sw "{phone[:10]}"]'})
    ).json()

    assert created.status_code == 201, created.content
    assert created.json()["phoneNumbers"] == [{"value": phone, "type": "work"}]
    assert found["totalResults"] == 1
