"""Settings of the bare ceiling app: Django + DRF defaults, nothing of Headcount's.

DATABASE_URL and DB_CONN_MAX_AGE as Headcount reads them (the benchmark passes the same
ones); the table lives in the `bench_bare` schema (bench/bare/seed.py)."""

from __future__ import annotations

import os
from typing import Any

import dj_database_url

SCHEMA = "bench_bare"

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["rest_framework", "bench.bare"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.urls"
USE_TZ = True
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        **dj_database_url.parse(
            os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/headcount_bench"),
            conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "600")),
        ),
        "OPTIONS": {"options": f"-c search_path={SCHEMA}"},
    }
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    # DRF's JSON renderer, labelled as the benchmark's clients ask (Accept: application/scim+json).
    "DEFAULT_RENDERER_CLASSES": ["bench.bare.renderers.ScimLabelledJSONRenderer"],
    # No django.contrib.auth here: an unauthenticated request's user is None.
    "UNAUTHENTICATED_USER": None,
}
