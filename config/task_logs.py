"""Routine task receipts at DEBUG: the housekeeping tasks beat sends every few seconds (the
events relay, the webhook sweep) would otherwise fill the worker's and beat's output, at INFO,
with "Sending due task", "received" and "succeeded" lines, and bury what matters.

Only those three lines of those tasks are lowered; their retries, failures and own log lines,
and every line of every other task, keep their level."""

from __future__ import annotations

import logging
from functools import cache

from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
from django.conf import settings

# celery.beat's own message (it has no constant for it).
BEAT_SENDING = "Scheduler: Sending due task %s (%s)"

# Beat entries at least this far apart are not routine: an hourly or daily task's lines stay.
ROUTINE_BELOW_SECONDS = 60.0


@cache
def routine_tasks() -> frozenset[str]:
    """The tasks beat sends more often than once a minute (settings.CELERY_BEAT_SCHEDULE)."""
    return frozenset(
        str(entry["task"])
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if isinstance(entry["schedule"], int | float) and entry["schedule"] < ROUTINE_BELOW_SECONDS
    )


def _task_of(record: logging.LogRecord) -> str | None:
    if record.msg in (LOG_RECEIVED, LOG_SUCCESS) and isinstance(record.args, dict):
        return str(record.args.get("name"))
    if record.msg == BEAT_SENDING and isinstance(record.args, tuple) and len(record.args) == 2:
        return str(record.args[1])
    return None


class RoutineTaskFilter(logging.Filter):
    """On celery.worker.strategy, celery.app.trace and celery.beat (settings.LOGGING): a
    routine task's receipt is a DEBUG line, shown only when the logger is at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or _task_of(record) not in routine_tasks():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
