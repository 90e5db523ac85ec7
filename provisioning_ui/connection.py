"""The connection status the Overview shows: per credential and overall, from what every SCIM
request left behind (directory/traffic.py: refusals and failures in the company's schema,
successes in Redis) and the credentials themselves (tokens).

Here, in the portal, because it joins two domain apps that do not import each other.
Three queries (credentials with their first use, the last day's tallies) and one Redis round
trip, whatever the traffic: the tallies are coalesced per minute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from directory import traffic
from directory.models import RequestTally
from scim_protocol.idp import identify
from tenants.gate import GateResult
from tenants.models import Company
from tokens.models import Credential
from tokens.selectors import credentials_for_status

NOT_CONNECTED = "Not connected yet"
HEALTHY = "Healthy"
FAILING = "Failing"
REJECTED = "Credentials rejected"
SCIM_OFF = "SCIM switched off"

# Failures that say the connection is not working, as opposed to refusals of a credential.
_FAILURES = {
    RequestTally.Cause.FAILED,
    RequestTally.Cause.RATE_LIMITED,
    RequestTally.Cause.SCIM_OFF,
}


@dataclass
class CredentialStatus:
    credential_id: str
    label: str
    credential_state: str  # Credential.Status: active, revoked, expired
    state: str = NOT_CONNECTED
    idp: str = ""
    first_request: dt.datetime | None = None
    last_request: dt.datetime | None = None
    last_success: dt.datetime | None = None
    requests_24h: int = 0
    failures_24h: int = 0
    last_failure: dt.datetime | None = None
    last_refusal: dt.datetime | None = None


@dataclass
class ConnectionStatus:
    state: str
    idp: str = ""
    first_request: dt.datetime | None = None
    last_request: dt.datetime | None = None
    last_success: dt.datetime | None = None
    requests_24h: int = 0
    failures_24h: int = 0
    credentials: list[CredentialStatus] = field(default_factory=list)
    # The newest refusal of a credential, to say which one and what to do.
    last_refusal: RequestTally | None = None
    refused_credential: CredentialStatus | None = None


def _latest(*moments: dt.datetime | None) -> dt.datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _earliest(*moments: dt.datetime | None) -> dt.datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def _state(status: CredentialStatus) -> str:
    success = _latest(status.last_success)
    if status.last_refusal is not None and (success is None or status.last_refusal > success):
        return REJECTED
    if status.last_failure is not None and (success is None or status.last_failure >= success):
        return FAILING
    if success is not None or status.last_request is not None:
        return HEALTHY
    return NOT_CONNECTED


def connection_status(company: Company, gate: GateResult) -> ConnectionStatus:
    """Where the company's identity provider connection stands now."""
    now = timezone.now()
    tallies = traffic.tallies_since(now - dt.timedelta(hours=24))
    presented = sorted({str(t.credential_id) for t in tallies if t.credential_id is not None})
    credentials = credentials_for_status(presented)
    usage = traffic.successes(company.schema_name, [str(c.pk) for c in credentials])

    rows: dict[str, CredentialStatus] = {}
    for credential in credentials:
        used = usage.get(str(credential.pk))
        last_success = (
            dt.datetime.fromtimestamp(used.last_success, tz=dt.UTC)
            if used is not None and used.last_success is not None
            else None
        )
        rows[str(credential.pk)] = CredentialStatus(
            credential_id=str(credential.pk),
            label=str(credential),
            credential_state=credential.status,
            idp=identify(used.user_agent) if used is not None and used.user_agent else "",
            first_request=credential.first_used_at,  # type: ignore[attr-defined]
            last_request=_latest(credential.last_used_at, last_success),
            last_success=last_success,
            requests_24h=used.successes_24h if used is not None else 0,
        )

    overall = ConnectionStatus(state=NOT_CONNECTED)
    for tally in tallies:  # newest first
        overall.requests_24h += tally.count
        overall.failures_24h += tally.count
        row = rows.get(str(tally.credential_id)) if tally.credential_id else None
        refusal = tally.cause in traffic.REFUSED_CREDENTIAL
        if refusal and overall.last_refusal is None:
            overall.last_refusal = tally
            overall.refused_credential = row
        overall.first_request = _earliest(overall.first_request, tally.first_at)
        overall.last_request = _latest(overall.last_request, tally.last_at)
        if row is None:
            continue
        row.requests_24h += tally.count
        row.failures_24h += tally.count
        row.first_request = _earliest(row.first_request, tally.first_at)
        row.last_request = _latest(row.last_request, tally.last_at)
        if not row.idp and tally.idp:
            row.idp = identify(tally.idp)
        if refusal:
            row.last_refusal = _latest(row.last_refusal, tally.last_at)
        elif tally.cause in _FAILURES:
            row.last_failure = _latest(row.last_failure, tally.last_at)

    for row in rows.values():
        row.state = _state(row)
        overall.requests_24h += row.requests_24h - row.failures_24h
        overall.first_request = _earliest(overall.first_request, row.first_request)
        overall.last_request = _latest(overall.last_request, row.last_request)
        overall.last_success = _latest(overall.last_success, row.last_success)
    # Revoked credentials are shown only while something still presents them.
    overall.credentials = [
        row
        for row in rows.values()
        if row.credential_state != Credential.Status.REVOKED or row.last_refusal is not None
    ]
    overall.state = _overall_state(overall, gate)
    newest = max(
        (row for row in overall.credentials if row.last_success is not None),
        key=lambda row: row.last_success or now,
        default=None,
    )
    overall.idp = newest.idp if newest is not None else ""
    return overall


def _overall_state(overall: ConnectionStatus, gate: GateResult) -> str:
    if not gate.open:
        return SCIM_OFF
    success = overall.last_success
    refusal = overall.last_refusal
    if refusal is not None and (success is None or refusal.last_at > success):
        return REJECTED
    # Failing when the newest outcome is a failure: a credential the identity provider
    # stopped using (its last request failed, another one has succeeded since) shows as
    # Failing in its own row, not as the connection's state.
    failures = [row.last_failure for row in overall.credentials if row.state == FAILING]
    if any(success is None or (failed is not None and failed >= success) for failed in failures):
        return FAILING
    states = {row.state for row in overall.credentials}
    if HEALTHY in states or FAILING in states:
        return HEALTHY
    return NOT_CONNECTED
