"""The provisioning ledger and its exports, in process (the worker-driven flow is in
tests/browser/test_provisioning_log_flow.py)."""

from __future__ import annotations

import csv
import datetime as dt

from django.utils import timezone

from directory.exports import clean_criteria, export_path, export_run, ledger_events, ledger_purge
from directory.ledger import Subject
from directory.models import LedgerExport, ProvisioningEvent, RetryBatch
from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim, okta_user


def test_a_failed_patch_keeps_its_operations_without_the_password(scim: Scim) -> None:
    user_id = scim.post("/Users", okta_user()).json()["id"]
    operations = [
        {"op": "Replace", "path": "PASSWORD", "value": "n3w-Passw0rd"},
        {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:password": "x"}},
        {"op": "replace", "path": "displayName", "value": "Ada"},
    ]

    response = scim.patch(
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": operations},
        HTTP_IF_MATCH='W/"9"',
    )

    assert response.status_code == 412
    event = ProvisioningEvent.objects.get(outcome="failed")
    assert event.request_body == [
        {"op": "Replace", "path": "PASSWORD", "value": "[redacted]"},
        {"op": "replace", "value": {}},
        {"op": "replace", "path": "displayName", "value": "Ada"},
    ]


def test_failed_writes_keep_a_redacted_body(scim: Scim) -> None:
    scim.post("/Users", okta_user(active="maybe"))

    event = ProvisioningEvent.objects.get()
    assert (
        event.outcome == "failed"
        and event.scim_type == "invalidValue"
        and "true or false" in event.detail
    )
    assert event.request_body["userName"] == "test.user@okta.local"
    assert "password" not in event.request_body and "1mz050nq" not in str(event.request_body)


def test_selection_criteria(scim: Scim) -> None:
    scim.post("/Users", okta_user())
    scim.post("/Users", okta_user())
    scim.delete("/Users/6e0d7c6b-2f58-4d86-9c4d-1c0b1f1b0d0e")

    failed = ledger_events(clean_criteria({}))
    everything = ledger_events(clean_criteria({"outcome": "all"}))
    deletes = ledger_events(clean_criteria({"outcome": "all", "operation": "delete"}))
    tomorrow = ledger_events(
        clean_criteria(
            {"outcome": "all", "since": (timezone.now() + dt.timedelta(days=1)).date().isoformat()}
        )
    )

    assert (
        failed.count() == 2
        and everything.count() == 3
        and deletes.count() == 1
        and tomorrow.count() == 0
    )
    assert clean_criteria({"outcome": "drop table", "operation": "x", "since": "nope"}) == {
        "outcome": "failed",
        "operation": "",
        "since": "",
        "until": "",
    }


def test_export_writes_every_failure_with_formula_cells_defused(scim: Scim, acme: Company) -> None:
    scim.post("/Users", okta_user("=cmd|' /C calc'!A0@x.test", active="maybe"))
    scim.post("/Users", okta_user(active="maybe"))
    export = LedgerExport.objects.create(
        requested_by="ada@acme.test",
        criteria=clean_criteria({}),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )

    done = export_run(str(export.pk))

    assert done.status == "done" and done.rows_written == 2 and done.rows_total == 2
    with export_path(done).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["user_name"] for row in rows} == {
        "'=cmd|' /C calc'!A0@x.test",
        "test.user@okta.local",
    }
    assert {row["scim_type"] for row in rows} == {"invalidValue"}
    assert all(
        row["identity_provider"] == "Okta SCIM Client 1.0.0" and row["http_status"] == "400"
        for row in rows
    )
    assert export_run(str(export.pk)).rows_written == 2  # a redelivered task changes nothing


def test_retention_purge_keeps_recent_rows(scim: Scim) -> None:
    scim.post("/Users", okta_user())
    scim.post("/Users", okta_user(user_name="b@okta.local", externalId="b"))
    old = ProvisioningEvent.objects.order_by("id").first()
    ProvisioningEvent.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=91)
    )

    deleted = ledger_purge(90)

    assert deleted == 1
    assert list(ProvisioningEvent.objects.values_list("user_name", flat=True)) == ["b@okta.local"]


def test_retention_purge_drops_retry_batches_finished_before_it_and_keeps_the_rest(
    scim: Scim,
) -> None:
    # A "Retry all" batch names failures of the ledger: once they are purged, so is it. One
    # still unfinished (queued, running) stays whatever its age.
    long_ago = timezone.now() - dt.timedelta(days=91)
    old, recent, unfinished = (
        RetryBatch.objects.create(
            http_status=status, scim_type="", requested_by="admin@acme.test", total=300
        )
        for status in (400, 409, 500)
    )
    RetryBatch.objects.filter(pk=old.pk).update(finished_at=long_ago)
    RetryBatch.objects.filter(pk=recent.pk).update(finished_at=timezone.now())
    RetryBatch.objects.filter(pk=unfinished.pk).update(created_at=long_ago, updated_at=long_ago)

    ledger_purge(90)

    assert set(RetryBatch.objects.values_list("pk", flat=True)) == {recent.pk, unfinished.pk}


def test_a_rows_subject_reads_names_case_insensitively_first_spelling_first() -> None:
    subject = Subject.from_payload(
        "User",
        {
            "USERNAME": "ada@acme.test",
            "userName": "second@acme.test",
            "externalid": 12345,
            "displayName": {"not": "text"},
            "urn:ietf:params:scim:schemas:core:2.0:User:displayname": "Ignored as not first",
        },
        resource_id="u-1",
    )

    assert subject == Subject(
        resource_type="User",
        resource_id="u-1",
        user_name="ada@acme.test",
        external_id="12345",
        display_name="",
    )
    assert Subject.from_payload("User", {"userName": "x" * 300}).user_name == "x" * 255
    assert Subject.from_payload("User", ["not", "an", "object"]).user_name == ""
