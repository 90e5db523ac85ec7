"""What a connection sends PostgreSQL, read from libpq's protocol trace: for tests that
count round trips a statement log cannot show (BEGIN and COMMIT are not statements Django
records)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

TRANSACTION_COMMANDS = ("BEGIN", "COMMIT", "ROLLBACK")


@contextmanager
def traced() -> Iterator[list[str]]:
    """The messages this thread's connection sends while open, one line each (filled in when
    the block ends). The connection must stay the same meanwhile."""
    connection.ensure_connection()
    sent: list[str] = []
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as log:
        pgconn.trace(log.fileno())
        try:
            yield sent
        finally:
            pgconn.untrace()
            log.seek(0)
            sent += [line for line in log.read().splitlines() if "\tF\t" in line]


def transaction_commands(sent: list[str]) -> list[str]:
    """BEGIN, COMMIT and ROLLBACK among `sent`, in order."""
    return [word for line in sent for word in TRANSACTION_COMMANDS if f'"{word}"' in line]
