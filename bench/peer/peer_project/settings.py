"""Settings of the reference server: the smallest Django project that serves django-scim2 the
way its README and its own test project set it up, with production-like settings (DEBUG off,
persistent connections like Headcount's benchmark server) so the comparison measures the
library, not a development setup.

Environment: PEER_DATABASE_URL, PEER_TOKEN, PEER_SECRET_KEY, PEER_CONN_MAX_AGE,
PEER_PASSWORD_HASHERS (comma-separated dotted paths; Django's default when unset).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "peer-bench-only-not-a-secret")
PEER_TOKEN = os.environ.get("PEER_TOKEN", "peer-bench-token")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_scim",
    "peer_app",
]

# Only the bearer token check: django-scim2's views are csrf_exempt and wrap themselves in its
# auth-check middleware (a view decorator), which answers 401 unless request.user is set.
MIDDLEWARE = ["peer_project.auth.BearerTokenMiddleware"]

ROOT_URLCONF = "peer_project.urls"
WSGI_APPLICATION = "peer_project.wsgi.application"
AUTH_USER_MODEL = "peer_app.User"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _database(url: str) -> dict[str, object]:
    """postgres://user:password@host:port/name, parsed here rather than with another package."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"PEER_DATABASE_URL must be a postgres:// URL, not {url!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Headcount's benchmark server keeps its connections (DB_CONN_MAX_AGE=600): so does
        # the peer, or it would pay a PostgreSQL connection per request.
        "CONN_MAX_AGE": int(os.environ.get("PEER_CONN_MAX_AGE", "600")),
    }


DATABASES = {
    "default": _database(
        os.environ.get("PEER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/headcount_peer")
    )
}

# Django's default (PBKDF2) unless told otherwise: django-scim2 calls set_password() on a
# POST that carries a password, as Okta's does, so this choice dominates the POST workload.
if os.environ.get("PEER_PASSWORD_HASHERS"):
    PASSWORD_HASHERS = os.environ["PEER_PASSWORD_HASHERS"].split(",")

SCIM_SERVICE_PROVIDER = {
    # Used to build meta.location and $ref URLs.
    "SCHEME": "http",
    "NETLOC": "127.0.0.1",
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A static bearer token (PEER_TOKEN), for benchmarks only",
        },
    ],
    "GROUP_MODEL": "peer_app.models.Group",
    # The one filter setting changed from the default: django-scim2's GroupFilterQuery maps no
    # attribute at all, so `displayName eq "..."` (how IdPs and the benchmark find a group)
    # matches nothing. Projects subclass it, as the docs say; see peer_project/filters.py.
    "GROUP_FILTER_PARSER": "peer_project.filters.GroupFilterQuery",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Errors inside a SCIM call (django-scim2 logs them and answers 500) reach the console.
    "loggers": {"django_scim": {"handlers": ["console"], "level": "WARNING"}},
}
