"""Headcount settings: one module, every value from the environment (see .env.example)."""

from __future__ import annotations

import math
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Absolute base URL that outside parties (identity providers) use to reach us; shown on the
# Access rights screen and printed by `make run`. Empty means "derive it from the request".
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")

# --- Tenancy (django-tenants, one PostgreSQL schema per company) ---------------------------

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    # Support staff's Company admin (an interface app without models).
    "support_admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    # OAuth clients (identity providers) are registered once by support and shared by every
    # company, so DOT's Application table lives in `public`. Grants and tokens do not use
    # DOT's tables: they live hashed in each company's schema (tokens.oauth).
    "oauth2_provider",
    # Sign-in throttling: one table of attempts for the support admin and every company's
    # portal, in `public` (accounts/sign_in.py keys each account with its company).
    "axes",
    # Change events across companies: stream positions, the feed the vendor API pages through,
    # vendor API keys (events/feed). The outbox itself is per company (`events`, below).
    "events.feed",
    # The vendor API (/api/v1/ on the public site; no models) and its OpenAPI schema.
    "vendor_api",
    # Webhook endpoints, their cursors and delivery log (public; webhooks/).
    "webhooks",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    "tokens",
    "directory",
    # The outbox of change events, written with each change (events/outbox.py).
    "events",
    "scim",
    "provisioning_ui",
]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
# The benchmark app (bench/): its seeding command and the ceiling endpoints under
# scim/v2/_bench/. Never in production; it has no models, so no schema holds its tables.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)
if BENCH_ENDPOINTS:
    INSTALLED_APPS.append("bench")

TENANT_MODEL = "tenants.Company"
TENANT_DOMAIN_MODEL = "tenants.Domain"
TENANT_SUBFOLDER_PREFIX = "t"
# New companies are cloned from this pre-migrated schema instead of running every migration,
# so creating a company costs the same however many migrations the project has.
TENANT_BASE_SCHEMA = "tenant_base"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Send `SET search_path` when the company changes, not before every query: see
# tenants/postgresql_backend/base.py for why that is safe (rolled-back SETs are re-sent).
TENANT_LIMIT_SET_CALLS = True
# migrate_schemas skips company schemas that already have every migration (at 1,000
# companies a no-op run took 214 s without this): tenants/migration_executor.py.
GET_EXECUTOR_FUNCTION = "tenants.migration_executor.get_executor"
PUBLIC_SCHEMA_NAME = "public"

DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

