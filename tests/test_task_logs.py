"""`make run`'s terminal: beat and the worker at INFO do not print a line for every run of the
housekeeping tasks beat sends every few seconds, and still print everything else."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.app import trace

ROOT = Path(__file__).resolve().parent.parent


def _worker_lines(name: str) -> None:
    """What a worker logs for one run of `name` that succeeds (Celery's own calls)."""
    context = {"id": "0f1e", "name": name, "args": "()", "kwargs": "{}", "eta": None}
    logging.getLogger("celery.worker.strategy").info(trace.LOG_RECEIVED, context)
    trace.info(trace.LOG_SUCCESS, {**context, "runtime": 0.01, "return_value": "0"})


def test_the_worker_keeps_routine_receipts_to_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="celery")

    for name in ("webhooks.tasks.sweep", "events.tasks.relay", "tenants.tasks.seat_check_all"):
        _worker_lines(name)
    logging.getLogger("celery.app.trace").error(
        trace.LOG_FAILURE,
        {"id": "0f1e", "name": "webhooks.tasks.sweep", "description": "raised", "exc": "Boom"},
    )

    shown = [record.getMessage() for record in caplog.records]
    assert shown == [
        "Task tenants.tasks.seat_check_all[0f1e] received",
        "Task tenants.tasks.seat_check_all[0f1e] succeeded in 0.01s: 0",
        "Task webhooks.tasks.sweep[0f1e] raised: Boom",
    ]


def test_the_worker_at_debug_still_shows_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="celery")

    _worker_lines("webhooks.tasks.sweep")

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DEBUG", "Task webhooks.tasks.sweep[0f1e] received"),
        ("DEBUG", "Task webhooks.tasks.sweep[0f1e] succeeded in 0.01s: 0"),
    ]


def test_beat_at_info_does_not_announce_every_sweep(tmp_path: Path) -> None:
    # The dev stack's beat, as `make run` starts it, for a few sweeps; an in-memory broker
    # and a schedule file of its own (not the database's), so nothing reaches the suite's
    # queues or tables.
    env = {
        **os.environ,
        "DEBUG": "1",
        "CELERY_BROKER_URL": "memory://",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info"]
    command += ["-S", "celery.beat:PersistentScheduler", "-s", str(tmp_path / "schedule")]

    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)  # noqa: S603
        try:
            # Started (Django's setup can take seconds on a busy machine), then a few sweeps.
            deadline = time.monotonic() + 60
            while "beat: Starting..." not in log.read_text(errors="replace"):
                assert beat.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "beat did not start"
                time.sleep(0.2)
            time.sleep(4)
        finally:
            beat.terminate()
            beat.wait(timeout=30)

    output = log.read_text(errors="replace")
    assert "beat: Starting..." in output
    assert "Sending due task" not in output
