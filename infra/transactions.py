"""A transaction that is one statement, run as that statement alone.

A SCIM create writes its member, seat, searchable values, change event and ledger row in one
statement (directory.services `_write`). Inside Django's atomic block psycopg still sends a
BEGIN before it and a COMMIT after it: two of the request's four round trips, and the
company's seat and event-stream locks held while the COMMIT travels. `ending_transaction`
lets the database backend (tenants/postgresql_backend) run such a statement as its own
transaction when nothing ran before it in the block; `outside_transaction` runs reads before
it without starting the transaction (an optimistic update's read of the row it then writes
only if unchanged). On another backend both do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


class _InTransaction:
    """A backend without the feature: the statement runs in the transaction."""

    alone = False

    def wrote_nothing(self) -> None:
        pass


@contextmanager
def ending_transaction(using: str = DEFAULT_DB_ALIAS) -> Iterator[_InTransaction]:
    """For a `with` block around the last statement of the current atomic block: see
    tenants/postgresql_backend `ending_transaction`. Nothing may run after it in that block
    (TransactionManagementError) unless the lent object's `wrote_nothing()` is called."""
    opener = getattr(connections[using], "ending_transaction", None)
    if opener is None:
        yield _InTransaction()
        return
    with opener() as ending:
        yield ending


@contextmanager
def outside_transaction(using: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """For a `with` block of reads taking no lock, before the current atomic block's writes:
    see tenants/postgresql_backend `outside_transaction`. Yields whether they run outside."""
    opener = getattr(connections[using], "outside_transaction", None)
    if opener is None:
        yield False
        return
    with opener() as outside:
        yield outside