# --- Database -----------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/headcount")
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        **dj_database_url.parse(
            DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60"))
        ),
        # django-tenants' backend, with `SET search_path` sent once per company switch.
        "ENGINE": "tenants.postgresql_backend",
        # A kept connection is checked before a request uses it: by the request's first
        # read (retried once on a new connection if the kept one is gone) where routing runs,
        # by Django's `SELECT 1` elsewhere (Celery, commands, health endpoints); see
        # tenants/postgresql_backend/base.py. DB_HEALTH_CHECK_BY_FIRST_READ=0 uses
        # `SELECT 1` everywhere, DB_HEALTH_CHECKS=0 checks nothing (tests both ways).
        "CONN_HEALTH_CHECKS": env_bool("DB_HEALTH_CHECKS", True),
    }
}
DB_HEALTH_CHECK_BY_FIRST_READ = env_bool("DB_HEALTH_CHECK_BY_FIRST_READ", True)
# PostgreSQL cancels a statement of this process that runs longer (0: never). Set by the web
# server for itself only (config/gunicorn.py, from WEB_STATEMENT_TIMEOUT_SECONDS or below its
# worker timeout), so a request too costly to answer (a sort no index serves, on a big
# company) ends as a 503 the caller can read and the worker goes on serving, instead of the
# worker being killed while its statement runs on. Workers, commands and migrations keep 0:
# their long statements are meant.
DB_STATEMENT_TIMEOUT_SECONDS = float(os.environ.get("DB_STATEMENT_TIMEOUT_SECONDS", "0"))
if not 0 <= DB_STATEMENT_TIMEOUT_SECONDS < 24 * 3600:
    raise ImproperlyConfigured("DB_STATEMENT_TIMEOUT_SECONDS must be from 0 to a day.")
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# The statements every SCIM request repeats (routing, the compiled queries, a write's own
# statements) are bound on the server and prepared on each connection after a few runs
# (tenants/postgresql_backend `statements_prepared`); 0 sends them as Django sends every
# statement, parsed and planned each time (tests both ways; CI's embedded lane runs off).
# Behind pgbouncer, session pooling keeps prepared statements (docs/scaling.md).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
# A transaction that is one statement (a SCIM create: member, seat, values, event and ledger
# row in one) runs as that statement alone, with no BEGIN or COMMIT round trip
# (tenants/postgresql_backend `ending_transaction`); 0 sends them (tests both ways).
DB_ONE_STATEMENT_TRANSACTIONS = env_bool("DB_ONE_STATEMENT_TRANSACTIONS", True)
# psycopg's threshold; Django turns preparing off unless OPTIONS asks for it. Only cursors
# binding on the server prepare (the ones above, and only with the switch on): Django's
# usual client-binding cursors never do.
DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
# The few statements every SCIM request runs are compiled once per process
# (infra/prepared_query.py), and the rows routing reads become instances without
# Model.__init__ when nothing listens to it (infra/model_rows.py); 0 runs them as plain
# Django querysets and builds through Model.from_db (tests both ways).
PREPARED_QUERIES = env_bool("PREPARED_QUERIES", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis / Celery -----------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL  # empty = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must never hang a SCIM request when Redis is away: fail fast, the caller decides.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # A task whose worker died without acknowledging it (killed, machine lost) goes back to
    # the queue after this many seconds. Longer than any task runs (a 1M-row export takes
    # about a minute); a task outliving it may run twice, which every task here survives.
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "900")),
}
# Processes (prefork) per worker, each with its own database connection; empty: one per CPU.
# Part of the connection budget checked at start-up (config/connection_budget.py).
CELERY_WORKER_CONCURRENCY = int(os.environ.get("CELERY_WORKER_CONCURRENCY") or 0) or None
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Jobs a person asked for that can run for minutes (a retry of 1,000 failures, a large export)
# go to the "batch" queue, so they cannot hold every worker process while beat's frequent
# housekeeping (the events relay, the webhook sweep, the waitlist) waits on "celery". Both
# are declared: a worker started without -Q consumes both (one worker still runs everything);
# production runs one worker with -Q celery and one with -Q batch (docs/operations.md).
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each with its own routing key: under one key, a message would be delivered to both.
CELERY_TASK_QUEUES = (Queue("celery", routing_key="celery"), Queue("batch", routing_key="batch"))
CELERY_TASK_ROUTES = {
    "directory.tasks.ledger_retry_batch": {"queue": "batch"},
    "directory.tasks.export_ledger": {"queue": "batch"},
}

# --- Application --------------------------------------------------------------------------

MIDDLEWARE = [
    # Static files need no tenant and no database query, so they are served before routing.
    "infra.request_id.RequestIdMiddleware",
    "infra.security_headers.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # NUL and invalid UTF-8 are refused here, before static files, routing or any view
    # reads the path, query, headers, cookies or form (infra/request_edge.py).
    # A SCIM request refused there is still counted for its company (scim/edge_tally.py).
    "scim.edge_tally.EdgeRefusalTallyMiddleware",
    "infra.request_edge.RequestEdgeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.CompanyRoutingMiddleware",
    "tenants.cookies.CompanySessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]
# What the SCIM API's requests skip (config/handlers.py): sessions, CSRF, the signed-in user,
# messages and sign-in throttling serve people at the portal and the admin; the SCIM views
# are csrf-exempt and authenticate the Authorization header themselves. Static files are
# never under /t/. 0 runs the whole MIDDLEWARE for SCIM requests too (tests both ways).
SCIM_OWN_MIDDLEWARE = env_bool("SCIM_OWN_MIDDLEWARE", True)
PORTAL_ONLY_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.cookies.CompanySessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",
]
SCIM_MIDDLEWARE = [path for path in MIDDLEWARE if path not in PORTAL_ONLY_MIDDLEWARE]

ROOT_URLCONF = "config.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
# SCIM clients POST to `/Users` with no trailing slash: never redirect them.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
# The public site's only signed-in place; the portal's login names its own (its dashboard).
LOGIN_REDIRECT_URL = "admin:index"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a paused (account, address) before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Then the account's ceiling over every address (accounts/sign_in.py), still before the
    # password is checked.
    "accounts.sign_in.AccountCeilingBackend",
    "django.contrib.auth.backends.ModelBackend",
]

