"""The hourly token task, queued on the real broker and run by a real Celery worker (not
eager): expiry reminders are e-mailed once each, rotated-out tokens past their grace period
are revoked. The worker consumes a queue of its own and writes e-mails to files, so what it
sent can be read back."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.live import IdP, celery_worker, in_thread, live_scim_company
from tokens.models import Credential
from tokens.services import token_issue, token_rotate
from tokens.tasks import token_lifecycle_all

pytestmark = [pytest.mark.live, pytest.mark.django_db]

QUEUE = "token-lifecycle-test"
TASK = "tokens.tasks.token_lifecycle_all"


def wait_for(check: Callable[[], bool], what: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def sent_mail(folder: Path) -> list[Message]:
    """Every e-mail the worker wrote (the file backend appends each message to a file)."""
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                messages.append(message_from_bytes(chunk.strip(), policy=policy.default))
    return messages


def test_reminders_and_grace_period_sweep_run_in_the_worker(
    live_server_url: str, django_db_blocker: Any, tmp_path: Path
) -> None:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    with live_scim_company(django_db_blocker) as live:

        def arrange() -> tuple[str, str]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                now = timezone.now()
                for name, days in (("In 13 days", 13), ("In 2 days", 2), ("In 30 days", 30)):
                    issued = token_issue(company=live.company, name=name, actor="tests")
                    Credential.objects.filter(pk=issued.credential.pk).update(
                        expires_at=now + dt.timedelta(days=days)
                    )
                old = Credential.objects.get(name="IdP")
                new = token_rotate(company=live.company, credential_id=str(old.pk), actor="tests")
                Credential.objects.filter(pk=old.pk).update(
                    retires_at=now - dt.timedelta(minutes=1)
                )
                return str(old.pk), new.secret

        old_id, new_secret = in_thread(arrange)
        log = tmp_path / "worker" / "worker.log"
        log.parent.mkdir()
        with celery_worker(
            log.parent,
            "-Q",
            QUEUE,
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
        ):
            token_lifecycle_all.apply_async(queue=QUEUE)
            wait_for(lambda: log.read_text().count(" succeeded in ") >= 1, "the first run", log)
            token_lifecycle_all.apply_async(queue=QUEUE)
            wait_for(lambda: log.read_text().count(" succeeded in ") >= 2, "the second run", log)

        def retired() -> tuple[str | None, int]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                old = Credential.objects.get(pk=old_id)
                return old.revoked_by or None, old.events.filter(action="auto_revoked").count()

        messages = sent_mail(mail_dir)
        subjects = sorted(str(m["Subject"]) for m in messages)
        assert len(messages) == 2, subjects
        assert "“In 13 days”" in subjects[0] and "“In 2 days”" in subjects[1]
        assert all(m["To"] == "owner@live.test" for m in messages)
        assert "'retired': 1, 'reminded': 2" in log.read_text()
        assert "'retired': 0, 'reminded': 0" in log.read_text()
        assert in_thread(retired) == ("rotation grace period", 1)
        idp = IdP.bearer(live_server_url, live)
        assert idp.call("GET", "/Users").status == 401
        idp.authorization = f"Bearer {new_secret}"
        assert idp.call("GET", "/Users").status == 200
