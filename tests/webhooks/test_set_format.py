"""The RFC 9967 format: what a receiver of our Security Event Tokens gets, checked claim by
claim against the RFC's own examples (section and figure numbers are RFC 9967's). The tokens
are made by real SCIM calls, delivered over HTTP to a real receiver and verified twice: by hand
(RFC 7515) and by PyJWT."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any

import jwt
import pytest
from standardwebhooks.webhooks import Webhook

from events.outbox import EventType
from events.selectors import Event
from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim
from tests.webhooks.receiver import receiving
from webhooks.delivery import deliver_stream
from webhooks.payloads import set_token
from webhooks.services import endpoint_add

pytestmark = pytest.mark.django_db

PROV = "urn:ietf:params:scim:event:prov:"
ISSUER = "https://headcount.example/t/acme/scim/v2"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ISSUER = "https://headcount.example"


def _jws_verified(token: bytes, key: bytes) -> dict[str, Any]:
    """An HS256 JWS checked by hand (RFC 7515: HMAC-SHA256 over header.payload), independent of
    the library that signed it; returns the claims."""
    header, payload, signature = token.split(b".")
    expected = hmac.new(key, header + b"." + payload, hashlib.sha256).digest()
    assert hmac.compare_digest(
        base64.urlsafe_b64decode(signature + b"=" * (-len(signature) % 4)), expected
    )
    assert json.loads(base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4))) == {
        "alg": "HS256",
        "typ": "secevent+jwt",
    }
    return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))


def _delivered(acme: Company, make_changes: Any) -> list[dict[str, Any]]:
    """The claims of the SETs one `set` endpoint receives for the changes `make_changes` makes."""
    with receiving() as receiver:
        issued = endpoint_add(url=receiver.url, company=acme, format="set", actor="tests")
        make_changes()
        deliver_stream(issued.endpoint.pk, acme.schema_name)
    got = receiver.accepted()
    assert {g.headers["Content-Type"] for g in got} == {"application/secevent+jwt"}
    key = Webhook(issued.secret)._whsecret  # the HMAC key the whsec_ secret stands for
    tokens = [_jws_verified(g.body, key) for g in got]
    for g, token in zip(got, tokens, strict=True):
        # PyJWT agrees (issuer and audience checked too); jti is the webhook-id to dedupe by.
        jwt.decode(g.body, key, algorithms=["HS256"], audience=receiver.url, issuer=ISSUER)
        assert token["jti"] == g.headers["webhook-id"]
        assert token["aud"] == receiver.url
    return tokens


def test_user_lifecycle_as_rfc9967_provisioning_events(acme: Company, scim: Scim) -> None:
    """RFC 9967 §2.1 (Figure 1: `sub_id` of format `scim`, relative `uri`, `externalId`; never
    `sub`), §2.2 (`txn`, `version`), §2.4.1 (Figure 4, create:full), §2.4.3 (Figure 8, put:full:
    the User after the change; an update made by PATCH too, as the event does not keep the
    method), §2.4.5/§2.4.6 (activate/deactivate with an empty payload, here with the same
    write's put:full in the same SET, §2.1) and §2.4.4 (Figure 10, delete: no payload, no
    full/notice qualifier)."""
    calls: dict[str, Any] = {}

    def changes() -> None:
        created = scim.post(
            "/Users",
            {"userName": "setty@acme.test", "externalId": "ext-9"},
            HTTP_X_REQUEST_ID="req-create-1",
        )
        user_id = created.json()["id"]
        calls["id"] = user_id
        calls["create_etag"] = created.headers["ETag"]
        title = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "title", "value": "CFO"}],
        }
        calls["patch_etag"] = scim.patch(f"/Users/{user_id}", title).headers["ETag"]
        off = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"active": False, "title": "Ex-CFO"}}],
        }
        calls["off_etag"] = scim.patch(f"/Users/{user_id}", off).headers["ETag"]
        on = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": True}],
        }
        assert scim.patch(f"/Users/{user_id}", on).status_code == 200
        assert scim.delete(f"/Users/{user_id}", HTTP_X_REQUEST_ID="req-delete-1").status_code == 204

    tokens = _delivered(acme, changes)
    uri = f"/Users/{calls['id']}"
    for token in tokens:
        assert set(token) == {"iss", "aud", "jti", "iat", "txn", "sub_id", "events"}
        assert token["sub_id"] == {"format": "scim", "uri": uri, "externalId": "ext-9"}
        assert token["iss"] == ISSUER  # iss + sub_id.uri is the resource's SCIM URL
    assert [sorted(t["events"]) for t in tokens] == [
        [PROV + "create:full"],
        [PROV + "put:full"],
        [PROV + "deactivate", PROV + "put:full"],
        [PROV + "activate", PROV + "put:full"],
        [PROV + "delete"],
    ]
    assert tokens[0]["txn"] == "req-create-1"
    assert tokens[4]["txn"] == "req-delete-1"

    created = tokens[0]["events"][PROV + "create:full"]
    assert set(created) == {"version", "data"}  # never `attributes` beside `data` (§2.4)
    assert created["version"] == calls["create_etag"]
    assert created["data"]["id"] == calls["id"]  # the id assigned, for replicas (§2.4.1)
    assert created["data"]["userName"] == "setty@acme.test"

    updated = tokens[1]["events"][PROV + "put:full"]
    assert updated["version"] == calls["patch_etag"]
    assert updated["data"]["title"] == "CFO"
    assert updated["data"]["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]

    off = tokens[2]["events"]
    assert off[PROV + "deactivate"] == {}
    assert off[PROV + "put:full"]["version"] == calls["off_etag"]
    assert off[PROV + "put:full"]["data"]["active"] is False
    assert off[PROV + "put:full"]["data"]["title"] == "Ex-CFO"  # not lost with the deactivation
    assert tokens[3]["events"][PROV + "activate"] == {}
    assert tokens[4]["events"] == {PROV + "delete": {}}


def test_group_changes_as_rfc9967_patch_events(acme: Company, scim: Scim) -> None:
    """RFC 9967 §2.4.2, Figure 6: a membership change is a patch:full on the group whose `data`
    is the PatchOp (RFC 7644 §3.5.2) that makes it, here one per member; a rename likewise
    (its `replace`), not a put:full whose member-less `data` would read as an empty group.
    §2.1: the group is the subject, with its `externalId`."""
    calls: dict[str, Any] = {}

    def changes() -> None:
        user = scim.post("/Users", {"userName": "member@acme.test"}).json()
        group = scim.post(
            "/Groups",
            {
                "displayName": "CRM Users",
                "externalId": "crmUsers",
                "members": [{"value": user["id"]}],
            },
        )
        calls["user"], calls["group"] = user["id"], group.json()["id"]
        rename = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "CRM"}],
        }
        calls["rename_etag"] = scim.patch(f"/Groups/{calls['group']}", rename).headers["ETag"]
        remove = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user["id"]}"]'}],
        }
        assert scim.patch(f"/Groups/{calls['group']}", remove).status_code in (200, 204)
        unlink = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "externalId"}]}
        assert scim.patch(f"/Groups/{calls['group']}", unlink).status_code in (200, 204)

    tokens = _delivered(acme, changes)[1:]  # after the user's create:full
    group_sub = {"format": "scim", "uri": f"/Groups/{calls['group']}", "externalId": "crmUsers"}
    unlinked = {"format": "scim", "uri": group_sub["uri"]}  # externalId only when it has one
    assert [t["sub_id"] for t in tokens] == [group_sub] * 4 + [unlinked]
    assert [list(t["events"]) for t in tokens] == [
        [PROV + "create:full"],
        [PROV + "patch:full"],
        [PROV + "patch:full"],
        [PROV + "patch:full"],
        [PROV + "patch:full"],
    ]
    user_id = calls["user"]
    assert tokens[1]["events"][PROV + "patch:full"] == {
        "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [
                        {
                            "value": user_id,
                            "$ref": f"/Users/{user_id}",
                            "display": "member@acme.test",
                        }
                    ],
                }
            ],
        }
    }
    assert tokens[2]["events"][PROV + "patch:full"] == {
        "version": calls["rename_etag"],
        "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"displayName": "CRM"}}],
        },
    }
    assert tokens[3]["events"][PROV + "patch:full"]["data"]["Operations"] == [
        {"op": "remove", "path": f'members[value eq "{user_id}"]'}
    ]
    assert tokens[4]["events"][PROV + "patch:full"]["data"]["Operations"] == [
        {"op": "remove", "path": "externalId"}
    ]
    for token in tokens:  # exactly one of data / attributes (§2.4)
        for payload in token["events"].values():
            assert "attributes" not in payload and "data" in payload


def _event(type_: str, request_id: str = "", **fields: Any) -> Event:
    values: dict[str, Any] = {
        "schema_name": "acme",
        "seq": 1,
        "id": uuid.uuid4(),
        "type": type_,
        "occurred_at": dt.datetime(2026, 12, 6, tzinfo=dt.UTC),
        "resource_type": "Group",
        "resource_id": uuid.uuid4(),
        "external_id": "",
        "user_name": "",
        "display_name": "",
        "changed": [],
        "data": None,
        "request_id": request_id,
        "idp": "",
    }
    return Event(**(values | fields))


def test_txn_is_always_present() -> None:
    """RFC 9967 §2.2: `txn` is REQUIRED for replication and co-ordinated provisioning; a change
    made without a SCIM request id (portal, support) still gets one, the same on every retry."""
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    event = _event(EventType.GROUP_DELETED)
    claims = jwt.decode(
        set_token(event, "acme", secret, "https://r.example") or b"",
        base64.b64decode(secret.removeprefix("whsec_")),
        algorithms=["HS256"],
        audience="https://r.example",
    )
    assert claims["txn"] == str(event.id)
    assert claims["events"] == {PROV + "delete": {}}


def test_company_events_have_no_set() -> None:
    """RFC 9967 §7.4 lists every event URI; none is about a tenant's settings."""
    event = _event(EventType.SCIM_ENABLED, resource_type="Company", resource_id=None)
    assert set_token(event, "acme", "whsec_" + base64.b64encode(b"k" * 32).decode(), "x") is None