SESSION_COOKIE_NAME = "hc_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# CSRF tokens live in the (per-company) session instead of a host-wide cookie.
CSRF_USE_SESSIONS = True
# Test runs (and the servers they start) hash passwords fast; never set this in production.
if env_bool("FAST_PASSWORD_HASHING", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Absolute, so it is not resolved under a company's /t/<slug>/ prefix.
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# With EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend: the folder mails go to
# (the worker tests read the reminders a real worker sent from there).
if os.environ.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Headcount <no-reply@localhost>")

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # The vendor API's OpenAPI schema (/api/v1/schema/); the SCIM API describes itself.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Headcount vendor API",
    "DESCRIPTION": "Change events and directories of every company, for the vendor's backend. "
    "Authenticate with a vendor API key: `Authorization: Bearer hcv_…`. See docs/integrate.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "REDOC_DIST": "SIDECAR",
    # Its deploy check generates a schema of the root URLconf (the SCIM views describe
    # themselves and would warn); tests/events/test_vendor_api.py generates the vendor
    # API's schema with warnings as failures instead.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Tokens, codes and secrets in URLs are redacted from every line (config/access_log.py).
    "filters": {
        "redact_secrets": {"()": "config.access_log.RedactSecretsFilter"},
        # A 503 answered on purpose (the deprovisioning brake) is logged as a warning by the
        # code that answers it, not as a server error here (infra/refusals.py).
        "deliberate_refusals": {"()": "infra.refusals.DeliberateRefusalFilter"},
        # The relay's and the sweep's receipts, every few seconds, at DEBUG (config/task_logs.py).
        "routine_tasks": {"()": "config.task_logs.RoutineTaskFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # runserver's request lines (`make run`), through the redacting handler.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["deliberate_refusals"]},
        # oauthlib logs refresh tokens and codes at DEBUG: never let them reach a log, whatever
        # LOG_LEVEL says.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        # django-axes narrates every sign-in at INFO; its warnings (failures, pauses) stay.
        "axes": {"level": "WARNING"},
        "celery.worker.strategy": {"filters": ["routine_tasks"]},
        "celery.app.trace": {"filters": ["routine_tasks"]},
        "celery.beat": {"filters": ["routine_tasks"]},
    },
}

# --- Rate limits (scim/throttling.py; per minute, sliding window; 0 = unlimited) ----------

RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
RATE_LIMIT_REDIS_URL = os.environ.get("RATE_LIMIT_REDIS_URL") or REDIS_URL
SCIM_RATE_LIMIT_PER_MINUTE = int(os.environ.get("SCIM_RATE_LIMIT_PER_MINUTE", "12000"))
SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE = int(
    os.environ.get("SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE", "6000")
)
SCIM_AUTH_FAILURES_PER_MINUTE = int(os.environ.get("SCIM_AUTH_FAILURES_PER_MINUTE", "20"))
# Successful SCIM requests are counted per process and sent to Redis by a timer this many
# seconds after the first uncounted one (infra/usage.py): no round trip on any request; the
# Overview's counts lag by up to this much.
SCIM_USAGE_FLUSH_SECONDS = float(os.environ.get("SCIM_USAGE_FLUSH_SECONDS", "5"))
# Refused and failed SCIM requests (directory.RequestTally) are kept this many days.
REQUEST_TALLY_RETENTION_DAYS = int(os.environ.get("REQUEST_TALLY_RETENTION_DAYS", "30"))
# Proxies in front of the app that append to X-Forwarded-For (infra/client_ip.py).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# --- Sign-in throttling (django-axes, wrapped in accounts/sign_in.py) ----------------------
# Failed sign-ins at the portal and the support admin are counted per (account, client
# address). Past SIGN_IN_FAILURE_LIMIT that account is paused *for that address only* for
# SIGN_IN_LOCKOUT_MINUTES: an attacker elsewhere cannot lock the owner out of their own
# address, and an office behind one NAT does not lock out everyone else. Guesses during the
# pause are refused without being counted, so it ends on time however long they go on.
SIGN_IN_FAILURE_LIMIT = int(os.environ.get("SIGN_IN_FAILURE_LIMIT", "5"))
# Guesses spread over many addresses: past this many failures for one account within
# SIGN_IN_LOCKOUT_MINUTES, from all addresses together, it is paused for every address it
# was never signed in from (its usual ones keep working). 0 switches the ceiling off.
SIGN_IN_ACCOUNT_FAILURE_LIMIT = int(os.environ.get("SIGN_IN_ACCOUNT_FAILURE_LIMIT", "30"))
AXES_ENABLED = SIGN_IN_FAILURE_LIMIT > 0  # 0 switches throttling off
AXES_FAILURE_LIMIT = max(SIGN_IN_FAILURE_LIMIT, 1)
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SIGN_IN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# Both login forms post `username` (our USERNAME_FIELD is email); the account is keyed with
# its company, since the same email may sign in at several companies.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.sign_in.account_key"
AXES_CLIENT_IP_CALLABLE = "infra.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.sign_in.paused_response"
# Every failure is kept for support (axes' admin pages), not only the running count.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Masked in what axes logs and stores (it always masks the password).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]

# Behind a TLS-terminating load balancer set SECURE_PROXY=true.
if env_bool("SECURE_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    # Turn these off only while some subdomain is still served over plain HTTP.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes (load balancer, Kubernetes) call these over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^healthz$", r"^healthz/detail$"]

# --- Health ----------------------------------------------------------------------------------

# /healthz/detail pings a Celery worker (up to a second): each process keeps its answer this
# long, so polling it hard costs one check per window.
HEALTH_DETAIL_CACHE_SECONDS = float(os.environ.get("HEALTH_DETAIL_CACHE_SECONDS", "10"))
# Set: /healthz/detail answers only `Authorization: Bearer <token>` (monitoring), 401 otherwise.
HEALTH_DETAIL_TOKEN = os.environ.get("HEALTH_DETAIL_TOKEN", "")

# --- Provisioning ledger, exports, seats ----------------------------------------------------

LEDGER_RETENTION_DAYS = int(os.environ.get("LEDGER_RETENTION_DAYS", "90"))
# Support's record of sign-ins and failed sign-ins (addresses, user agents), purged daily.
SIGN_IN_LOG_RETENTION_DAYS = int(os.environ.get("SIGN_IN_LOG_RETENTION_DAYS", "90"))
EXPORT_ROOT = Path(os.environ.get("EXPORT_ROOT") or BASE_DIR / ".data" / "exports")
EXPORT_TTL_HOURS = int(os.environ.get("EXPORT_TTL_HOURS", "24"))
# A background job (an export, a retry of many failures) still queued after this many seconds
# is shown in the portal as waiting for the Celery worker, with what to tell support. Read
# from the job's own age: the portal never pings workers to say it.
WORKER_WAIT_WARN_SECONDS = int(os.environ.get("WORKER_WAIT_WARN_SECONDS", "30"))
SEAT_WARNING_PERCENT = int(os.environ.get("SEAT_WARNING_PERCENT", "80"))
# People provisioned from the seat waitlist in the transaction that frees their seats; more
# are provisioned by a Celery task right after (directory.waitlist), so a large limit raise
# does not hold the seat lock for long.
WAITLIST_DRAIN_BATCH = int(os.environ.get("WAITLIST_DRAIN_BATCH", "100"))
# Retry-After of a deactivation or deletion the deprovisioning brake holds (directory.brake).
DEPROVISION_BRAKE_RETRY_AFTER = int(os.environ.get("DEPROVISION_BRAKE_RETRY_AFTER", "300"))
# Support's addresses, comma-separated: told when a company's deprovisioning brake trips.
SUPPORT_EMAILS = [a.strip() for a in os.environ.get("SUPPORT_EMAILS", "").split(",") if a.strip()]
# Change events (the vendor API's /api/v1/events) are kept this long, then purged daily.
EVENT_RETENTION_DAYS = int(os.environ.get("EVENT_RETENTION_DAYS", "30"))
# How often the relay copies new company events into the all-companies feed: the feed's delay.
EVENTS_RELAY_SECONDS = int(os.environ.get("EVENTS_RELAY_SECONDS", "2"))
# --- Webhooks (webhooks/; docs/integrate.md, docs/operations.md, docs/security.md) ---------
# The sweeper hands every endpoint's undelivered events to a worker this often: the delay
# before a first attempt, and the resolution of retries.
WEBHOOK_SWEEP_SECONDS = float(os.environ.get("WEBHOOK_SWEEP_SECONDS", "1"))
# A stream handed to a worker is not handed again for this long unless the worker finishes.
WEBHOOK_KICK_SECONDS = int(os.environ.get("WEBHOOK_KICK_SECONDS", "60"))
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
# Retries double from the base up to the maximum (with jitter); an endpoint failing for
# WEBHOOK_DISABLE_AFTER_SECONDS (default 24 h) is disabled and support gets an e-mail.
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "5"))
WEBHOOK_RETRY_MAX_SECONDS = float(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "3600"))
WEBHOOK_DISABLE_AFTER_SECONDS = int(os.environ.get("WEBHOOK_DISABLE_AFTER_SECONDS", "86400"))
# Delivered rows of the delivery log are kept this long (retrying ones until they succeed).
WEBHOOK_LOG_RETENTION_DAYS = int(os.environ.get("WEBHOOK_LOG_RETENTION_DAYS", "14"))
WEBHOOK_ROTATION_GRACE_HOURS = int(os.environ.get("WEBHOOK_ROTATION_GRACE_HOURS", "24"))
# Key material for encrypting signing secrets at rest; empty: derived from SECRET_KEY.
WEBHOOK_SECRET_KEY = os.environ.get("WEBHOOK_SECRET_KEY", "")
# SSRF: endpoints on loopback/private addresses, and plain http, only where allowed (dev, tests).
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG)
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", DEBUG)
# The `iss` of RFC 9967 SETs: this deployment's public base URL.
WEBHOOK_ISSUER = os.environ.get("WEBHOOK_ISSUER") or PUBLIC_BASE_URL or "https://headcount.invalid"
# Who hears about a disabled endpoint: SUPPORT_EMAILS (above) and Django's ADMINS, if set.
ADMINS = [("Support", a) for a in os.environ.get("ADMINS", "").split(",") if a]


