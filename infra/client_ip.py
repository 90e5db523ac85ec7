"""The address a request came from, as far as this deployment can trust it.

Behind a load balancer every request arrives from the balancer's address, so per-address
limits (failed sign-ins) and "last used from" would all name the balancer. Set
TRUSTED_PROXY_COUNT to the number of proxies in front of the app: the client is then the
address that many hops from the right of X-Forwarded-For (entries further left are whatever
the client chose to send, so they are never trusted).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    return client_ip_from_meta(request.META)


def client_ip_from_meta(meta: Mapping[str, Any]) -> str | None:
    """The same, from a WSGI environ (oauthlib's requests carry Django's META as headers)."""
    remote = meta.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
