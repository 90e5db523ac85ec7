"""SCIM responses are encoded by orjson, byte for byte what DRF's encoder wrote, and what
orjson cannot encode still goes out through DRF's."""

import datetime as dt
import json
import uuid

from rest_framework.renderers import JSONRenderer

from scim.media import ScimJSONRenderer

RESOURCE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": str(uuid.UUID(int=5)),
    "userName": "zoë@example.com",
    "name": {"givenName": "Zoë", "familyName": "Ng"},
    "displayName": "line\u2028and\u2029paragraph separators",
    "emails": [{"value": "zoë@example.com", "primary": True}],
    "active": False,
    "seen": dt.datetime(2026, 11, 24, 1, 2, 3, 456000, tzinfo=dt.UTC),
    "meta": {"version": 'W/"3"', "count": 7},
}


def test_the_encoding_is_drfs_byte_for_byte() -> None:
    assert ScimJSONRenderer().render(RESOURCE) == JSONRenderer().render(RESOURCE)


def test_what_orjson_refuses_is_encoded_by_drf() -> None:
    huge = {"value": 2**70}

    assert json.loads(ScimJSONRenderer().render(huge)) == huge


def test_an_indented_response_when_asked_for() -> None:
    rendered = ScimJSONRenderer().render({"a": 1}, "application/scim+json; indent=2")

    assert rendered == b'{\n  "a": 1\n}'
