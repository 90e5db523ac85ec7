"""The progress of a background "retry all failures of this kind" as JSON, for the notice on
the provisioning log to follow without a reload: its state, its counts and the sentence to
show, the same words the page renders. Readable by whoever sees the page; another company's
batch is unknown here."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from directory.models import BATCH_ABANDONED_AFTER, RetryBatch
from tenants.models import Company
from tests.conftest import max_queries
from tests.provisioning_ui.test_access_rights import signed_in


def batch_of(company: Company, **fields: Any) -> RetryBatch:
    with schema_context(company.schema_name):
        return RetryBatch.objects.create(
            http_status=403, scim_type="", requested_by="ada@acme.test", total=25, **fields
        )


def notice_on_page(page: str) -> str:
    """The text of the retry notice on a page, tags dropped."""
    found = re.search(r'<p class="notice retry-batch"[^>]*>(.*?)</p>', page, re.S)
    assert found, page
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_a_queued_batch_says_it_starts_in_a_moment(acme: Company) -> None:
    browser = signed_in(acme)
    batch = batch_of(acme)

    data = browser.get(f"/t/acme/log/retry/{batch.pk}/").json()

    assert data["state"] == "queued"
    assert (data["total"], data["tried"], data["succeeded"]) == (25, 0, 0)
    assert data["waiting_for_worker"] is False
    assert "queued, it starts in a moment." in data["notice"]


def test_a_running_batch_gives_its_counts_in_the_words_of_the_page(acme: Company) -> None:
    browser = signed_in(acme)
    batch = batch_of(acme, started_at=timezone.now(), succeeded=7, failed=2, refused=1)

    data = browser.get(f"/t/acme/log/retry/{batch.pk}/").json()
    page = browser.get("/t/acme/log/").content.decode()

    assert data["state"] == "running"
    assert (data["total"], data["tried"], data["succeeded"], data["failed"], data["refused"]) == (
        25,
        10,
        7,
        2,
        1,
    )
    assert "running in the background, 10 of 25 done (7 succeeded)" in data["notice"]
    # One partial renders both, so the sentence cannot drift between the page and the poller.
    assert re.sub(r"<[^>]+>", "", data["notice"]) == notice_on_page(page)
    assert f'data-retry-batch="/t/acme/log/retry/{batch.pk}/"' in page


def test_a_batch_no_worker_started_says_so_and_that_the_poller_may_slow_down(
    acme: Company,
) -> None:
    browser = signed_in(acme)
    batch = batch_of(acme)
    with schema_context(acme.schema_name):
        RetryBatch.objects.update(created_at=timezone.now() - dt.timedelta(seconds=40))

    data = browser.get(f"/t/acme/log/retry/{batch.pk}/").json()

    assert data["state"] == "queued"
    assert data["waiting_for_worker"] is True
    assert "it has not started this retry after 30 seconds" in data["notice"]


def test_a_finished_batch_says_what_came_of_it_and_links_to_the_log(acme: Company) -> None:
    browser = signed_in(acme)
    now = timezone.now()
    batch = batch_of(acme, started_at=now, finished_at=now, succeeded=20, failed=3, refused=2)

    data = browser.get(f"/t/acme/log/retry/{batch.pk}/").json()

    assert data["state"] == "done"
    assert data["tried"] == 25
    assert (
        "Retry done: 25 tried, 20 succeeded, 3 failed again, 2 could not be retried"
        in data["notice"]
    )
    assert 'href="/t/acme/log/?outcome=all"' in data["notice"]


def test_a_batch_whose_task_stopped_early_says_how_far_it_got(acme: Company) -> None:
    browser = signed_in(acme)
    now = timezone.now()
    batch = batch_of(acme, started_at=now, finished_at=now, succeeded=10)

    data = browser.get(f"/t/acme/log/retry/{batch.pk}/").json()

    assert data["state"] == "done"
    assert "Retry stopped after 10 of 25: 10 succeeded, 0 failed again." in data["notice"]
    assert "could not be retried" not in data["notice"]


def test_a_batch_whose_task_was_lost_ends_as_stopped_and_the_poller_stops(
    acme: Company,
) -> None:
    # Its worker died and its message was lost: without this it read "running" for ever,
    # and an open log page polled it every few seconds for as long as it stayed open.
    browser = signed_in(acme)
    batch = batch_of(acme, started_at=timezone.now(), succeeded=10)
    silent = timezone.now() - BATCH_ABANDONED_AFTER - dt.timedelta(minutes=1)
    with schema_context(acme.schema_name):
        RetryBatch.objects.filter(pk=batch.pk).update(updated_at=silent)

    data = browser.get(f"/t/acme/log/retry/{batch.pk}/").json()
    page = browser.get("/t/acme/log/?outcome=all").content.decode()

    assert data["state"] == "done"
    assert "Retry stopped after 10 of 25" in data["notice"]
    assert "Retry stopped after 10 of 25" in notice_on_page(page)


def test_a_viewer_follows_the_progress_the_page_shows_them(acme: Company) -> None:
    viewer = signed_in(acme, role=User.Role.VIEWER, email="vic@acme.test")
    batch = batch_of(acme, started_at=timezone.now(), succeeded=4)

    reply = viewer.get(f"/t/acme/log/retry/{batch.pk}/")
    page = viewer.get("/t/acme/log/").content.decode()

    assert reply.status_code == 200
    assert "4 of 25 done" in reply.json()["notice"]
    assert "4 of 25 done" in page


def test_without_a_session_it_asks_to_sign_in(acme: Company, client: Any) -> None:
    batch = batch_of(acme)

    reply = client.get(f"/t/acme/log/retry/{batch.pk}/")

    assert reply.status_code == 302
    assert reply["Location"].startswith("/t/acme/login/")


def test_another_companys_batch_and_a_malformed_id_are_404(
    acme: Company, outsider: Company
) -> None:
    own = batch_of(acme)
    foreign = batch_of(outsider)
    browser = signed_in(acme)

    found = browser.get(f"/t/acme/log/retry/{own.pk}/")
    other = browser.get(f"/t/acme/log/retry/{foreign.pk}/")
    malformed = browser.get("/t/acme/log/retry/not-a-batch/")

    assert found.status_code == 200 and found.json()["state"] == "queued"
    assert other.status_code == 404
    assert b"Outsider" not in other.content
    assert malformed.status_code == 404


def test_the_status_costs_the_same_few_queries_as_an_exports(acme: Company) -> None:
    browser = signed_in(acme)
    batch = batch_of(acme, started_at=timezone.now(), succeeded=3)

    with max_queries(4):  # routing, the session, the login, the batch
        reply = browser.get(f"/t/acme/log/retry/{batch.pk}/")

    assert reply.status_code == 200
