"""Test connection: replay what Okta's "Test API Credentials" and Entra ID's "Test Connection"
send, against this company's own SCIM API, and score each answer.

How the probes travel: in-process, through Django's whole request stack (routing to the
company, every middleware, authentication, rate limits, the SCIM gate, the views), with
Django's test `Client` handler, under the host and scheme of the admin's own request. Not an
HTTP call to the public URL: behind a proxy or a load balancer the app often cannot reach
its own public address, and with sync workers a worker calling itself waits on a worker
that may be the busy one. What an in-process call does not cross (the proxy, TLS) is what an
identity provider's "Test" button checks anyway, the base URL shown next to it.

Django's test handler detaches its "close old connections" hook from the request signals
while a probe runs (so the probe cannot close the admin request's own database connection);
in a threaded worker another request ending in that window skips that housekeeping once.

The credential is a probe token (tokens.services.probe_token_issue): internal, never shown,
expiring in 60 s and deleted when the probes end. Its requests are not counted as the
identity provider's traffic. Every probe is a read: nothing changes.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest
from django.test import Client
from django.urls import get_urlconf, set_urlconf
from django.utils import timezone

from directory.diagnosis import Diagnosis, diagnose_failure
from tenants.gate import scim_gate
from tenants.models import Company
from tokens.services import probe_token_discard, probe_token_issue

# (what it is, the path under the SCIM base, which IdP sends it)
_OKTA_AND_ENTRA = "Okta and Entra ID"


@dataclass(frozen=True)
class Probe:
    name: str
    path: str
    sent_by: str


@dataclass(frozen=True)
class ProbeResult:
    probe: Probe
    status: int
    latency_ms: float
    passed: bool
    detail: str = ""
    diagnosis: Diagnosis | None = None


@dataclass(frozen=True)
class Scorecard:
    results: list[ProbeResult]
    tested_at: dt.datetime = field(default_factory=timezone.now)

    def as_json(self) -> dict[str, Any]:
        """The scorecard as JSON values, to keep in the session between the POST that ran the
        probes and the page that shows them (POST → redirect → GET)."""
        return {
            "tested_at": self.tested_at.isoformat(),
            "results": [asdict(r) for r in self.results],
        }

    @classmethod
    def from_json(cls, kept: dict[str, Any]) -> Scorecard:
        """The scorecard `as_json` gave. Raises KeyError, TypeError or ValueError for
        anything else."""
        results = [
            ProbeResult(
                probe=Probe(**result["probe"]),
                status=int(result["status"]),
                latency_ms=float(result["latency_ms"]),
                passed=bool(result["passed"]),
                detail=str(result["detail"]),
                diagnosis=Diagnosis(**result["diagnosis"]) if result["diagnosis"] else None,
            )
            for result in kept["results"]
        ]
        return cls(results, dt.datetime.fromisoformat(kept["tested_at"]))

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return sum(not result.passed for result in self.results)


def probes() -> list[Probe]:
    """The calls, in the order the identity providers send them; the filter looks for a user
    that cannot exist (a random name under the reserved `.invalid` domain)."""
    nobody = f"headcount-test-{uuid.uuid4().hex[:12]}@example.invalid"
    return [
        Probe("Service provider configuration", "/ServiceProviderConfig", _OKTA_AND_ENTRA),
        Probe("Resource types", "/ResourceTypes", "Entra ID"),
        Probe("Schemas", "/Schemas", "Entra ID"),
        Probe(
            "Look up a user that does not exist",
            "/Users?filter=" + quote(f'userName eq "{nobody}"'),
            _OKTA_AND_ENTRA,
        ),
        Probe("First page of users", "/Users?startIndex=1&count=1", "Okta"),
        Probe("First page of groups", "/Groups?startIndex=1&count=1", "Okta"),
    ]


def _passed(probe: Probe, status: int, body: Any) -> tuple[bool, str]:
    if status != 200:
        return False, ""
    if "filter=" in probe.path and (not isinstance(body, dict) or body.get("totalResults")):
        return False, "The filter for a user that does not exist found someone."
    return True, ""


def connection_test(request: HttpRequest, company: Company) -> Scorecard:
    """Run every probe against `company`'s SCIM API as its identity provider would, and
    return the scorecard. Changes no data."""
    issued = probe_token_issue(company=company)
    client = Client(raise_request_exception=False)
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {issued.secret}",
        "HTTP_ACCEPT": "application/scim+json",
        "HTTP_USER_AGENT": "Headcount Test connection",
        "HTTP_HOST": request.get_host(),
        "secure": request.is_secure(),
    }
    base = f"/t/{company.slug}/scim/v2"
    results = []
    # Each probe's end resets this thread's URLconf (Django's request_finished handler):
    # put back the company's, or the page rendered after the probes reverses without it.
    urlconf = get_urlconf()
    try:
        for probe in probes():
            started = time.perf_counter()
            response = client.get(base + probe.path, **headers)  # type: ignore[arg-type]
            latency = (time.perf_counter() - started) * 1000
            try:
                body = response.json()
            except ValueError:
                body = None
            passed, why = _passed(probe, response.status_code, body)
            detail = why or (str(body.get("detail", "")) if isinstance(body, dict) else "")
            diagnosis = None
            if not passed:
                # Every probe is a read with a full-access token: its only 403 is the gate.
                gate = scim_gate(company, fresh=True) if response.status_code == 403 else None
                diagnosis = diagnose_failure(
                    status=response.status_code,
                    scim_type=str(body.get("scimType", "")) if isinstance(body, dict) else "",
                    detail=detail,
                    resource_type="Group" if "/Groups" in probe.path else "User",
                    code=gate.code if gate is not None else "",
                )
            results.append(
                ProbeResult(probe, response.status_code, latency, passed, detail, diagnosis)
            )
    finally:
        set_urlconf(urlconf)
        probe_token_discard(credential_id=issued.credential.pk)
    return Scorecard(results)
