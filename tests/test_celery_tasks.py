"""Celery task names are part of the deployment: beat rows and queued messages name them. They
are pinned, so moving a task to another module cannot orphan a schedule or a queued export."""

from __future__ import annotations

from django.conf import settings

from config.celery import app


def test_every_scheduled_and_queued_task_name_is_registered() -> None:
    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    names.add("directory.tasks.export_ledger")  # queued by the portal's export button

    missing = names - set(app.tasks)

    assert missing == set()
