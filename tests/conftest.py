"""Shared fixtures.

Two companies exist for the whole session (created once, kept with --reuse-db): `acme`, where
tests act, and `outsider`, whose data must never show up at acme (and whose credentials must
never work there). Each test runs in a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Company
from tenants.services import company_create
from tests.scim_client import scim as scim  # the SCIM client fixture, for every test
from tests.served_client import ServedClient

TEST_PASSWORD = "Correct-Horse-Battery-9"
KEPT_COMPANIES = ("acme", "outsider")


def _ensure_company(slug: str, name: str) -> Company:
    existing = Company.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    return company_create(slug=slug, name=name, scim_enabled=True, actor="tests")


def _drop_leftovers() -> None:
    """What a killed run committed and never dropped (a live test's company or vendor-wide
    webhook endpoint): the kept test database (--reuse-db) would show it to every later run,
    in the webhook sweeper's streams and the Overview's counts. Every test drops what it
    commits, so any company but the two kept, and any endpoint, is left over."""
    from webhooks.models import WebhookEndpoint

    connection.set_schema_to_public()
    for company in Company.objects.customers().exclude(slug__in=KEPT_COMPANIES):
        print(f"Dropping company {company.slug}, left in the test database by an interrupted run.")
        company.delete(force_drop=True)
    endpoints, _ = WebhookEndpoint.objects.all().delete()
    if endpoints:
        print("Dropped webhook endpoints left in the test database by an interrupted run.")


@pytest.fixture
def client() -> ServedClient:
    """pytest-django's client, serving SCIM paths with the SCIM API's own middleware as
    gunicorn does (config/handlers.py)."""
    return ServedClient()


@pytest.fixture(autouse=True)
def _public_schema_first() -> None:
    # A request made by an earlier test leaves the shared connection in that company's schema
    # (the middleware switches it; nothing switches back). Every test starts in `public`.
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # Rate-limit counters live in Redis, outside the rolled-back transaction: without this,
    # the failed sign-ins of one test (the isolation matrix sends hundreds) would throttle
    # the next one.
    clear_rate_limits()


def clear_rate_limits() -> None:
    import redis
    from django.conf import settings

    from infra.ratelimit import KEY_PREFIX, forget_leases

    client = redis.Redis.from_url(settings.RATE_LIMIT_REDIS_URL)
    keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    # Units this process reserved were counted in the keys just deleted.
    forget_leases()


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: pytest.FixtureRequest) -> None:
    # Production serves hashed files from `collectstatic`; tests render pages without running it.
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> None:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _drop_leftovers()
        _ensure_company("acme", "Acme Inc")
        _ensure_company("outsider", "Outsider Ltd")


@pytest.fixture
def acme(db: None) -> Iterator[Company]:
    """The company under test, with the connection in its schema. SCIM is on."""
    company = Company.objects.get(slug="acme")
    connection.set_tenant(company)
    # Refused requests that tests against a live server committed (directory/traffic.py)
    # would show in this test's Overview and log; dropped inside its rolled-back transaction.
    from directory.models import RequestTally

    RequestTally.objects.all().delete()
    yield company
    connection.set_schema_to_public()


@pytest.fixture
def outsider(db: None) -> Company:
    return Company.objects.get(slug="outsider")


def make_portal_user(company: Company, *, email: str, role: str = User.Role.OWNER) -> User:
    with schema_context(company.schema_name):
        return User.objects.create_user(email=email, password=TEST_PASSWORD, role=role)


@pytest.fixture
def support_superuser(db: None) -> User:
    with schema_context("public"):
        return User.objects.create_superuser("root@support.test", TEST_PASSWORD)


@pytest.fixture(scope="session", autouse=True)
def _export_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exports of this run go to a temporary folder shared with server and worker processes."""
    from django.conf import settings

    root = tmp_path_factory.mktemp("exports")
    previous = settings.EXPORT_ROOT
    settings.EXPORT_ROOT = root
    yield
    settings.EXPORT_ROOT = previous


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """A real Celery worker (threads pool) on the real Redis broker and the test database."""
    from tests.live import celery_worker

    with celery_worker(tmp_path_factory.mktemp("worker")) as process:
        yield process


@pytest.fixture(scope="session")
def live_server_url(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a real gunicorn server on the test database (for end-to-end tests)."""
    from tests.live import gunicorn_server

    with gunicorn_server(tmp_path_factory.mktemp("live-server")) as url:
        yield url


class _QueryCounter:
    def __init__(self, context: CaptureQueriesContext):
        self.context = context

    @property
    def statements(self) -> list[str]:
        # django-tenants re-sends `SET search_path` before each query; count the real work.
        return [
            q["sql"]
            for q in self.context.captured_queries
            if not q["sql"].startswith("SET search_path")
        ]


@contextmanager
def max_queries(limit: int) -> Iterator[_QueryCounter]:
    """Fail when the block runs more than `limit` queries (search_path switches not counted)."""
    with CaptureQueriesContext(connection) as context:
        counter = _QueryCounter(context)
        yield counter
    if len(counter.statements) > limit:
        listing = "\n".join(counter.statements)
        pytest.fail(f"Expected at most {limit} queries, ran {len(counter.statements)}:\n{listing}")
