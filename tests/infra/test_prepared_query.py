"""A prepared query returns what its queryset would, for each call's arguments, in the company
schema selected at the time of the call."""

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.db.models import Count, F, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_init
from django.db.models.sql.compiler import SQLCompiler
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


def _loaded(instance: Model | None) -> Any:
    """What loading gave `instance`, as data: its class, every attribute (annotations
    included), its state, and the related instances cached on it, the same way."""
    if instance is None:
        return None
    state = instance._state
    attributes = {name: value for name, value in vars(instance).items() if name != "_state"}
    if "_prefetched_objects_cache" in attributes:
        # Which objects were prefetched, not the querysets holding them (each caches its
        # way back to the instance).
        attributes["_prefetched_objects_cache"] = {
            name: [each.pk for each in objects]
            for name, objects in attributes["_prefetched_objects_cache"].items()
        }
    return (
        type(instance),
        attributes,
        (state.db, state.adding),
        {name: _loaded(cached) for name, cached in state.fields_cache.items()},
    )


def _with_manager_and_roles(pk: uuid.UUID) -> QuerySet[Member]:
    # As directory.selectors reads a member: its manager joined, a raw SQL annotation.
    return (
        Member.objects.select_related("manager")
        .annotate(roles=RawSQL("ARRAY['x', %s]", ("y",)), twice=F("version") * 2)
        .filter(pk=pk)[:1]
    )


def _counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[object]:
    """A list that gets one entry per call of `owner.name` from now on."""
    calls: list[object] = []
    original = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


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


@pytest.mark.parametrize("managed", [True, False], ids=["with-manager", "without-manager"])
def test_instances_are_the_ones_the_queryset_loads(
    acme: Company, settings: Any, managed: bool
) -> None:
    settings.PREPARED_QUERIES = True  # compared with plain Django
    boss = _member("boss@acme.test")
    ada = _member("ada@acme.test", manager=boss if managed else None)
    Member.objects.filter(pk=ada.pk).update(
        attributes={"userName": "ada@acme.test", "emails": [{"value": "ada@acme.test"}]},
        created_at=datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
    )
    by_pk: PreparedQuery[Member] = PreparedQuery(
        _with_manager_and_roles, samples=(uuid.UUID(int=7),)
    )

    (found,) = by_pk(ada.pk)

    (loaded,) = list(_with_manager_and_roles(ada.pk))
    assert _loaded(found) == _loaded(loaded)
    assert found.attributes["emails"] == [{"value": "ada@acme.test"}]
    assert found.created_at == datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    assert (found.roles, found.twice) == (["x", "y"], 2)  # type: ignore[attr-defined]
    # The manager, or its absence, came with the row: reading it runs no query.
    with CaptureQueriesContext(connection) as reads:
        assert found.manager == (boss if managed else None)
    assert reads.captured_queries == []


def test_rows_are_read_without_working_out_converters_or_calling_init_again(
    acme: Company, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PREPARED_QUERIES = True
    boss = _member("boss@acme.test")
    ada = _member("ada@acme.test", manager=boss)
    by_pk: PreparedQuery[Member] = PreparedQuery(
        _with_manager_and_roles, samples=(uuid.UUID(int=7),)
    )
    named: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
        lambda name: Member.objects.filter(user_name=name).values_list("pk", "attributes"),
        samples=("<name>",),
    )
    converters = _counted(monkeypatch, SQLCompiler, "get_converters")
    by_pk(boss.pk)
    named("boss@acme.test")
    compiled = len(converters)
    inits = _counted(monkeypatch, Member, "__init__")

    for _ in range(3):
        (found,) = by_pk(ada.pk)
        assert named("ada@acme.test") == [(ada.pk, {"userName": "ada@acme.test"})]

    assert len(converters) == compiled  # worked out when compiled, not per call
    # Nothing observes building a member: neither it nor its manager goes through __init__.
    assert inits == []
    assert found.manager is not None and found.manager.pk == boss.pk


def test_a_post_init_receiver_sees_each_instance_and_its_related_one(
    acme: Company, settings: Any
) -> None:
    settings.PREPARED_QUERIES = True
    boss = _member("boss@acme.test")
    ada = _member("ada@acme.test", manager=boss)
    by_pk: PreparedQuery[Member] = PreparedQuery(
        _with_manager_and_roles, samples=(uuid.UUID(int=7),)
    )
    by_pk(boss.pk)  # compiled before anyone listens
    seen: list[Any] = []

    def receiver(sender: type[Any], instance: Any, **kwargs: Any) -> None:
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Member)
    try:
        (found,) = by_pk(ada.pk)
    finally:
        post_init.disconnect(receiver, sender=Member)

    assert sorted(seen) == sorted([ada.pk, boss.pk])
    (loaded,) = _with_manager_and_roles(ada.pk)
    assert _loaded(found) == _loaded(loaded)


@pytest.mark.parametrize(
    "build",
    [
        # Read by the prepared query itself: values_list tuples, flat values (with JSON
        # converted), deferred fields.
        lambda name: Member.objects.filter(user_name=name).values_list("user_name", "attributes"),
        lambda name: Member.objects.filter(user_name=name).values_list("attributes", flat=True),
        lambda name: Member.objects.filter(user_name=name).only("user_name", "attributes"),
        # Read through the queryset, only its compiling skipped.
        lambda name: Member.objects.filter(user_name=name).values("user_name", "attributes"),
        lambda name: Member.objects.filter(user_name=name).values_list("user_name", named=True),
        lambda name: Member.objects.filter(user_name=name).prefetch_related("reports"),
    ],
    ids=["values-list", "flat", "only", "values", "named", "prefetch"],
)
def test_each_kind_of_queryset_gives_what_the_queryset_gives(
    acme: Company, settings: Any, build: Callable[[str], QuerySet[Any]]
) -> None:
    settings.PREPARED_QUERIES = True
    boss = _member("boss@acme.test")
    _member("ada@acme.test", manager=boss)
    named: PreparedQuery[Any] = PreparedQuery(build, samples=("<name>",))

    for name in ("boss@acme.test", "ada@acme.test", "nobody@acme.test"):
        found = named(name)

        expected = list(build(name))
        if found and isinstance(found[0], Model):
            assert [_loaded(each) for each in found] == [_loaded(each) for each in expected]
            assert [each.get_deferred_fields() for each in found] == [
                each.get_deferred_fields() for each in expected
            ]
        else:
            assert found == expected


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
