"""Retry from the log: a failed SCIM write is applied again, once its cause is fixed, through
the same services, by an owner or admin in the portal; the outcome is a new ledger row linked
to the failure. Failures are produced the way an identity provider produces them: SCIM
requests."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from directory.ledger import TOO_LARGE_TO_KEEP
from directory.models import Member, ProvisioningEvent
from directory.retry import failures_to_retry, ledger_retry
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user


def signed_in(company: Company, role: str = User.Role.ADMIN) -> Client:
    email = f"{role}@acme.test"
    make_portal_user(company, email=email, role=role)
    browser = Client()
    browser.post(f"/t/{company.slug}/login/", {"username": email, "password": TEST_PASSWORD})
    return browser


def last_failure(company: Company) -> ProvisioningEvent:
    with schema_context(company.schema_name):
        return ProvisioningEvent.objects.filter(outcome="failed").latest("id")


def retries_of(company: Company, event: ProvisioningEvent) -> list[ProvisioningEvent]:
    with schema_context(company.schema_name):
        return list(ProvisioningEvent.objects.filter(retry_of=event).order_by("id"))


def set_seat_limit(company: Company, limit: int | None) -> None:
    Company.objects.filter(pk=company.pk).update(seat_limit=limit)


def messages_of(response: Any) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_a_seat_limit_failure_succeeds_once_seats_are_added_and_is_linked(
    scim: Scim, acme: Company
) -> None:
    scim.post("/Users", okta_user("first@acme.test", externalId="e1"))
    set_seat_limit(acme, 1)
    assert_error(scim.post("/Users", okta_user("ann@acme.test", externalId="e2")), 403)
    failure = last_failure(acme)
    browser = signed_in(acme)
    too_soon = browser.post(f"/t/acme/log/{failure.pk}/retry/", follow=True)
    set_seat_limit(acme, 2)

    done = browser.post(f"/t/acme/log/{failure.pk}/retry/", follow=True)

    assert "failed again (403)" in messages_of(too_soon)
    assert "it succeeded this time" in messages_of(done)
    first_try, second_try = retries_of(acme, failure)
    assert (first_try.outcome, second_try.outcome) == ("failed", "succeeded")
    assert second_try.operation == "create" and second_try.user_name == "ann@acme.test"
    assert second_try.idp == "Headcount: retry from the log"
    assert second_try.credential == "retried by admin@acme.test"
    with schema_context(acme.schema_name):
        ann = Member.objects.get(user_name="ann@acme.test")
        assert ann.external_id == "e2" and ann.active
        assert "password" not in str(ann.attributes).lower()
        assert second_try.resource_id == ann.id
    page = done.content.decode()
    assert 'id="entry-retries"' in page and "Retry this request" not in page
    assert "retried successfully already" in page
    assert scim.get(f"/Users/{ann.id}").status_code == 200
    retry_page = browser.get(f"/t/acme/log/{second_try.pk}/").content.decode()
    assert 'id="entry-retry-of"' in retry_page


def test_a_uniqueness_failure_succeeds_once_the_conflicting_user_is_removed(
    scim: Scim, acme: Company
) -> None:
    holder = scim.post("/Users", okta_user("taken@acme.test", externalId="old")).json()
    assert_error(scim.post("/Users", okta_user("taken@acme.test", externalId="new")), 409)
    failure = last_failure(acme)
    assert failure.scim_type == "uniqueness"
    scim.delete(f"/Users/{holder['id']}")

    signed_in(acme).post(f"/t/acme/log/{failure.pk}/retry/")

    (retry,) = retries_of(acme, failure)
    assert retry.outcome == "succeeded"
    with schema_context(acme.schema_name):
        assert Member.objects.get(user_name="taken@acme.test").external_id == "new"


def test_a_patch_is_replayed_without_its_secret_operations(scim: Scim, acme: Company) -> None:
    user = scim.post("/Users", okta_user("pat@acme.test", externalId="p")).json()
    set_seat_limit(acme, 0)
    scim.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    reactivate = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "password", "value": "S3cret-Passw0rd!"},
            {"op": "replace", "value": {"active": True}},
        ],
    }
    assert_error(scim.patch(f"/Users/{user['id']}", reactivate), 403)
    failure = last_failure(acme)
    set_seat_limit(acme, None)

    signed_in(acme).post(f"/t/acme/log/{failure.pk}/retry/")

    (retry,) = retries_of(acme, failure)
    assert retry.outcome == "succeeded" and retry.operation == "patch"
    assert str(retry.resource_id) == user["id"]
    with schema_context(acme.schema_name):
        member = Member.objects.get(pk=user["id"])
        assert member.active and "S3cret" not in str(member.attributes)
    assert "S3cret" not in str(failure.request_body)


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        ("too_large", "too large to keep"),
        ("no_body", "No request was stored"),
        ("delete_gone", "gone already"),
        ("succeeded_row", "Only failed requests"),
        ("only_a_secret", "secrets are never kept"),
        ("a_retry", "retry that one, from its entry"),
    ],
)
def test_what_cannot_be_retried_is_refused_with_a_message(
    scim: Scim, acme: Company, arrange: str, message: str
) -> None:
    if arrange == "too_large":
        # Too long to be a name, and too long to keep: the log stores a note instead.
        assert_error(scim.post("/Users", okta_user("x@acme.test", externalId="x" * 40_000)), 400)
        event = last_failure(acme)
        assert event.request_body == TOO_LARGE_TO_KEEP
    elif arrange == "no_body":
        assert_error(scim.post("/Users", okta_user("y@acme.test", userName="")), 400)
        event = last_failure(acme)
        with schema_context(acme.schema_name):
            # As rows logged before request bodies were kept.
            ProvisioningEvent.objects.filter(pk=event.pk).update(request_body=None)
    elif arrange == "delete_gone":
        user = scim.post("/Users", okta_user("z@acme.test")).json()
        assert_error(scim.delete(f"/Users/{user['id']}", HTTP_IF_MATCH='W/"99"'), 412)
        event = last_failure(acme)
        scim.delete(f"/Users/{user['id']}")
    elif arrange == "succeeded_row":
        scim.post("/Users", okta_user("ok@acme.test"))
        with schema_context(acme.schema_name):
            event = ProvisioningEvent.objects.latest("id")
    elif arrange == "a_retry":
        set_seat_limit(acme, 0)
        assert_error(scim.post("/Users", okta_user("r@acme.test")), 403)
        with schema_context(acme.schema_name):
            event = ledger_retry(
                company=acme, event_id=last_failure(acme).pk, actor="tests"
            ).outcome
        set_seat_limit(acme, None)
    else:
        user = scim.post("/Users", okta_user("s@acme.test")).json()
        only_password = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "password", "value": "N3w-Passw0rd!"}],
        }
        stale = scim.patch(f"/Users/{user['id']}", only_password, HTTP_IF_MATCH='W/"99"')
        assert_error(stale, 412)
        event = last_failure(acme)
    browser = signed_in(acme)
    with schema_context(acme.schema_name):
        rows_before = ProvisioningEvent.objects.count()

    page = browser.get(f"/t/acme/log/{event.pk}/").content.decode()
    refused = browser.post(f"/t/acme/log/{event.pk}/retry/", follow=True)

    assert 'id="retry-form"' not in page
    # A succeeded row has no Retry section at all; a failure says why it cannot be retried.
    assert message in page or arrange == "succeeded_row"
    assert refused.status_code == 200 and message in messages_of(refused)
    with schema_context(acme.schema_name):
        assert ProvisioningEvent.objects.count() == rows_before


def test_viewers_cannot_retry_and_unknown_entries_are_404(scim: Scim, acme: Company) -> None:
    set_seat_limit(acme, 0)
    assert_error(scim.post("/Users", okta_user("v@acme.test")), 403)
    failure = last_failure(acme)
    set_seat_limit(acme, None)
    viewer = signed_in(acme, role=User.Role.VIEWER)

    page = viewer.get(f"/t/acme/log/{failure.pk}/").content.decode()
    forged = viewer.post(f"/t/acme/log/{failure.pk}/retry/")
    forged_kind = viewer.post("/t/acme/log/retry/", {"status": "403", "scim_type": ""})
    admin = signed_in(acme)

    assert "Owners and admins can retry" in page and 'id="retry-form"' not in page
    assert forged.status_code == 403 and forged_kind.status_code == 403
    assert retries_of(acme, failure) == []
    assert admin.get("/t/acme/log/999999999/").status_code == 404
    assert admin.post("/t/acme/log/nope/retry/").status_code == 404


def test_retry_all_failures_of_a_kind_replays_each_user_once_oldest_first(
    scim: Scim, acme: Company
) -> None:
    set_seat_limit(acme, 0)
    for name in ("a", "b", "c", "a"):  # Okta repeats a failing create
        assert_error(scim.post("/Users", okta_user(f"{name}@acme.test", externalId=name)), 403)
    assert_error(scim.post("/Users", {"userName": ""}), 400)  # another kind: left alone
    set_seat_limit(acme, 2)
    browser = signed_in(acme)
    failure = last_failure(acme)
    with schema_context(acme.schema_name):
        seat_failure = ProvisioningEvent.objects.filter(status=403).latest("id")
        assert len(failures_to_retry(403, "")) == 3

    page = browser.get(f"/t/acme/log/{seat_failure.pk}/").content.decode()
    done = browser.post("/t/acme/log/retry/", {"status": "403", "scim_type": ""}, follow=True)

    assert "Retry all 3 failures of this kind (403)" in page
    assert "Retried 3: 2 succeeded, 1 failed again, 0 could not be retried." in messages_of(done)
    with schema_context(acme.schema_name):
        created = sorted(Member.objects.values_list("user_name", flat=True))
        # The oldest waiting got the two seats; the newest (c) failed again.
        assert created == ["a@acme.test", "b@acme.test"]
        assert ProvisioningEvent.objects.filter(retry_of__isnull=False).count() == 3
        assert not ProvisioningEvent.objects.filter(retry_of=failure).exists()
        # Each retry's row has its own request id, found from the web request's.
        ids = sorted(
            ProvisioningEvent.objects.filter(retry_of__isnull=False).values_list(
                "request_id", flat=True
            )
        )
        web_request = ids[0].rpartition("#")[0]
        assert web_request and ids == [f"{web_request}#{n}" for n in (1, 2, 3)]
    log = done.content.decode()
    assert log.count("Retry of an earlier failure") == 3
    assert len(re.findall(r"Retried: done", log)) == 2


def test_a_group_create_refused_as_taken_succeeds_once_the_other_group_is_deleted(
    scim: Scim, acme: Company
) -> None:
    member = scim.post("/Users", okta_user("g@acme.test")).json()
    holder = scim.post("/Groups", {"displayName": "Sales"}).json()
    taken = scim.post(
        "/Groups",
        {"displayName": "SALES", "externalId": "okta-sales", "members": [{"value": member["id"]}]},
    )
    assert_error(taken, 409, "uniqueness")
    failure = last_failure(acme)
    scim.delete(f"/Groups/{holder['id']}")

    signed_in(acme).post(f"/t/acme/log/{failure.pk}/retry/")

    (retry,) = retries_of(acme, failure)
    assert retry.outcome == "succeeded" and retry.resource_type == "Group"
    group = scim.get(f"/Groups/{retry.resource_id}").json()
    assert group["displayName"] == "SALES" and group["externalId"] == "okta-sales"
    assert [m["value"] for m in group["members"]] == [member["id"]]


@pytest.mark.parametrize(
    "switch",
    [{"scim_enabled": False}, {"status": Company.Status.SUSPENDED}],
    ids=["off", "suspended"],
)
def test_a_retry_waits_while_support_has_scim_switched_off(
    scim: Scim, acme: Company, switch: dict[str, Any]
) -> None:
    # A retry writes like the identity provider's request: not while support has closed the
    # company's SCIM endpoint.
    scim.post("/Users", okta_user("first@acme.test", externalId="e1"))
    set_seat_limit(acme, 1)
    assert_error(scim.post("/Users", okta_user("ann@acme.test", externalId="e2")), 403)
    failure = last_failure(acme)
    set_seat_limit(acme, 2)
    Company.objects.filter(pk=acme.pk).update(**switch)
    browser = signed_in(acme)

    refused = browser.post(f"/t/acme/log/{failure.pk}/retry/", follow=True)

    assert "Retry once it is on again" in messages_of(refused)
    assert retries_of(acme, failure) == []
    with schema_context(acme.schema_name):
        assert not Member.objects.filter(user_name="ann@acme.test").exists()