# The entries beat sends every few seconds expire after two intervals: each run does all the
# work due, so while no worker takes them (stopped, all busy) a queued one only duplicates the
# next, and thousands an hour would be replayed when the worker is back. At least 5 s: the
# expiry is a time of beat's clock that the worker's clock judges, and a worker a second or
# two ahead must not drop every sweep. `expire_seconds`, not Celery's `expires`:
# django-celery-beat's DatabaseScheduler reads only that key (the other is dropped without a
# word) and stores it on the PeriodicTask row.
def _expiring(interval: float) -> dict[str, int]:
    return {"expire_seconds": max(5, math.ceil(2 * interval))}


CELERY_BEAT_SCHEDULE = {
    "seat-check": {"task": "tenants.tasks.seat_check_all", "schedule": 3600.0},
    "ledger-retention": {"task": "directory.tasks.ledger_purge_all", "schedule": 24 * 3600.0},
    "request-tally-retention": {
        "task": "directory.tasks.request_tallies_purge_all",
        "schedule": 24 * 3600.0,
    },
    "exports-expiry": {"task": "directory.tasks.exports_purge_all", "schedule": 3600.0},
    "oauth-retention": {"task": "tokens.tasks.oauth_purge_all", "schedule": 24 * 3600.0},
    "token-lifecycle": {"task": "tokens.tasks.token_lifecycle_all", "schedule": 3600.0},
    "sign-in-log-retention": {
        "task": "accounts.tasks.sign_in_logs_purge_old",
        "schedule": 24 * 3600.0,
    },
    "schema-pool": {
        "task": "tenants.tasks.schema_pool_fill",
        "schedule": 60.0,
        "options": _expiring(60),
    },
    "events-relay": {
        "task": "events.tasks.relay",
        "schedule": float(EVENTS_RELAY_SECONDS),
        "options": _expiring(EVENTS_RELAY_SECONDS),
    },
    "events-retention": {"task": "events.tasks.purge", "schedule": 24 * 3600.0},
    "webhooks-sweep": {
        "task": "webhooks.tasks.sweep",
        "schedule": float(WEBHOOK_SWEEP_SECONDS),
        "options": _expiring(WEBHOOK_SWEEP_SECONDS),
    },
    "webhooks-log-retention": {"task": "webhooks.tasks.log_purge", "schedule": 24 * 3600.0},
}
# Company schemas cloned ahead of time, so creating a company is a rename (tenants.schema_pool).
SCHEMA_POOL_SIZE = int(os.environ.get("SCHEMA_POOL_SIZE", "5"))

