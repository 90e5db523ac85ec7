""" "Retry all failures of this kind" in the background: at most one queued or running batch
per company and kind (a second click is told, with the progress), the button says how many of
how many it replays, and the long batch tasks go to a queue of their own that every worker
set-up consumes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from config.celery import app
from devstack import run
from directory.models import ProvisioningEvent, RetryBatch
from directory.retry import BULK_INLINE, RetryBatchRunning, ledger_retry_kind, retry_batch_finish
from directory.tasks import ledger_retry_batch
from tenants.models import Company
from tests.directory.test_retry import messages_of, set_seat_limit, signed_in
from tests.scim_client import Scim, assert_error, okta_user

ROOT = Path(settings.BASE_DIR)


def seat_failures(company: Company, count: int) -> None:
    """`count` seat-limit failures of distinct users, as a big import past the limit leaves."""
    with schema_context(company.schema_name), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO directory_provisioningevent
                (created_at, operation, resource_type, user_name, external_id, display_name,
                 outcome, status, scim_type, detail, idp, credential, request_id,
                 request_body)
            SELECT now() - make_interval(secs => n), 'create', 'User',
                   'user' || n || '@acme.test', '', '', 'failed', 403, '', 'Seat limit reached',
                   'Okta', 'IdP', 'req-' || n,
                   jsonb_build_object('userName', 'user' || n || '@acme.test')
            FROM generate_series(1, %s) AS n
            """,
            [count],
        )


def retry_kind(company: Company) -> tuple[int, object]:
    with schema_context(company.schema_name):
        return ledger_retry_kind(company=company, status=403, scim_type="", actor="ada@acme.test")


def test_a_second_retry_of_the_same_kind_is_refused_while_the_first_is_unfinished(
    acme: Company,
) -> None:
    seat_failures(acme, BULK_INLINE + 5)

    assert retry_kind(acme) == (BULK_INLINE + 5, None)
    with pytest.raises(RetryBatchRunning) as running:
        retry_kind(acme)
    with schema_context(acme.schema_name):
        (batch,) = RetryBatch.objects.all()
        assert running.value.batch == batch
        assert (batch.http_status, batch.total, batch.requested_by) == (
            403,
            BULK_INLINE + 5,
            "ada@acme.test",
        )
        retry_batch_finish(str(batch.pk), None)

    assert retry_kind(acme) == (BULK_INLINE + 5, None)  # finished: the next click opens one
    with schema_context(acme.schema_name):
        assert RetryBatch.objects.filter(finished_at__isnull=True).count() == 1


def test_a_batch_whose_task_was_lost_is_replaced_and_its_late_message_runs_nothing(
    acme: Company,
) -> None:
    seat_failures(acme, BULK_INLINE + 1)
    retry_kind(acme)
    with schema_context(acme.schema_name):
        lost = RetryBatch.objects.get()
        RetryBatch.objects.update(updated_at=timezone.now() - dt.timedelta(minutes=21))

    retry_kind(acme)

    with schema_context(acme.schema_name):
        lost.refresh_from_db()
        assert lost.finished_at is not None
        assert RetryBatch.objects.filter(finished_at__isnull=True).count() == 1
        # The lost message turning up after all: its batch is over, it replays nothing.
        assert ledger_retry_batch.run([1], "ada@acme.test", str(lost.pk)) == {}
        assert not ProvisioningEvent.objects.filter(retry_of__isnull=False).exists()


def test_the_second_click_says_a_retry_is_running_with_its_progress(
    scim: Scim, acme: Company
) -> None:
    set_seat_limit(acme, 0)
    assert_error(scim.post("/Users", okta_user("late@acme.test")), 403)
    seat_failures(acme, BULK_INLINE + 4)
    browser = signed_in(acme)
    browser.post("/t/acme/log/retry/", {"status": "403", "scim_type": ""})
    with schema_context(acme.schema_name):
        RetryBatch.objects.update(started_at=timezone.now(), succeeded=7, failed=3)
        failure = ProvisioningEvent.objects.filter(user_name="late@acme.test").get()

    again = browser.post("/t/acme/log/retry/", {"status": "403", "scim_type": ""}, follow=True)
    entry = browser.get(f"/t/acme/log/{failure.pk}/").content.decode()

    # The counts are the live notice's alone: a message repeating them would go stale.
    said = messages_of(again)
    assert (
        "A retry of these failures, asked by admin@acme.test, is already under way. Nothing "
        "was added; its progress is shown below."
    ) in said
    assert "10 of 25" not in said
    assert "running in the background, 10 of 25 done (7 succeeded)" in again.content.decode()
    assert "running in the background, 10 of 25 done" in entry
    assert 'id="retry-kind-form"' not in entry  # no second button while one runs
    with schema_context(acme.schema_name):
        assert RetryBatch.objects.count() == 1


def test_a_batch_no_worker_started_says_to_tell_support(acme: Company) -> None:
    seat_failures(acme, BULK_INLINE + 1)
    browser = signed_in(acme)
    browser.post("/t/acme/log/retry/", {"status": "403", "scim_type": ""})
    with schema_context(acme.schema_name):
        RetryBatch.objects.update(created_at=timezone.now() - dt.timedelta(seconds=40))

    log = browser.get("/t/acme/log/").content.decode()

    assert (
        "Waiting for the background worker: it has not started this retry after 30 seconds. "
        "Tell support to check the Celery worker; the retry runs once it is back."
    ) in log


def test_past_the_cap_the_button_says_how_many_of_how_many(acme: Company) -> None:
    seat_failures(acme, 1_050)
    browser = signed_in(acme)
    with schema_context(acme.schema_name):
        newest = ProvisioningEvent.objects.latest("created_at")

    page = browser.get(f"/t/acme/log/{newest.pk}/").content.decode()

    assert "Retry 1,000 of the 1,050 failures of this kind (403)" in page
    assert "One retry replays at most 1,000" in page


def test_long_jobs_go_to_the_batch_queue_and_housekeeping_stays_on_the_default_one() -> None:
    def queue(task: str) -> str:
        return str(app.amqp.router.route({}, task)["queue"].name)

    assert queue("directory.tasks.ledger_retry_batch") == "batch"
    assert queue("directory.tasks.export_ledger") == "batch"
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert queue(entry["task"]) == "celery", entry
    # Each queue its own routing key: one shared key would deliver a message to both.
    keys = [q.routing_key for q in settings.CELERY_TASK_QUEUES]
    assert len(set(keys)) == len(keys)


def consumed(command: list[str]) -> set[str]:
    """The queues a `celery worker` command line consumes (no -Q: every declared one)."""
    if "-Q" not in command:
        return {q.name for q in settings.CELERY_TASK_QUEUES}
    return set(command[command.index("-Q") + 1].split(","))


def test_every_way_of_running_the_stack_consumes_every_queue() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose_workers = [
        service["command"]
        for service in compose["services"].values()
        if "worker" in service.get("command", [])
    ]
    make_run = list(run.worker_commands("python").values())
    makefile = (ROOT / "Makefile").read_text()
    worker_rule = re.search(r"^worker: .*\n\t(.*)", makefile, re.MULTILINE)
    declared = {q.name for q in settings.CELERY_TASK_QUEUES}

    for name, workers in (("docker-compose", compose_workers), ("make run", make_run)):
        assert len(workers) == 2, name
        assert set().union(*map(consumed, workers)) == declared, name
    assert worker_rule and "-Q" not in worker_rule.group(1).split("$(if")[0]
