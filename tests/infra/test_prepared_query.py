"""A prepared query returns what its queryset would, for each call's arguments, in the company
schema selected at the time of the call."""

import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import Member
from infra.prepared_query import PreparedQuery
from tenants.models import Company


def _member(user_name: str, manager: Member | None = None) -> Member:
    now = timezone.now()
    return Member.objects.create(
        user_name=user_name,
        attributes={"userName": user_name},
        manager=manager,
        created_at=now,
        updated_at=now,
    )


def test_model_rows_with_related_rows_and_annotations_match_the_queryset(acme: Company) -> None:
    boss = _member("boss@acme.test")
    ada = _member("ada@acme.test", manager=boss)
    by_pk: PreparedQuery[Member] = PreparedQuery(
        lambda pk: (
            Member.objects.select_related("manager")
            .annotate(direct_reports=Count("reports"))
            .filter(pk=pk)[:1]
        ),
        samples=(uuid.UUID(int=7),),
    )

    (found,) = by_pk(ada.pk)
    (found_boss,) = by_pk(boss.pk)

    assert (found.pk, found.user_name, found.direct_reports) == (ada.pk, "ada@acme.test", 0)  # type: ignore[attr-defined]
    # The manager came with the row: reading it runs no query.
    with CaptureQueriesContext(connection) as reads:
        assert found.manager is not None and found.manager.user_name == "boss@acme.test"
    assert reads.captured_queries == []
    assert (found_boss.pk, found_boss.direct_reports) == (boss.pk, 1)  # type: ignore[attr-defined]
    assert by_pk(uuid.uuid4()) == []


def test_values_rows_take_each_calls_arguments(acme: Company) -> None:
    _member("one@acme.test")
    _member("two@acme.test")
    Member.objects.filter(user_name="two@acme.test").update(version=5)
    named: PreparedQuery[tuple[str, int]] = PreparedQuery(
        lambda name, version: (
            Member.objects.filter(user_name=name, version__lt=version)
            .order_by("user_name")
            .values_list("user_name", "version")
        ),
        samples=("<name>", 1_000_003),
    )

    assert named("two@acme.test", 6) == [("two@acme.test", 5)]
    assert named("one@acme.test", 6) == [("one@acme.test", 1)]
    assert named("two@acme.test", 5) == []


def test_it_reads_the_company_selected_when_called(acme: Company, outsider: Company) -> None:
    _member("here@acme.test")
    named: PreparedQuery[str] = PreparedQuery(
        lambda name: Member.objects.filter(user_name=name).values_list("user_name", flat=True),
        samples=("<name>",),
    )
    assert named("here@acme.test") == ["here@acme.test"]

    with schema_context(outsider.schema_name):
        assert named("here@acme.test") == []


@pytest.mark.parametrize(
    "build",
    [
        # The argument is changed before it reaches the SQL: the real one would not be.
        lambda name: Member.objects.filter(user_name=name.lower()),
        # The argument is used twice: only one place could be filled in.
        lambda name: Member.objects.filter(user_name=name, display_name=name),
        # The argument is not a parameter at all.
        lambda name: Member.objects.all(),
        # Django writes a boolean comparison into the SQL text ("active" / NOT "active").
        lambda name: Member.objects.filter(user_name="x", active=bool(name)),
    ],
)
def test_a_query_whose_arguments_cannot_be_placed_is_refused(
    acme: Company, build: object, settings: Any
) -> None:
    settings.PREPARED_QUERIES = True  # the check belongs to compiling (`make test-unprepared`)
    prepared: PreparedQuery[Member] = PreparedQuery(build, samples=("<Name>",))  # type: ignore[arg-type]

    with pytest.raises(ImproperlyConfigured, match="exactly one"):
        prepared("ada@acme.test")


def test_switched_off_it_builds_the_queryset_on_every_call(acme: Company, settings: Any) -> None:
    settings.PREPARED_QUERIES = False
    _member("one@acme.test")
    _member("two@acme.test")
    built: list[str] = []

    def build(name: str) -> Any:
        built.append(name)
        return Member.objects.filter(user_name=name).values_list("user_name", flat=True)

    named: PreparedQuery[str] = PreparedQuery(build, samples=("<name>",))

    assert named("one@acme.test") == ["one@acme.test"]
    assert named("two@acme.test") == ["two@acme.test"]
    assert named("three@acme.test") == []
    assert built == ["one@acme.test", "two@acme.test", "three@acme.test"]


def test_a_new_connection_object_in_the_same_thread_gets_its_own_compilation(
    db: None, settings: Any
) -> None:
    # Seen when a SCIM request ran before the browser tests in one pytest process: the
    # query compiled on the first connection object ran on it after another had replaced it.
    settings.PREPARED_QUERIES = True
    by_slug: PreparedQuery[str] = PreparedQuery(
        lambda slug: Company.objects.filter(slug=slug).values_list("slug", flat=True),
        samples=("<slug>",),
    )
    assert by_slug("acme") == ["acme"]
    first, fresh = connections["default"], connections.create_connection("default")
    connections["default"] = fresh
    try:
        with CaptureQueriesContext(fresh) as on_fresh:
            found = by_slug("outsider")
    finally:
        connections["default"] = first
        fresh.close()

    assert found == ["outsider"]
    # It ran on the new one (its parameter is bound apart where statements are prepared).
    assert 'FROM "tenants_company"' in on_fresh.captured_queries[-1]["sql"]
    assert by_slug("acme") == ["acme"]  # and again on the first one, once it is back