# --- SCIM limits (all of them: docs/security.md, "Limits") ---------------------------------

# Largest request body accepted (a PUT of a group with tens of thousands of members fits);
# larger bodies are refused with a SCIM 413 before they are parsed. The protocol's own limits
# (string lengths, values per attribute, bytes per user, page size, PATCH operations, members
# per request) are constants next to the code that applies them: scim_protocol/user_input.py,
# scim_protocol/group_input.py, scim_protocol/listing.py, scim_protocol/patch.py. Memory given back
# after large requests: WEB_MEMORY_CLEANUP_AFTER_BYTES, read by config/gunicorn.py.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("MAX_REQUEST_BYTES", str(10 * 1024 * 1024)))

# --- API tokens ------------------------------------------------------------------------------

# After "Rotate", the old token keeps working next to its successor for this many days unless
# an admin confirms the switch earlier; then it is revoked (tokens.services.token_rotate).
TOKEN_ROTATION_GRACE_DAYS = int(os.environ.get("TOKEN_ROTATION_GRACE_DAYS", "7"))
# Owners and admins are e-mailed this many days before a token expires, once per figure.
TOKEN_EXPIRY_REMINDER_DAYS = (14, 3)

# --- OAuth 2.0 (identity providers connect with "Authenticate with Headcount") -------------

