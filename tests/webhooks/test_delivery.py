"""Webhook delivery in the test process (no worker): the body and headers an endpoint gets,
verified by the `standardwebhooks` verifier; order and retry state; rotation; refused
URLs. SETs are in test_set_format.py; the worker, the sweeper and outages in
test_delivery_live.py."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
import uuid
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events.relay import relay_until_idle
from events.retention import events_purge
from events.selectors import company_events_after
from tenants.models import Company
from tests.conftest import max_queries
from tests.scim_client import Scim
from tests.webhooks.receiver import Receiver, dripping, receiving
from tokens.services import token_issue
from webhooks import delivery
from webhooks.delivery import deliver_stream, log_purge, streams_due
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from webhooks.secrets import decrypt
from webhooks.services import (
    WebhookError,
    delivery_resend,
    endpoint_add,
    endpoint_update,
    secret_rotate,
    stream_resume,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_ALLOW_HTTP = True


def _users(scim: Scim, *names: str) -> None:
    for name in names:
        assert scim.post("/Users", {"userName": f"{name}@acme.test"}).status_code == 201


def _bodies(receiver: Receiver, secret: str) -> list[Any]:
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.accepted()]


def test_events_arrive_signed_in_order_with_the_event_shape(acme: Company, scim: Scim) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "ann", "bob", "cy")
        assert streams_due() == [(issued.endpoint.pk, acme.schema_name)]
        assert deliver_stream(issued.endpoint.pk, acme.schema_name)

    bodies = _bodies(receiver, issued.secret)
    assert [b["data"]["userName"] for b in bodies] == [
        "ann@acme.test",
        "bob@acme.test",
        "cy@acme.test",
    ]
    assert {b["type"] for b in bodies} == {"user.created"}
    assert [b["data"]["seq"] for b in bodies] == sorted(b["data"]["seq"] for b in bodies)
    first = receiver.accepted()[0]
    assert first.headers["webhook-id"] == bodies[0]["data"]["id"]  # the de-duplication key
    assert first.headers["Content-Type"] == "application/json"
    assert bodies[0]["data"]["company"] == "acme"
    assert bodies[0]["data"]["data"]["userName"] == "ann@acme.test"
    assert streams_due() == []
    log = WebhookDelivery.objects.filter(endpoint=issued.endpoint).order_by("seq")
    assert [(d.status, d.attempts, d.response_status) for d in log] == [("delivered", 1, 204)] * 3


def test_a_company_endpoint_never_gets_another_companys_stream(
    acme: Company, outsider: Company, scim: Scim
) -> None:
    # The sweeper never pairs them; a task queued by hand or left stale must not either.
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=outsider, actor="tests")
        _users(scim, "ann")
        deliver_stream(issued.endpoint.pk, acme.schema_name)

    assert receiver.accepted() == []


def test_a_tampered_body_or_another_secret_fails_verification(acme: Company, scim: Scim) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "dee")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    (got,) = receiver.accepted()
    with pytest.raises(WebhookVerificationError):
        Webhook(issued.secret).verify(got.body.replace(b"dee", b"eve"), got.headers)
    other = endpoint_add(url=receiver.url, company=acme, actor="tests")
    with pytest.raises(WebhookVerificationError):
        Webhook(other.secret).verify(got.body, got.headers)


def test_a_failure_holds_later_events_back_until_it_is_delivered(acme: Company, scim: Scim) -> None:
    with receiving(status=500) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "f1", "f2")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        (failed,) = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
        assert (failed.status, failed.attempts, failed.response_status) == ("retrying", 1, 500)
        assert failed.response_excerpt == "no"
        cursor = WebhookCursor.objects.get(endpoint=issued.endpoint)
        assert cursor.retry_at is not None and cursor.retry_at > timezone.now()
        assert streams_due() == []  # backing off: the sweeper leaves it

        receiver.status = 204
        WebhookCursor.objects.filter(pk=cursor.pk).update(retry_at=timezone.now())
        WebhookDelivery.objects.filter(pk=failed.pk).update(next_attempt_at=timezone.now())
        assert streams_due() == [(issued.endpoint.pk, acme.schema_name)]
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    names = [b["data"]["userName"] for b in _bodies(receiver, issued.secret)]
    assert names == ["f1@acme.test", "f2@acme.test"]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("delivered", 2)


_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"ok" * 10


@pytest.mark.parametrize(
    "fast_bytes", [0, _ANSWER.index(b"ok")], ids=["the status line", "the body"]
)
def test_an_attempt_ends_at_its_deadline_however_slowly_the_answer_comes(
    acme: Company, scim: Scim, settings: Any, fast_bytes: int
) -> None:
    # The timeout bounded each read: an answer sent a byte at a time held the worker for as
    # long as the receiver liked, and was then recorded as delivered.
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    with dripping(_ANSWER, every=0.3, after=fast_bytes) as url:
        issued = endpoint_add(url=url, company=acme, actor="tests")
        _users(scim, "slow")
        started = time.monotonic()

        deliver_stream(issued.endpoint.pk, acme.schema_name)

        took = time.monotonic() - started
    assert took < 2
    (row,) = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
    assert (row.status, row.response_status) == ("retrying", None)
    assert "no complete answer within 1 s" in row.response_excerpt
    assert 1000 <= (row.latency_ms or 0) < 2000
    cursor = WebhookCursor.objects.get(endpoint=issued.endpoint)
    assert cursor.retry_at is not None and cursor.retry_at > timezone.now()


def test_an_endpoint_failing_too_long_is_disabled_and_support_is_told(
    acme: Company, scim: Scim, settings: Any, mailoutbox: list[Any], caplog: Any
) -> None:
    settings.SUPPORT_EMAILS = ["support@headcount.test"]
    with receiving(status=503) as receiver:
        url = f"{receiver.url}?token=hook-secret-1"
        issued = endpoint_add(url=url, company=acme, actor="tests")
        WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(
            failing_since=timezone.now()
            - dt.timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
        )
        _users(scim, "gone")
        with caplog.at_level(logging.WARNING, logger="webhooks.delivery"):
            deliver_stream(issued.endpoint.pk, acme.schema_name)
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert not endpoint.enabled and endpoint.disabled_at is not None
    (line,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert line.getMessage().startswith(f"Webhook endpoint disabled: {endpoint.pk}")
    assert "failing since" in line.getMessage()
    (mail,) = mailoutbox
    assert mail.to == ["support@headcount.test"]
    # Named by its host: a token in its URL stays out of a mail that is kept and forwarded.
    assert mail.subject == "[Headcount] Webhook endpoint disabled: 127.0.0.1"
    assert f"at 127.0.0.1 (id {endpoint.pk})" in mail.body
    assert "hook-secret-1" not in mail.subject + mail.body
    assert streams_due() == []  # a disabled endpoint is not swept
    # Its log says so, rather than "Retrying" with a next attempt that will not come.
    (row,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert (row.status, row.next_attempt_at) == ("abandoned", None)
    assert row.note.startswith("endpoint disabled: failing since")


def test_a_resend_while_the_endpoint_is_disabled_waits_abandoned_and_goes_on_enable(
    acme: Company, scim: Scim
) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "twice")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        _update(issued.endpoint, enabled=False)
        row = WebhookDelivery.objects.get(endpoint=issued.endpoint)

        delivery_resend(row)

        row.refresh_from_db()
        assert (row.status, row.next_attempt_at) == ("abandoned", None)
        assert row.note == "endpoint disabled: disabled by support"
        _update(issued.endpoint, enabled=True)
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    assert len(receiver.accepted()) == 2
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)


def test_a_410_gone_disables_the_endpoint_at_once(
    acme: Company, scim: Scim, settings: Any, mailoutbox: list[Any], caplog: Any
) -> None:
    # Standard Webhooks: 410 Gone means the receiver wants no more webhooks from this sender.
    settings.SUPPORT_EMAILS = ["support@headcount.test"]
    with receiving(status=410) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "bye1", "bye2")

        with caplog.at_level(logging.WARNING, logger="webhooks.delivery"):
            deliver_stream(issued.endpoint.pk, acme.schema_name)

    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "the receiver answered 410 Gone"
    (mail,) = mailoutbox
    assert "410 Gone" in mail.body
    (row,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert (row.status, row.response_status, row.next_attempt_at) == ("abandoned", 410, None)
    assert row.note == "endpoint disabled: the receiver answered 410 Gone"
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 2
    assert "answered 410 Gone to event" in lines[0] and acme.schema_name in lines[0]
    assert lines[1].startswith(f"Webhook endpoint disabled: {endpoint.pk}")
    assert streams_due() == []


@pytest.mark.parametrize(
    ("status", "retry_after", "waits"),
    [
        (503, "120", (119, 121)),
        (429, "120", (119, 121)),
        (503, "an HTTP-date 600 s ahead", (590, 601)),
        (503, "86400", (3600, 3600)),  # never past the retry cap
        (503, "0", (2.5, 5)),  # never sooner than the backoff
        (503, "soon", (2.5, 5)),  # unreadable: the backoff
        (503, "\u00b2", (2.5, 5)),  # a digit to str.isdigit(), not to float()
        (500, "120", (2.5, 5)),  # only 429 and 503 ask to wait
    ],
)
def test_a_retry_after_is_honoured_within_the_backoff_and_the_cap(
    acme: Company, scim: Scim, settings: Any, status: int, retry_after: str, waits: Any
) -> None:
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    if retry_after.startswith("an HTTP-date"):
        ahead = timezone.now() + dt.timedelta(seconds=600)
        retry_after = email.utils.format_datetime(ahead, usegmt=True)
    with receiving(status=status) as receiver:
        receiver.headers = {"Retry-After": retry_after}
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "later")

        deliver_stream(issued.endpoint.pk, acme.schema_name)

    (row,) = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
    cursor = WebhookCursor.objects.get(endpoint=issued.endpoint)
    assert row.next_attempt_at == cursor.retry_at
    assert cursor.retry_at is not None and row.last_attempt_at is not None
    waited = (cursor.retry_at - row.last_attempt_at).total_seconds()
    assert waits[0] <= waited <= waits[1]


def test_disabling_abandons_the_log_rows_and_enabling_makes_them_due_again(
    acme: Company, scim: Scim
) -> None:
    with receiving(status=500) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "held")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        receiver.status = 204

        _update(issued.endpoint, enabled=False)
        (row,) = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
        assert (row.status, row.next_attempt_at) == ("abandoned", None)
        assert row.note == "endpoint disabled: disabled by support"

        _update(issued.endpoint, enabled=True)
        row.refresh_from_db()
        assert (row.status, row.note) == ("retrying", "")
        assert row.next_attempt_at is not None and row.next_attempt_at <= timezone.now()
        assert streams_due() == [(issued.endpoint.pk, acme.schema_name)]
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)


def test_enabling_after_retention_dropped_the_events_leaves_their_rows_abandoned(
    acme: Company, scim: Scim
) -> None:
    with receiving(status=500) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "held")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        _update(issued.endpoint, enabled=False)
        relay_until_idle()
        events_purge(30, now=timezone.now() + dt.timedelta(days=31))  # a disabled one holds none

        _update(issued.endpoint, enabled=True)

    (row,) = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
    # Not "Retrying" for good with an event delivery can never reach again.
    assert (row.status, row.next_attempt_at) == ("abandoned", None)
    assert row.note == "past retention: the event is no longer kept"


def test_a_failure_recorded_after_another_worker_disabled_the_endpoint_is_abandoned(
    acme: Company, scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The endpoint fails for every company at once: a worker disables it while another's
    # attempt is in flight; that attempt's row must not say "Retrying" either.
    real_send = delivery.send

    def send_while_disabled(*args: Any) -> Any:
        _update(args[0], enabled=False)
        return real_send(*args)

    monkeypatch.setattr("webhooks.delivery.send", send_while_disabled)
    with receiving(status=500) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "late")

        deliver_stream(issued.endpoint.pk, acme.schema_name)

    (row,) = WebhookDelivery.objects.filter(endpoint=issued.endpoint)
    assert (row.status, row.next_attempt_at, row.attempts) == ("abandoned", None, 1)
    assert row.note == "endpoint disabled: disabled by support"


def _update(endpoint: WebhookEndpoint, **changes: Any) -> None:
    endpoint.refresh_from_db()
    current = {
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "format": endpoint.format,
        "enabled": endpoint.enabled,
    }
    endpoint_update(endpoint, **{**current, **changes})


def _due_now(endpoint: WebhookEndpoint) -> None:
    WebhookCursor.objects.filter(endpoint=endpoint).update(retry_at=None)


def test_new_event_types_apply_to_what_happens_after_the_change_not_to_the_backlog(
    acme: Company, scim: Scim
) -> None:
    # Narrowing the types skipped the backlog already queued for the endpoint, silently, and
    # left its failed row "Retrying" for ever.
    with receiving(status=500) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "queued1", "queued2")
        deliver_stream(issued.endpoint.pk, acme.schema_name)  # fails on queued1
        _update(issued.endpoint, event_types=["user.deleted"])
        _users(scim, "after")
        receiver.status = 204
        _due_now(issued.endpoint)

        deliver_stream(issued.endpoint.pk, acme.schema_name)

        names = [b["data"]["userName"] for b in _bodies(receiver, issued.secret)]
        assert names == ["queued1@acme.test", "queued2@acme.test"]
        log = WebhookDelivery.objects.filter(endpoint=issued.endpoint).order_by("seq")
        assert [(d.status, d.attempts) for d in log] == [("delivered", 2), ("delivered", 1)]

        # Widening: the backlog keeps the narrow types, what follows gets the new ones.
        receiver.status = 500
        user_id = scim.get('/Users?filter=userName eq "after@acme.test"').json()["Resources"][0]
        assert scim.delete(f"/Users/{user_id['id']}").status_code == 204
        deliver_stream(issued.endpoint.pk, acme.schema_name)  # fails on the deletion
        _update(issued.endpoint, event_types=[])
        _users(scim, "widened")
        receiver.status = 204
        _due_now(issued.endpoint)
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    kinds = [(b["type"], b["data"]["userName"]) for b in _bodies(receiver, issued.secret)]
    assert kinds[2:] == [("user.deleted", "after@acme.test"), ("user.created", "widened@acme.test")]
    assert streams_due() == []


def test_a_row_passed_over_on_purpose_is_marked_skipped_with_the_reason(
    acme: Company, scim: Scim
) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "once")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        _update(issued.endpoint, event_types=["user.deleted"])
        row = WebhookDelivery.objects.get(endpoint=issued.endpoint)
        delivery_resend(row)

        deliver_stream(issued.endpoint.pk, acme.schema_name)

    assert len(receiver.accepted()) == 1
    row.refresh_from_db()
    assert (row.status, row.next_attempt_at) == ("skipped", None)
    assert row.note == "user.created is not among the endpoint's event types"
    assert streams_due() == []


def test_a_company_stream_failing_too_long_is_paused_while_the_others_flow(
    acme: Company, outsider: Company, scim: Scim, client: Client, settings: Any, mailoutbox: Any
) -> None:
    # The receiver refuses acme's events and takes outsider's: each success of outsider's
    # cleared the endpoint's failure record, so acme's stream was never given up on.
    settings.SUPPORT_EMAILS = ["support@headcount.test"]
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 1
    with schema_context(outsider.schema_name):
        other = Scim(client, token_issue(company=outsider, name="Okta", actor="t").secret)
    other.base = "/t/outsider/scim/v2"
    with receiving() as receiver:
        receiver.status_of = lambda body: 500 if b'"company":"acme"' in body else 204
        issued = endpoint_add(url=f"{receiver.url}?token=hook-secret-2", actor="tests")
        endpoint = issued.endpoint.pk
        _users(scim, "stuck1")
        deliver_stream(endpoint, acme.schema_name)
        assert other.post("/Users", {"userName": "ok1@outsider.test"}).status_code == 201
        deliver_stream(endpoint, outsider.schema_name)
        time.sleep(1.1)
        WebhookCursor.objects.filter(schema_name=acme.schema_name).update(retry_at=None)

        deliver_stream(endpoint, acme.schema_name)

        assert WebhookEndpoint.objects.get(pk=endpoint).enabled
        (mail,) = mailoutbox
        assert "paused" in mail.subject and "acme" in mail.subject
        assert "acme" in mail.body and f"at 127.0.0.1 (id {endpoint})" in mail.body
        assert "hook-secret-2" not in mail.subject + mail.body
        stream = WebhookCursor.objects.get(endpoint_id=endpoint, schema_name=acme.schema_name)
        assert stream.paused_at is not None and "acme's events failing" in stream.paused_reason
        (row,) = WebhookDelivery.objects.filter(schema_name=acme.schema_name)
        assert (row.status, row.next_attempt_at) == ("abandoned", None)
        assert row.note.startswith("stream paused: acme's events failing since")
        WebhookCursor.objects.filter(pk=stream.pk).update(retry_at=None)
        assert other.post("/Users", {"userName": "ok2@outsider.test"}).status_code == 201
        assert streams_due() == [(endpoint, outsider.schema_name)]  # acme's waits for support
        deliver_stream(endpoint, acme.schema_name)  # a stale task changes nothing
        deliver_stream(endpoint, outsider.schema_name)
        delivered = [b["data"]["userName"] for b in _bodies(receiver, issued.secret)]
        assert delivered == ["ok1@outsider.test", "ok2@outsider.test"]

        receiver.status_of = None
        stream_resume(stream)
        assert streams_due() == [(endpoint, acme.schema_name)]
        deliver_stream(endpoint, acme.schema_name)
    delivered = [b["data"]["userName"] for b in _bodies(receiver, issued.secret)]
    assert delivered[2:] == ["stuck1@acme.test"]
    stream.refresh_from_db()
    assert (stream.paused_at, stream.failing_since) == (None, None)
    row.refresh_from_db()
    assert (row.status, row.note) == ("delivered", "")


def test_secret_rotation_signs_with_both_during_the_grace_period(acme: Company, scim: Scim) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        new = secret_rotate(issued.endpoint, grace=dt.timedelta(hours=1))
        _users(scim, "rot1")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        # The grace period is over: only the new secret signs.
        WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(
            previous_secret_until=timezone.now() - dt.timedelta(seconds=1)
        )
        _users(scim, "rot2")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    during, after = receiver.accepted()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(issued.secret).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(issued.secret).verify(after.body, after.headers)


def test_resend_sends_the_event_again_with_the_same_webhook_id(acme: Company, scim: Scim) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "again")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        delivery_resend(WebhookDelivery.objects.get(endpoint=issued.endpoint))
        assert streams_due() == [(issued.endpoint.pk, acme.schema_name)]
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    first, second = receiver.accepted()
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert WebhookDelivery.objects.get(endpoint=issued.endpoint).attempts == 2


@pytest.mark.parametrize("last_answer", [204, 500])
def test_a_resend_during_a_running_delivery_is_not_overwritten_by_it(
    acme: Company, scim: Scim, monkeypatch: pytest.MonkeyPatch, last_answer: int
) -> None:
    # An admin resends the first event while the stream's run is sending later ones (after
    # the run's last flush): the run's next write of the cursor, after a success or after a
    # failure, must not jump over the rewound position.
    monkeypatch.setattr("webhooks.delivery.FLUSH_SECONDS", 3600)
    real_send = delivery.send
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "r1")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        first = WebhookDelivery.objects.get(endpoint=issued.endpoint)
        _users(scim, "r2", "r3")
        resent: list[int] = []

        def send_and_resend(*args: Any) -> Any:
            if args[1].user_name == "r3@acme.test" and not resent:
                resent.append(first.seq)
                delivery_resend(first)
                receiver.status = last_answer
            answer = real_send(*args)
            receiver.status = 204
            return answer

        monkeypatch.setattr("webhooks.delivery.send", send_and_resend)
        deliver_stream(issued.endpoint.pk, acme.schema_name)

    names = [b["data"]["userName"] for b in _bodies(receiver, issued.secret)]
    sent_on = ["r2@acme.test"] if last_answer == 500 else ["r2@acme.test", "r3@acme.test"]
    assert names == ["r1@acme.test", *sent_on, "r1@acme.test", "r2@acme.test", "r3@acme.test"]
    cursor = WebhookCursor.objects.get(endpoint=issued.endpoint)
    assert cursor.retry_at is None
    assert not streams_due()
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("delivered", 2)


def test_a_resend_that_leaves_the_cursor_where_it_was_is_not_written_over(
    acme: Company, scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cursor stands just before r1 (an earlier resend of it), and a run is sending r1
    # and r2 when an admin resends r1 again: the position stays where it was, but the run
    # must still not move the cursor over that resend.
    monkeypatch.setattr("webhooks.delivery.FLUSH_SECONDS", 3600)
    real_send = delivery.send
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "r1", "r2")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        first = WebhookDelivery.objects.filter(endpoint=issued.endpoint).order_by("seq")[0]
        delivery_resend(first)
        sent: list[str] = []

        def send_and_resend(*args: Any) -> Any:
            sent.append(args[1].user_name)
            if sent == ["r1@acme.test", "r2@acme.test"]:
                delivery_resend(first)
            return real_send(*args)

        monkeypatch.setattr("webhooks.delivery.send", send_and_resend)
        deliver_stream(issued.endpoint.pk, acme.schema_name)

    names = [b["data"]["userName"] for b in _bodies(receiver, issued.secret)]
    assert names == ["r1@acme.test", "r2@acme.test"] * 3
    assert not streams_due()
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("delivered", 3)


def test_event_type_choice_sends_only_those(acme: Company, scim: Scim) -> None:
    with receiving() as receiver:
        issued = endpoint_add(
            url=receiver.url, company=acme, event_types=["user.deleted"], actor="tests"
        )
        _users(scim, "short")
        user_id = scim.get("/Users?filter=userName%20eq%20%22short@acme.test%22").json()[
            "Resources"
        ][0]["id"]
        assert scim.delete(f"/Users/{user_id}").status_code == 204
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    assert [b["type"] for b in _bodies(receiver, issued.secret)] == ["user.deleted"]
    assert streams_due() == []


def test_private_addresses_are_refused_in_production(acme: Company, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://[::1]/x", "ftp://x.test/"):
        with pytest.raises(WebhookError):
            endpoint_add(url=url, actor="tests")
    with pytest.raises(CommandError, match="non-public"):
        call_command("webhook_add", "--url", "http://localhost:8/x")


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
        "http://[64:ff9b:1::a9fe:a9fe]/x",  # local-use NAT64 of 169.254.169.254
        "http://[2002:7f00:1::1]/x",  # 6to4 of 127.0.0.1
        "http://[::127.0.0.1]/x",  # IPv4-compatible loopback
        "http://[::ffff:192.168.0.1]/x",  # IPv4-mapped private
        "http://example.test:99999/x",  # not a port: a clear refusal, not a 500
    ],
)
def test_ipv6_spellings_of_private_addresses_are_refused(
    acme: Company, settings: Any, url: str
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    with pytest.raises(WebhookError):
        endpoint_add(url=url, actor="tests")


def test_webhook_add_prints_a_secret_that_is_stored_encrypted(acme: Company, capsys: Any) -> None:
    call_command(
        "webhook_add",
        "--url",
        "http://127.0.0.1:9/x",
        "--company",
        "acme",
        "--events",
        "user.created",
    )
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(url="http://127.0.0.1:9/x")
    assert secret not in endpoint.secret_encrypted and decrypt(endpoint.secret_encrypted) == secret
    assert endpoint.company == acme and endpoint.event_types == ["user.created"]
    with pytest.raises(CommandError, match="Unknown event types"):
        call_command("webhook_add", "--url", "http://127.0.0.1:9/x", "--events", "user.exploded")
    with pytest.raises(CommandError, match="No company"):
        call_command("webhook_add", "--url", "http://127.0.0.1:9/x", "--company", "nope")


@pytest.mark.parametrize("stopped", ["endpoint disabled", "stream paused"])
def test_retention_keeps_what_an_enabled_endpoint_has_not_got(
    acme: Company, scim: Scim, stopped: str
) -> None:
    with receiving(status=500) as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "kept")
        deliver_stream(issued.endpoint.pk, acme.schema_name)  # fails: not delivered
    relay_until_idle()
    later = timezone.now() + dt.timedelta(days=31)

    events_purge(30, now=later)
    assert [e.user_name for e in company_events_after(acme.schema_name, 0, 10**6)][-1:] == [
        "kept@acme.test"
    ]

    # A disabled endpoint, or a paused stream, holds nothing back.
    if stopped == "endpoint disabled":
        WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(enabled=False)
    else:
        WebhookCursor.objects.filter(endpoint=issued.endpoint).update(paused_at=timezone.now())
    events_purge(30, now=later)
    assert company_events_after(acme.schema_name, 0, 10**6) == []


def test_delivered_log_rows_are_purged_after_retention_retrying_ones_stay(
    acme: Company, scim: Scim
) -> None:
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, "old1", "old2")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
        receiver.status = 500
        _users(scim, "old3")
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    statuses = WebhookDelivery.objects.filter(endpoint=issued.endpoint).values_list(
        "status", flat=True
    )
    assert sorted(statuses) == ["delivered", "delivered", "retrying"]

    assert log_purge(14, now=timezone.now() + dt.timedelta(days=15)) == 2
    assert list(
        WebhookDelivery.objects.filter(endpoint=issued.endpoint).values_list("status", flat=True)
    ) == ["retrying"]


def test_skipped_rows_go_with_the_log_and_abandoned_ones_once_their_event_is_gone(
    acme: Company, settings: Any
) -> None:
    # Nothing will send either again: without this they stayed in the log for good.
    settings.EVENT_RETENTION_DAYS = 30
    endpoint = endpoint_add(url="http://127.0.0.1:9/hook", company=acme, actor="tests").endpoint
    for seq, status in enumerate(("skipped", "abandoned", "retrying"), start=1):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            schema_name=acme.schema_name,
            seq=seq,
            event_id=uuid.uuid4(),
            event_type="user.created",
            status=status,
        )

    def left(days_later: int) -> list[str]:
        log_purge(14, now=timezone.now() + dt.timedelta(days=days_later))
        return sorted(WebhookDelivery.objects.values_list("status", flat=True))

    assert left(13) == ["abandoned", "retrying", "skipped"]
    # Enabling the endpoint would still send the abandoned row's event, which is kept.
    assert left(15) == ["abandoned", "retrying"]
    assert left(31) == ["retrying"]


def test_disabling_enabling_and_purging_read_the_undelivered_rows_not_the_log(
    acme: Company,
) -> None:
    endpoint = endpoint_add(url="http://127.0.0.1:9/hook", company=acme, actor="tests").endpoint
    with connection.cursor() as cursor:
        # A busy endpoint's log: many delivered rows, a few not.
        cursor.execute(
            """
            INSERT INTO public.webhooks_webhookdelivery (endpoint_id, schema_name, seq,
                event_id, event_type, status, attempts, response_excerpt, created_at,
                delivered_at)
            SELECT %s, %s, i, gen_random_uuid(), 'user.created',
                CASE WHEN i %% 1000 = 0 THEN 'retrying' ELSE 'delivered' END, 1, '', now(),
                CASE WHEN i %% 1000 = 0 THEN NULL ELSE now() END
            FROM generate_series(1, 50000) AS i
            """,
            [endpoint.pk, acme.schema_name],
        )
        cursor.execute("ANALYZE public.webhooks_webhookdelivery")

    def plans(run: Any) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            run()
        explained = []
        with connection.cursor() as cursor:
            for statement in captured.captured_queries:
                if "webhooks_webhookdelivery" in statement["sql"]:
                    cursor.execute("EXPLAIN " + statement["sql"])
                    explained.append("\n".join(row[0] for row in cursor.fetchall()))
        assert explained
        return explained

    # Each statement of disabling, enabling and the purge of undelivered rows goes through
    # the index of the undelivered rows (or, for the rows before a seq, the range of the
    # event index below it); the purge of delivered ones through its own.
    stopping = plans(lambda: delivery.deliveries_abandon(endpoint.pk, note="disabled"))
    resuming = plans(lambda: delivery.deliveries_resume(endpoint.pk))
    delivered, undelivered = plans(lambda: log_purge(14))

    for plan in [*stopping, *resuming, undelivered]:
        below_a_seq = "webhookdelivery_event" in plan and "seq <" in plan
        assert "webhookdelivery_unsettled" in plan or below_a_seq, plan
    assert "webhookdelivery_delivered_at" in delivered, delivered


def test_the_sweeper_and_the_log_purge_are_scheduled_under_their_pinned_names(
    settings: Any,
) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"webhooks.tasks.sweep", "webhooks.tasks.log_purge"} <= tasks


def test_delivering_a_stream_costs_statements_per_batch_not_per_event(
    acme: Company, scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flush also comes every FLUSH_SECONDS: a slow machine must not change the count.
    monkeypatch.setattr("webhooks.delivery.FLUSH_SECONDS", 3600)
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, actor="tests")
        _users(scim, *(f"q{n}" for n in range(40)))
        # Lock, company, cursor, endpoint, events, one flush (savepoint, insert, cursor,
        # release), endpoint and events again (none left), clearing the kick, unlock: the same
        # for 4 events or 40.
        with max_queries(13):
            deliver_stream(issued.endpoint.pk, acme.schema_name)
    assert len(receiver.accepted()) == 40
