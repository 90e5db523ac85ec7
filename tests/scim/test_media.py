"""SCIM responses are encoded by orjson, byte for byte what DRF's encoder wrote, and what
orjson cannot encode still goes out through DRF's. The negotiation answers every Accept
header as DRF's own would, with or without its shortcut."""

import datetime as dt
import json
import uuid

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from scim.media import ScimContentNegotiation, ScimJSONRenderer

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


def _drf_choice(request: Request, renderer: BaseRenderer) -> tuple[BaseRenderer, str]:
    """What DRF's negotiation chooses, with the SCIM API's answer to a 406."""
    try:
        return DefaultContentNegotiation().select_renderer(request, [renderer])
    except NotAcceptable:
        return renderer, renderer.media_type


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "*/*",
        "application/scim+json",
        "application/json",
        "Application/SCIM+JSON",
        "application/scim+json, application/json",
        "application/json, text/plain, */*",
        "text/html",
        "application/*",
        "application/scim+json; indent=4",
        "*/*; indent=2",
        "application/json; indent=2",
        "application/json;q=0.9, application/scim+json;q=1",
        "text/html;q=0.1",
        "garbage;;;",
    ],
)
@pytest.mark.parametrize("query", ["", "format=scim", "format="])
def test_every_accept_header_is_answered_as_drf_would(accept: str | None, query: str) -> None:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(RequestFactory().get(f"/t/acme/scim/v2/Users?{query}", **headers))
    renderer = ScimJSONRenderer()

    chosen, media_type = ScimContentNegotiation().select_renderer(request, [renderer])
    expected, expected_type = _drf_choice(request, renderer)

    assert chosen is expected
    # The accepted media type only carries the parameters the renderer reads (indent).
    assert renderer.get_indent(media_type, {}) == renderer.get_indent(expected_type, {})
    assert media_type.split(";")[0].strip().lower() == expected_type.split(";")[0].strip().lower()
