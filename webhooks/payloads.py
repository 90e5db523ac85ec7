"""What an endpoint receives for an event: a Standard Webhooks JSON body, or an RFC 9967
Security Event Token (a JWS signed HS256 with the endpoint's secret)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import orjson
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from events.outbox import EventType
from events.selectors import Event
from webhooks.secrets import secret_bytes

SET_MEDIA_TYPE = "application/secevent+jwt"
_PROV = "urn:ietf:params:scim:event:prov:"


def event_json(event: Event, company: str) -> dict[str, Any]:
    """The event as the vendor API shows it (docs/integrate.md, "Event shape")."""
    return {
        "id": str(event.id),
        "company": company,
        "seq": event.seq,
        "type": event.type,
        "occurredAt": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "resourceType": event.resource_type,
        "resourceId": None if event.resource_id is None else str(event.resource_id),
        "externalId": event.external_id,
        "userName": event.user_name,
        "displayName": event.display_name,
        "changed": event.changed,
        "data": event.data,
        "requestId": event.request_id,
        "idp": event.idp,
    }


def standard_body(event: Event, company: str) -> bytes:
    # Standard Webhooks' recommended envelope: type, timestamp, data.
    return orjson.dumps(
        {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": event_json(event, company),
        }
    )


def signature(secrets: list[str], msg_id: str, timestamp: dt.datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,` signature per valid secret, space-separated (a rotation
    signs with the new and the previous secret until the grace period ends)."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


# RFC 9967's provisioning events for ours. Company events have no SCIM event: not sent as SETs.
def _set_event(event: Event) -> tuple[str, dict[str, Any]] | None:
    payload: dict[str, Any] = {"id": None if event.resource_id is None else str(event.resource_id)}
    if event.external_id:
        payload["externalId"] = event.external_id
    kind = event.type
    if kind in (EventType.USER_CREATED, EventType.GROUP_CREATED):
        return _PROV + "create:full", {**payload, "data": event.data}
    if kind in (EventType.USER_UPDATED, EventType.GROUP_RENAMED, EventType.GROUP_UPDATED):
        return _PROV + "patch:full", {**payload, "data": event.data}
    if kind in (EventType.USER_DELETED, EventType.GROUP_DELETED):
        return _PROV + "delete", payload
    if kind == EventType.USER_DEACTIVATED:
        return _PROV + "deactivate", payload
    if kind == EventType.USER_REACTIVATED:
        return _PROV + "activate", payload
    if kind in (EventType.GROUP_MEMBER_ADDED, EventType.GROUP_MEMBER_REMOVED):
        # A membership change is a change of the group's `members`: a notice names it.
        return _PROV + "patch:notice", {**payload, "attributes": ["members"]}
    return None


def set_token(event: Event, company: str, secret: str, audience: str) -> bytes | None:
    """The event as a signed SET (RFC 8417 claims, RFC 9967 event), or None for an event type
    RFC 9967 has no event for."""
    mapped = _set_event(event)
    if mapped is None:
        return None
    uri, payload = mapped
    base = settings.WEBHOOK_ISSUER.rstrip("/")
    resource = "Users" if event.resource_type == "User" else "Groups"
    claims = {
        "iss": base,
        "aud": audience,
        "jti": str(event.id),
        "iat": int(event.occurred_at.timestamp()),
        "sub_id": {
            "format": "scim",
            "uri": f"/t/{company}/scim/v2/{resource}/{payload['id']}",
        },
        "events": {uri: payload},
    }
    if event.request_id:
        claims["txn"] = event.request_id
    token = jwt.encode(
        claims, secret_bytes(secret), algorithm="HS256", headers={"typ": "secevent+jwt"}
    )
    return token.encode()
