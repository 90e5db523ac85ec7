"""Which database errors mean "the database cannot serve this right now" (a 503 the client
should retry) rather than a bug (a 500). Used by the SCIM exception handler and handler500."""

from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError

from scim_protocol.errors import ScimError, ServiceUnavailable, TimedOut

RETRY_AFTER_SECONDS = 5


# SQLSTATEs after which the same request, retried, should work: the connection is gone
# (class 08), the server is shutting down (57P01-57P03), the transaction lost a deadlock or
# serialization race (40001, 40P01), or the server is overloaded: too many connections
# (53300; pgbouncer relays it mid-request with its SQLSTATE) or out of memory (53200).
# Disk full (53100) is not: it needs an operator, and a retry only fills the log.
_RETRYABLE_STATES = ("08", "57P01", "57P02", "57P03", "40001", "40P01", "53300", "53200")


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means "the database cannot serve this right now" (a 503 to retry)
    rather than a bug (a 500): a lost or refused connection, a server shutting down or out of
    connections or memory, a deadlock. Other OperationalErrors (disk full …) stay 500s; a
    statement cancelled by the statement timeout is `statement_timed_out`."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    state = getattr(error.__cause__, "sqlstate", None)
    # No SQLSTATE: psycopg could not reach the server or lost it mid-query.
    return state is None or state.startswith(_RETRYABLE_STATES)


def statement_timed_out(error: BaseException | None) -> bool:
    """Whether `error` is PostgreSQL cancelling a statement that ran past this process's
    statement timeout (DB_STATEMENT_TIMEOUT_SECONDS; SQLSTATE 57014, query_canceled). Without
    a timeout set, a cancel came from elsewhere (an operator's pg_cancel_backend): not ours
    to explain as a limit."""
    return (
        settings.DB_STATEMENT_TIMEOUT_SECONDS > 0
        and isinstance(error, OperationalError)
        and getattr(error.__cause__, "sqlstate", None) == "57014"
    )


def timed_out() -> TimedOut:
    """The refusal of a request whose statement ran past DB_STATEMENT_TIMEOUT_SECONDS, the
    limit named, with a retry offered (a lock it waited on may be free by then)."""
    return TimedOut(
        settings.DB_STATEMENT_TIMEOUT_SECONDS, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def unavailable() -> ServiceUnavailable:
    """The refusal of a request the database could not serve right now: retry shortly."""
    return ServiceUnavailable(headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def database_refusal(error: BaseException | None) -> ScimError | None:
    """What a database error answers, a 503 either way: a statement stopped by the statement
    timeout (`timed_out`), or the database away (`unavailable`); None for any other (a bug)."""
    if statement_timed_out(error):
        return timed_out()
    if database_unavailable(error):
        return unavailable()
    return None
