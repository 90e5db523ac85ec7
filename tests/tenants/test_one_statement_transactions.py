"""A transaction that is one statement runs as that statement alone (tenants' database
backend, `ending_transaction`): psycopg sends no BEGIN before it and no COMMIT after it, and
PostgreSQL's own atomicity of a statement stands in for the transaction's. Only when nothing
ran before it in the outermost atomic block; nothing may run after it there.

Each test works on a connection of its own thread, outside the test's transaction (which
would make every block a savepoint), on a table of its own in `public`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test import override_settings

from infra.transactions import ending_transaction
from tests.live import in_thread, on_own_connection
from tests.protocol_trace import traced, transaction_commands

pytestmark = pytest.mark.django_db

T = TypeVar("T")
PROBE = "public.one_statement_probe"


@pytest.fixture
def own_connection(django_db_blocker: Any) -> Iterator[Callable[[Callable[[], T]], T]]:
    """Runs work on another thread's connection, committed, with the probe table there."""

    def run(work: Callable[[], T]) -> T:
        return on_own_connection(django_db_blocker, work)

    def sql(statement: str) -> Callable[[], None]:
        def execute() -> None:
            with connection.cursor() as cursor:
                cursor.execute(statement)

        return execute

    run(sql(f"CREATE TABLE {PROBE} (id int PRIMARY KEY)"))
    try:
        yield run
    finally:
        run(sql(f"DROP TABLE {PROBE}"))


def _ids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {PROBE} ORDER BY id")  # noqa: S608 - a constant
        return [row[0] for row in cursor.fetchall()]


def _insert(id_: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {PROBE} (id) VALUES (%s)", [id_])  # noqa: S608


def test_a_lone_statement_is_its_own_transaction(own_connection: Any) -> None:
    def work() -> tuple[bool, list[str], list[int], list[int]]:
        with traced() as sent, transaction.atomic():
            with ending_transaction() as ending:
                _insert(1)
            # Committed already: another connection sees it before the block ends.
            seen = in_thread(_ids)
        return ending.alone, transaction_commands(sent), seen, _ids()

    alone, commands, seen_inside, after = own_connection(work)

    assert alone
    assert commands == []
    assert seen_inside == [1]
    assert after == [1]


def test_a_failing_lone_statement_leaves_nothing_and_the_connection_goes_on(
    own_connection: Any,
) -> None:
    def work() -> list[int]:
        _insert(1)
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(),
            ending_transaction(),
            connection.cursor() as cursor,
        ):
            # Two rows in one statement, the second a duplicate: neither is kept.
            cursor.execute(f"INSERT INTO {PROBE} (id) VALUES (2), (1)")  # noqa: S608
        with transaction.atomic():
            _insert(3)
        return _ids()

    assert own_connection(work) == [1, 3]


def test_nothing_may_run_after_the_lone_statement_in_its_block(own_connection: Any) -> None:
    def work() -> list[int]:
        with pytest.raises(TransactionManagementError), transaction.atomic():
            with ending_transaction():
                _insert(1)
            _insert(2)
        return _ids()

    # The lone statement was committed when the next one was refused.
    assert own_connection(work) == [1]


def test_a_statement_that_wrote_nothing_lets_others_follow(own_connection: Any) -> None:
    def work() -> tuple[list[int], list[str]]:
        with traced() as sent, transaction.atomic():
            with ending_transaction() as ending, connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {PROBE} WHERE id = 1")  # noqa: S608
                if cursor.rowcount == 0:
                    ending.wrote_nothing()
            _insert(2)  # say, what a refusal records
        return _ids(), transaction_commands(sent)

    ids, commands = own_connection(work)

    assert ids == [2]
    assert commands == ["BEGIN", "COMMIT"]  # the follower's own transaction


@pytest.mark.parametrize("before", ["a statement", "a savepoint"])
def test_a_statement_after_others_stays_in_the_transaction(
    own_connection: Any, before: str
) -> None:
    def work() -> tuple[bool, list[int]]:
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            if before == "a statement":
                _insert(1)
                inner = transaction.atomic(savepoint=False)
            else:
                inner = transaction.atomic()  # a savepoint
            with inner, ending_transaction() as ending:
                _insert(2)
            _ = 1 / 0  # the block fails: everything in it rolls back
        return ending.alone, _ids()

    alone, ids = own_connection(work)

    assert not alone
    assert ids == []


def test_switched_off_the_statement_keeps_begin_and_commit(own_connection: Any) -> None:
    def work() -> tuple[bool, list[str]]:
        with (
            override_settings(DB_ONE_STATEMENT_TRANSACTIONS=False),
            traced() as sent,
            transaction.atomic(),
            ending_transaction() as ending,
        ):
            _insert(1)
        return ending.alone, transaction_commands(sent)

    alone, commands = own_connection(work)

    assert not alone
    assert commands == ["BEGIN", "COMMIT"]
