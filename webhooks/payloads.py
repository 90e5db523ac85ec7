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


# RFC 9967 (section numbers are the RFC's) for our events. §2.4: a `full` event carries `data`,
# a `notice` `attributes`, never both; §2.2: `version` is the resource's ETag after the event.
# - created: `create:full` (§2.4.1), `data` the resource as created (Figure 4).
# - user.updated: `put:full` (§2.4.3), `data` the User after the change. The outbox does not
#   keep whether a PUT or a PATCH made it, and §2.4.2's `patch:full` carries the PATCH request
#   itself (a PatchOp, Figure 6), which we do not keep; the final representation is what
#   `put:full` carries (a PUT of it gives the same User), so every user change is a PUT event.
# - group.renamed / group.updated: `patch:full` with the equivalent PatchOp (a `replace` of
#   the changed attributes). Not `put:full`: a group's event data leaves its members out (a
#   group of a million members), and as a PUT body that would read as "no members" (§5 also
#   recommends PATCH events for large groups).
# - group.member_added / _removed: `patch:full` on the group with the PatchOp adding or
#   removing that member, the shape of Figure 6; one SET per member, sharing the write's `txn`.
# - deleted: `delete` (§2.4.4), no payload and no full/notice qualifier.
# - user.deactivated / reactivated: `deactivate` (§2.4.6) / `activate` (§2.4.5), `{}`; the same
#   write changed `active` (and perhaps more), so the SET also carries that change as
#   `put:full` (§2.1: several event URIs in one SET are one state change of one resource).
# Company events have no RFC 9967 event: not sent in this format.
_PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_MEMBER_EVENTS = (EventType.GROUP_MEMBER_ADDED, EventType.GROUP_MEMBER_REMOVED)


def _full(data: Any, resource: Any = None) -> dict[str, Any]:
    """A `full` payload: `data`, with `version` when the resource (default: `data`) has an
    ETag."""
    version = (((data if resource is None else resource) or {}).get("meta") or {}).get("version")
    return {**({"version": version} if version else {}), "data": data}


def _replace_op(changed: list[str], data: dict[str, Any]) -> dict[str, Any]:
    """The PatchOp that sets the `changed` attributes to their values in `data` and removes
    those it no longer has."""
    present = {name: data[name] for name in changed if data.get(name) not in (None, "")}
    operations: list[dict[str, Any]] = [{"op": "replace", "value": present}] if present else []
    operations += [{"op": "remove", "path": name} for name in changed if name not in present]
    return {"schemas": [_PATCH_OP], "Operations": operations}


def _member_op(event: Event) -> dict[str, Any]:
    user = (event.data or {}).get("user") or {}
    user_id = user.get("id") or str(event.resource_id)
    if event.type == EventType.GROUP_MEMBER_ADDED:
        member = {"value": user_id, "$ref": f"/Users/{user_id}", "display": user.get("userName")}
        operation: dict[str, Any] = {"op": "add", "path": "members", "value": [member]}
    else:
        operation = {"op": "remove", "path": f'members[value eq "{user_id}"]'}
    return {"schemas": [_PATCH_OP], "Operations": [operation]}


def _set_events(event: Event) -> dict[str, dict[str, Any]] | None:
    kind = event.type
    if kind in (EventType.USER_CREATED, EventType.GROUP_CREATED):
        return {_PROV + "create:full": _full(event.data)}
    if kind == EventType.USER_UPDATED:
        return {_PROV + "put:full": _full(event.data)}
    if kind in (EventType.GROUP_RENAMED, EventType.GROUP_UPDATED):
        patch = _replace_op(list(event.changed), event.data or {})
        return {_PROV + "patch:full": _full(patch, resource=event.data)}
    if kind in (EventType.USER_DELETED, EventType.GROUP_DELETED):
        return {_PROV + "delete": {}}
    if kind == EventType.USER_DEACTIVATED:
        return {_PROV + "deactivate": {}, _PROV + "put:full": _full(event.data)}
    if kind == EventType.USER_REACTIVATED:
        return {_PROV + "activate": {}, _PROV + "put:full": _full(event.data)}
    if kind in _MEMBER_EVENTS:
        return {_PROV + "patch:full": {"data": _member_op(event)}}
    return None


def set_token(event: Event, company: str, secret: str, audience: str) -> bytes | None:
    """The event as a signed SET (RFC 8417 claims, RFC 9967 event), or None for an event type
    RFC 9967 has no event for. The issuer is the company's SCIM base URL, so that `sub_id.uri`
    (relative, as the RFC has it) appended to it is the resource's SCIM URL."""
    events = _set_events(event)
    if events is None:
        return None
    if event.type in _MEMBER_EVENTS:
        # The subject of a membership change is the group (its `members` changed).
        group = (event.data or {}).get("group") or {}
        resource, resource_id = "Groups", group.get("id")
        external_id = group.get("externalId") or ""
    else:
        resource = "Users" if event.resource_type == "User" else "Groups"
        resource_id, external_id = event.resource_id, event.external_id
    # §2.1: `format` "scim", `uri` (required, relative to the SCIM base), `externalId` if known.
    sub_id: dict[str, str] = {"format": "scim", "uri": f"/{resource}/{resource_id}"}
    if external_id:
        sub_id["externalId"] = external_id
    claims: dict[str, Any] = {
        "iss": f"{settings.WEBHOOK_ISSUER.rstrip('/')}/t/{company}/scim/v2",
        "aud": audience,
        "jti": str(event.id),
        "iat": int(event.occurred_at.timestamp()),
        "sub_id": sub_id,
        # §2.2: `txn` is the same for every SET of one change (retries, other endpoints):
        # the SCIM call's request id, or, for a change made without one, the event's id.
        "txn": event.request_id or str(event.id),
        "events": events,
    }
    token = jwt.encode(
        claims, secret_bytes(secret), algorithm="HS256", headers={"typ": "secevent+jwt"}
    )
    return token.encode()
