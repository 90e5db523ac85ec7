"""Celery app. Tasks run inside the schema of the company that queued them: the tenant-aware
app stamps the current schema on every message and the worker switches to it."""

from __future__ import annotations

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("headcount")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
