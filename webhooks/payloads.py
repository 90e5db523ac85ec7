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


# RFC 9967's provisioning events for ours, with their payloads: a `full` event carries the
# resource as `data`, a `notice` only the changed attribute names as `attributes` (never both);
# delete and (de)activation carry nothing, the subject being `sub_id`. Company events have no
# SCIM event: not sent in this format.
def _set_event(event: Event) -> tuple[str, dict[str, Any]] | None:
    kind = event.type
    if kind in (EventType.USER_CREATED, EventType.GROUP_CREATED):
        return _PROV + "create:full", {"data": event.data}
    if kind in (EventType.USER_UPDATED, EventType.GROUP_RENAMED, EventType.GROUP_UPDATED):
        # A PUT and a PATCH both end here; the outbox does not keep which it was.
        return _PROV + "patch:full", {"data": event.data}
    if kind in (EventType.USER_DELETED, EventType.GROUP_DELETED):
        return _PROV + "delete", {}
    if kind == EventType.USER_DEACTIVATED:
        return _PROV + "deactivate", {}
    if kind == EventType.USER_REACTIVATED:
        return _PROV + "activate", {}
    if kind in (EventType.GROUP_MEMBER_ADDED, EventType.GROUP_MEMBER_REMOVED):
        return _PROV + "patch:notice", {"attributes": ["members"]}
    return None


def set_token(event: Event, company: str, secret: str, audience: str) -> bytes | None:
    """The event as a signed SET (RFC 8417 claims, RFC 9967 event), or None for an event type
    RFC 9967 has no event for. The issuer is the company's SCIM base URL, so that `sub_id.uri`
    (relative, as the RFC has it) appended to it is the resource's SCIM URL."""
    mapped = _set_event(event)
    if mapped is None:
        return None
    uri, payload = mapped
    if event.type in (EventType.GROUP_MEMBER_ADDED, EventType.GROUP_MEMBER_REMOVED):
        # The subject of a membership change is the group (its `members` changed).
        group = (event.data or {}).get("group") or {}
        resource, resource_id = "Groups", group.get("id")
        external_id = group.get("externalId") or ""
    else:
        resource = "Users" if event.resource_type == "User" else "Groups"
        resource_id, external_id = event.resource_id, event.external_id
    sub_id: dict[str, str] = {"format": "scim", "uri": f"/{resource}/{resource_id}"}
    if external_id:
        sub_id["externalId"] = external_id
    claims: dict[str, Any] = {
        "iss": f"{settings.WEBHOOK_ISSUER.rstrip('/')}/t/{company}/scim/v2",
        "aud": audience,
        "jti": str(event.id),
        "iat": int(event.occurred_at.timestamp()),
        "sub_id": sub_id,
        "events": {uri: payload},
    }
    if event.request_id:
        claims["txn"] = event.request_id
    token = jwt.encode(
        claims, secret_bytes(secret), algorithm="HS256", headers={"typ": "secevent+jwt"}
    )
    return token.encode()
