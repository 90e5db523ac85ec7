"""Celery app. Tasks run inside the schema of the company that queued them: the tenant-aware
app stamps the current schema on every message and the worker switches to it."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import celeryd_after_setup
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("headcount")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def _check_connection_budget(sender: str, instance: Any, **kwargs: Any) -> None:
    """A worker starting: warn when the deployment's connection budget does not fit
    PostgreSQL's max_connections (config/connection_budget.py); never stops the start-up."""
    from config.connection_budget import check_connection_budget, configured_budget

    warning = check_connection_budget(configured_budget(concurrency=instance.concurrency))
    if warning:
        logging.getLogger(__name__).warning(warning)
