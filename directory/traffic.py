"""Every SCIM request that reaches a company, made visible without costing the hot path.

- Refused and failed requests (401, 403, 429, any other 4xx/5xx) are stored in the company's
  schema, coalesced: one `RequestTally` row per (minute, caller, cause, status), whose count
  an INSERT … ON CONFLICT DO UPDATE raises. A flood adds one row a minute, and a failure is
  never lost. Writes are also in the provisioning ledger, in full (directory/ledger.py).
- Successes are counted per process and sent to Redis every few seconds (infra/usage.py):
  no database or Redis round trip of their own.

Nothing secret is stored: `caller` is a credential's id, or a token's public display prefix
(the part the portal shows of every token), or a Basic username; never a presented secret.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from directory.models import RequestTally
from infra.usage import Usage, usage_counter

logger = logging.getLogger(__name__)

Cause = RequestTally.Cause
REFUSED_CREDENTIAL = (Cause.NO_CREDENTIAL, Cause.REJECTED, Cause.REVOKED, Cause.EXPIRED)


class Caller(NamedTuple):
    """Who presented what, as far as authentication found out. `cause` is set when the
    credential itself was refused, and says why (which the 401 does not tell the caller).
    Immutable, so one value can serve every request; a named tuple because every
    authenticated SCIM request builds one (a frozen dataclass costs twice as much)."""

    key: str = ""
    credential_id: uuid.UUID | None = None
    cause: str = ""
    # The portal's Test connection probes: not the identity provider's traffic, not counted.
    internal: bool = False

    @classmethod
    def of(cls, credential_id: uuid.UUID, *, internal: bool = False) -> Caller:
        return cls(str(credential_id), credential_id, "", internal)

    @classmethod
    def refused(cls, cause: str, key: str = "", credential_id: uuid.UUID | None = None) -> Caller:
        caller = str(credential_id) if credential_id else key
        return cls(key=caller[:150], cause=cause, credential_id=credential_id)


NO_CALLER = Caller(cause=Cause.NO_CREDENTIAL)


@dataclass(frozen=True)
class RequestFacts:
    method: str
    path: str
    request_id: str
    user_agent: str


_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_UPSERT = f"""
INSERT INTO {RequestTally._meta.db_table}
  (minute, caller, cause, status, credential_id, count, first_at, last_at, method, path,
   request_id, idp, detail, error_code)
VALUES {{rows}}
ON CONFLICT (minute, caller, cause, status) DO UPDATE SET
  count = {RequestTally._meta.db_table}.count + EXCLUDED.count,
  last_at = EXCLUDED.last_at, method = EXCLUDED.method, path = EXCLUDED.path,
  request_id = EXCLUDED.request_id, idp = EXCLUDED.idp, detail = EXCLUDED.detail,
  error_code = EXCLUDED.error_code
"""  # noqa: S608 - the table name is ours; every value is a parameter


@dataclass(frozen=True)
class Failure:
    """One failed operation of a request that answered for several (a /Bulk's)."""

    status: int
    error_code: str = ""
    detail: str = ""


def tally_refusal(
    *,
    caller: Caller,
    cause: str,
    status: int,
    request: RequestFacts,
    detail: str = "",
    error_code: str = "",
) -> None:
    """Count one refused or failed request in the current company's schema (one statement,
    _upsert). `error_code` names which of Headcount's own refusals it was (ScimError.code)."""
    _upsert(caller, cause, request, {status: (1, Failure(status, error_code, detail))})


def tally_failures(*, caller: Caller, request: RequestFacts, failures: list[Failure]) -> None:
    """Count each failed operation of one request (a /Bulk answered 200 whose operations
    failed) as a failed request, under its own status, with its own error code, in the same
    single statement as tally_refusal. A row takes the last failure of its status for its
    code and detail, as it does across requests."""
    if not failures:
        return
    by_status: dict[int, tuple[int, Failure]] = {}
    for failure in failures:
        # One statement may not update a row twice: the statuses are folded here first.
        seen, _last = by_status.get(failure.status, (0, failure))
        by_status[failure.status] = (seen + 1, failure)
    _upsert(caller, Cause.FAILED, request, by_status)


def _upsert(
    caller: Caller, cause: str, request: RequestFacts, by_status: dict[int, tuple[int, Failure]]
) -> None:
    """One INSERT … ON CONFLICT of `count` requests per status, inside a savepoint, so a
    failure here never breaks the caller's transaction. A database that cannot take it is
    logged, not raised: the caller's answer goes out regardless."""
    if caller.internal:
        return
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    params: list[Any] = []
    for status, (count, failure) in by_status.items():
        params += [
            minute,
            caller.key[:150],
            cause,
            status,
            caller.credential_id,
            count,
            now,
            now,
            request.method[:8],
            request.path[:300],
            request.request_id[:64],
            request.user_agent[:200],
            failure.detail[:2000],
            failure.error_code[:32],
        ]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_UPSERT.format(rows=", ".join([_ROW] * len(by_status))), params)
    except DatabaseError as error:
        logger.warning("A refused SCIM request could not be counted: %s", type(error).__name__)


def count_success(*, schema: str, caller: Caller, user_agent: str) -> None:
    """Count a successful request of `caller` (in memory; sent to Redis every few seconds)."""
    if caller.credential_id is not None and not caller.internal:
        usage_counter().add(schema, caller.key, user_agent)  # Caller.of: the id, as text


def successes(schema: str, credential_ids: list[str]) -> dict[str, Usage]:
    """What Redis knows of these credentials' successes, this process's latest included."""
    counter = usage_counter()
    counter.flush()
    return counter.read(schema, credential_ids)


# --- Reads ------------------------------------------------------------------------------------


def tallies_since(since: dt.datetime, limit: int = 500) -> list[RequestTally]:
    """Tally rows touched since `since`, newest first (one indexed query; at most `limit`,
    which coalescing keeps far above what a day produces per cause and caller)."""
    return list(RequestTally.objects.filter(last_at__gte=since).order_by("-last_at", "-id")[:limit])


def tallies_recent(limit: int = 20) -> list[RequestTally]:
    """The newest `limit` tally rows, for the provisioning log."""
    return list(RequestTally.objects.order_by("-last_at", "-id")[:limit])


def tally_get(tally_id: int) -> RequestTally | None:
    return RequestTally.objects.filter(pk=tally_id).first()


def tallies_purge(retention_days: int) -> int:
    """Delete tally rows older than `retention_days`; returns how many."""
    cutoff = timezone.now() - dt.timedelta(days=retention_days)
    deleted, _ = RequestTally.objects.filter(last_at__lt=cutoff).delete()
    return deleted
