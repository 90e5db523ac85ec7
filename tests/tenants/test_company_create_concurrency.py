"""Ten company creations at once, from threads (the service) and from processes (the
command), with and without pooled schemas: every one makes a whole company or fails with a
clear message, and nothing is left half made — no schema without its company, no company
whose schema lacks tables, no pooled schema handed out twice or left without its entry."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections

from tenants.models import Company, CompanyEvent, Domain, SchemaPoolEntry
from tenants.schema_pool import PREFIX, pool_fill
from tenants.services import company_create
from tenants.slugs import schema_name_for
from tests.live import ROOT, in_thread, process_env
from tests.tenants.test_company_create import tables_in

AT_ONCE = 10


def schemas_like(prefix: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [prefix])
        return {row[0] for row in cursor.fetchall()}


class Run:
    """Committed work on other connections, and what it leaves behind, dropped after."""

    def __init__(self, blocker: Any) -> None:
        self.blocker = blocker
        self.tag = uuid.uuid4().hex[:6]

    def committed(self, work: Callable[[], Any]) -> Any:
        def unblocked() -> Any:
            with self.blocker.unblock():
                try:
                    connection.set_schema_to_public()
                    return work()
                finally:
                    connections.close_all()

        return in_thread(unblocked)

    def at_once(self, work: Callable[[int], Any]) -> list[Any]:
        """`work(i)` for i in 0..AT_ONCE-1, each on its own thread and connection, released
        together; returns what each returned, or the ValidationError it raised."""
        ready = threading.Barrier(AT_ONCE)

        def one(index: int) -> Any:
            try:
                connection.set_schema_to_public()
                connection.ensure_connection()
                ready.wait(timeout=60)
                return work(index)
            except ValidationError as error:
                return error
            finally:
                connections.close_all()

        # Unblocked once, here: the blocker is process-wide, not per thread.
        with self.blocker.unblock(), ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            return list(pool.map(one, range(AT_ONCE)))

    def slug(self, name: str) -> str:
        return f"race-{self.tag}-{name}"

    def check_nothing_half_made(self) -> dict[str, Company]:
        """Every company of this run is whole, and every schema of this run has its company.
        Returns the companies by slug."""

        def inspect() -> dict[str, Company]:
            companies = {
                company.slug: company
                for company in Company.objects.filter(slug__startswith=self.slug(""))
            }
            base = tables_in(settings.TENANT_BASE_SCHEMA)
            schemas = schemas_like(schema_name_for(self.slug("")))
            assert schemas == {company.schema_name for company in companies.values()}
            for company in companies.values():
                assert tables_in(company.schema_name) == base, company.slug
                assert Domain.objects.filter(tenant=company, domain=company.slug).exists()
                assert CompanyEvent.objects.filter(company=company).count() == 1
            pooled = set(SchemaPoolEntry.objects.values_list("schema_name", flat=True))
            assert schemas_like(PREFIX) == pooled  # no pooled schema without its entry
            for name in pooled:
                assert tables_in(name) == base
            return companies

        return self.committed(inspect)

    def clean_up(self) -> None:
        def drop() -> None:
            for company in Company.objects.filter(slug__startswith=self.slug("")):
                company.delete(force_drop=True)
            with connection.cursor() as cursor:
                for name in schemas_like(schema_name_for(self.slug(""))):
                    cursor.execute(f'DROP SCHEMA "{name}" CASCADE')

        self.committed(drop)


@pytest.fixture
def run(django_db_blocker: Any, settings: Any) -> Iterator[Run]:
    # No refill queued behind each pooled creation: the test fills the pool itself.
    settings.SCHEMA_POOL_SIZE = 0
    race = Run(django_db_blocker)
    try:
        yield race
    finally:
        race.clean_up()


@pytest.fixture
def pool_of_five(run: Run) -> Iterator[set[str]]:
    """Five committed pooled schemas (fewer than the creations: the rest clone on the spot)."""
    before = run.committed(
        lambda: set(SchemaPoolEntry.objects.values_list("schema_name", flat=True))
    )
    run.committed(lambda: pool_fill(len(before) + 5))
    filled = run.committed(
        lambda: set(SchemaPoolEntry.objects.values_list("schema_name", flat=True))
    )
    yield filled

    def drop_what_is_left() -> None:
        from tenants.schema_clone import execute_ddl

        for entry in SchemaPoolEntry.objects.filter(schema_name__in=filled - before):
            execute_ddl("DROP SCHEMA IF EXISTS {} CASCADE", entry.schema_name)
            entry.delete()

    run.committed(drop_what_is_left)


@pytest.mark.django_db
@pytest.mark.parametrize("pooled", [False, True], ids=["cloned", "pooled"])
def test_ten_companies_created_at_once_are_ten_whole_companies(
    run: Run, pooled: bool, request: pytest.FixtureRequest
) -> None:
    pool = request.getfixturevalue("pool_of_five") if pooled else set()

    results = run.at_once(
        lambda i: company_create(slug=run.slug(str(i)), name=f"Race {i}", actor="tests")
    )

    assert [type(result) for result in results] == [Company] * AT_ONCE
    companies = run.check_nothing_half_made()
    assert len(companies) == AT_ONCE
    if pooled:
        # Each pooled schema became at most one company's (the rest were cloned).
        left = run.committed(
            lambda: set(SchemaPoolEntry.objects.values_list("schema_name", flat=True))
        )
        assert left <= pool and len(pool) - len(left) >= 5


@pytest.mark.django_db
@pytest.mark.parametrize("pooled", [False, True], ids=["cloned", "pooled"])
def test_one_slug_ten_times_at_once_is_one_company_and_nine_clear_refusals(
    run: Run, pooled: bool, request: pytest.FixtureRequest
) -> None:
    pool = request.getfixturevalue("pool_of_five") if pooled else set()
    slug = run.slug("same")

    results = run.at_once(lambda i: company_create(slug=slug, name=f"Same {i}", actor="tests"))

    created = [result for result in results if isinstance(result, Company)]
    refused = [result for result in results if isinstance(result, ValidationError)]
    assert (len(created), len(refused)) == (1, AT_ONCE - 1), results
    assert {" ".join(error.messages) for error in refused} == {
        f'A company with the slug "{slug}" already exists.'
    }
    assert list(run.check_nothing_half_made()) == [slug]
    if pooled:
        left = run.committed(
            lambda: set(SchemaPoolEntry.objects.values_list("schema_name", flat=True))
        )
        # The refused creations gave back whatever pooled schema they had taken.
        assert left <= pool and len(pool) - len(left) <= 1


def company_create_command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "manage.py", "company_create", *args],
        cwd=ROOT,
        env=process_env(SCHEMA_POOL_SIZE="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.live
@pytest.mark.django_db
def test_the_command_with_one_slug_ten_times_at_once_exits_non_zero_nine_times(
    run: Run, pool_of_five: set[str]
) -> None:
    slug = run.slug("same")
    commands = [
        company_create_command("--slug", slug, "--name", f"Same {i}") for i in range(AT_ONCE)
    ]

    finished = [(command.wait(180), *command.communicate()) for command in commands]

    assert sorted(code for code, _, _ in finished) == [0] + [1] * (AT_ONCE - 1), finished
    for code, _, err in finished:
        if code:
            assert f'CommandError: A company with the slug "{slug}" already exists.' in err
            assert "Traceback" not in err
    assert list(run.check_nothing_half_made()) == [slug]


@pytest.mark.django_db
def test_the_command_ten_times_at_once_makes_ten_companies(
    run: Run, pool_of_five: set[str]
) -> None:
    def command(index: int) -> str:
        out = StringIO()
        call_command(
            "company_create", "--slug", run.slug(str(index)), "--name", f"Race {index}", stdout=out
        )
        return out.getvalue()

    outputs = run.at_once(command)

    assert all(output.startswith("Created Race") for output in outputs), outputs
    assert len(run.check_nothing_half_made()) == AT_ONCE
