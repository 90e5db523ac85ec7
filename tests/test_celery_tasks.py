"""Celery task names are part of the deployment: beat rows and queued messages name them. They
are pinned, so moving a task to another module cannot orphan a schedule or a queued export."""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings
from django_celery_beat.schedulers import ModelEntry

from config.celery import app
from tests.live import celery_worker


def test_every_scheduled_and_queued_task_name_is_registered() -> None:
    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    names.add("directory.tasks.export_ledger")  # queued by the portal's export button

    missing = names - set(app.tasks)

    assert missing == set()


FREQUENT_BELOW_SECONDS = 60


def beat_entry(name: str) -> ModelEntry:
    """The entry of the schedule as beat runs it: django-celery-beat's DatabaseScheduler
    stores settings.CELERY_BEAT_SCHEDULE as PeriodicTask rows and sends from those."""
    return ModelEntry.from_entry(name, app=app, **settings.CELERY_BEAT_SCHEDULE[name])


@pytest.mark.django_db
def test_every_frequent_beat_entry_expires_as_the_scheduler_sends_it() -> None:
    frequent = {
        name: entry["schedule"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["schedule"] <= FREQUENT_BELOW_SECONDS
    }

    expiries = {name: beat_entry(name).options.get("expires") for name in frequent}

    assert {"events-relay", "webhooks-sweep", "schema-pool"} <= set(frequent)
    for name, interval in frequent.items():
        # Two intervals, at least 5 s (a worker's clock a little ahead of beat's).
        assert expiries[name] == max(5, math.ceil(2 * interval)), name


@pytest.mark.live
@pytest.mark.django_db
def test_a_worker_back_from_a_stop_drops_the_relay_messages_that_expired_meanwhile(
    tmp_path: Path,
) -> None:
    app.loader.import_default_modules()
    entry = beat_entry("events-relay")
    relay = app.tasks[entry.task]

    with celery_worker(tmp_path, "-Q", "expiry-test") as worker:
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            # Sent as beat sends it, while the worker is stopped, and kept past its expiry.
            sent = relay.apply_async(
                entry.args, entry.kwargs, **{**entry.options, "queue": "expiry-test"}
            )
            time.sleep(entry.options["expires"] + 1)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        deadline = time.monotonic() + 30
        log = tmp_path / "worker.log"
        while f"Discarding revoked task: events.tasks.relay[{sent.id}]" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