# Lifetime of an OAuth access token; the identity provider refreshes it with its refresh token.
OAUTH_ACCESS_TOKEN_SECONDS = int(os.environ.get("OAUTH_ACCESS_TOKEN_SECONDS", "3600"))
# A refresh token unused for this long stops working (each refresh issues a new one).
OAUTH_REFRESH_TOKEN_DAYS = int(os.environ.get("OAUTH_REFRESH_TOKEN_DAYS", "90"))
OAUTH_SCOPE = "scim"
# DOT's default, spelled out: our models point at it (tenants.OAuthClientCompany).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER: dict[str, Any] = {
    # Only the authorization code grant (with refresh tokens): no client credentials, password
    # or implicit grant can mint a token without a company admin's consent.
    "OAUTH2_SERVER_CLASS": "oauthlib.oauth2.WebApplicationServer",
    "OAUTH2_VALIDATOR_CLASS": "tokens.oauth.CompanyOAuth2Validator",
    "ACCESS_TOKEN_GENERATOR": "tokens.oauth.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "tokens.oauth.generate_refresh_token",
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "SCOPES": {OAUTH_SCOPE: "SCIM provisioning: create, update and deactivate users and groups"},
    "DEFAULT_SCOPES": [OAUTH_SCOPE],
    # PKCE is accepted from every client and required from public ones: the validator
    # decides per client (tokens.oauth.CompanyOAuth2Validator.is_pkce_required), so DOT's
    # static setting is unused and its "PKCE is not required" check is silenced below.
    # Confidential clients (Okta's SCIM connector) authenticate with their secret instead.
    "PKCE_REQUIRED": False,
    "REQUEST_APPROVAL_PROMPT": "force",
    # RFC 9700 (OAuth 2.0 Security BCP). Most of these are moot here (only the code grant is
    # served, tokens are stored hashed by tokens.oauth, SCIM reads tokens from the header
    # only) but are set so DOT's own code paths agree and `check --deploy` stays clean.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    # RFC 9207 `iss`: added by provisioning_ui.oauth per company (DOT's names the host only).
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": False,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # A rotated refresh token presented again revokes the connection (tokens.oauth).
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Identity providers register https callbacks; plain http only for local development
    # and the tests' loopback callback (OAUTH_ALLOW_HTTP_REDIRECTS=1).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"]
    if env_bool("OAUTH_ALLOW_HTTP_REDIRECTS", DEBUG)
    else ["https"],
}

# DOT cannot see what is done outside its settings: PKCE is required per client (see
# OAUTH2_PROVIDER["PKCE_REQUIRED"]) and the RFC 9207 `iss` is added per company.
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W010", "oauth2_provider.W005"]
