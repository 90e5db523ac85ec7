"""Timestamps come back from PostgreSQL as the same instants, aware and in UTC, read by
psycopg's own loader rather than the pure-Python one Django registers (tenants'
database backend)."""

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

from accounts.models import User
from infra.prepared_query import prepared_cursor

WRITTEN = [
    datetime.datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=datetime.UTC),
    datetime.datetime(
        2020, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=5))
    ),
    datetime.datetime(1, 1, 1, tzinfo=datetime.UTC),
    datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC),
]


@pytest.mark.django_db
@pytest.mark.parametrize("prepared", [False, True], ids=["client-bound", "prepared"])
def test_a_timestamp_reads_back_as_the_same_instant_in_utc(prepared: bool) -> None:
    opened = prepared_cursor() if prepared else connection.cursor()
    with opened as cursor:
        cursor.execute("SELECT unnest(%s::timestamptz[])", [WRITTEN])
        read = [row[0] for row in cursor.fetchall()]

    assert read == WRITTEN
    assert {value.tzinfo for value in read} == {datetime.UTC}


@pytest.mark.django_db
def test_a_model_timestamp_reads_back_as_written() -> None:
    joined = WRITTEN[1]
    user = User.objects.create(email="joined@example.test", date_joined=joined)

    read = User.objects.get(pk=user.pk).date_joined

    assert read == joined
    assert read.tzinfo is datetime.UTC


@pytest.mark.django_db
def test_timestamps_are_parsed_by_psycopg_not_by_a_regular_expression() -> None:
    # Django's loader subclasses psycopg's pure-Python one (a regular expression per value);
    # every cursor the backend opens keeps ours.
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    assert not issubclass(loader, TimestamptzLoader)
    assert loader.timezone is datetime.UTC
