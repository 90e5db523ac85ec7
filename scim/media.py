"""SCIM media types: answer application/scim+json whatever the Accept header asks (IdPs send
`*/*`, `application/json` or none); read bodies sent as scim+json, json, text/plain or with no
type at all (Okta's SPEC tests POST without a Content-Type; scripts and some clients send JSON
bare or as text/plain)."""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from rest_framework.exceptions import NotAcceptable, ParseError
from rest_framework.negotiation import DefaultContentNegotiation

# get_encoding: the charset of the Content-Type, text codecs only (not yet in the stubs).
from rest_framework.parsers import BaseParser, JSONParser, get_encoding  # type: ignore[attr-defined]
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from scim_protocol import errors

SCIM_MEDIA_TYPE = "application/scim+json"


class ScimJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, with orjson doing the encoding (a page of 100 users took ~0.6 ms
    in the stdlib's encoder, ~0.1 ms in orjson). Whatever orjson refuses (an integer past 64
    bits, a string that is not valid UTF-8) or an indented response asked for in Accept goes
    to DRF's own encoder, so the output is never worse than DRF's."""

    media_type = SCIM_MEDIA_TYPE
    format = "scim"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is None:
            try:
                # Timestamps go through DRF's encoder too, so they read as before ("…Z").
                encoded = orjson.dumps(
                    data,
                    default=self.encoder_class().default,
                    option=orjson.OPT_PASSTHROUGH_DATETIME,
                )
                # DRF escapes the two line separators JavaScript treats as line ends.
                return encoded.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                    b"\xe2\x80\xa9", b"\\u2029"
                )
            except (TypeError, orjson.JSONEncodeError):
                pass
        return super().render(data, accepted_media_type, renderer_context)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # past Python's limit on digits
        raise ValueError(f"an integer of {len(text):,} digits is too long") from None


class BodyJSONParser(JSONParser):
    """DRF's JSON parser, for the bodies clients actually send: a UTF-8 byte-order mark
    (PowerShell writes one) is skipped (RFC 8259 §8.1 lets a parser ignore it); a number too
    large for a float (`1e999`, which would be stored as infinity, which PostgreSQL's jsonb
    refuses) and an integer past Python's digit limit are syntax errors with a plain
    message, like NaN and Infinity."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read().removeprefix("\ufeff")
            return json.loads(
                text, parse_float=_finite, parse_int=_integer, parse_constant=_no_constant
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class ScimJSONParser(BodyJSONParser):
    media_type = SCIM_MEDIA_TYPE


class PlainJSONParser(BodyJSONParser):
    media_type = "application/json"


class UnlabelledJSONParser(BodyJSONParser):
    """JSON sent as text/plain or with no Content-Type. A web page can send either kind
    cross-site without a CORS preflight, and a browser adds the Basic credentials it has
    cached for this host, so a body that says it comes from a page (an Origin or a
    Sec-Fetch-Mode header, which identity providers' servers do not send) is refused."""

    media_type = "text/plain"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {})
        if "HTTP_ORIGIN" in meta or "HTTP_SEC_FETCH_MODE" in meta:
            raise errors.InvalidSyntax(
                "A request from a web page must send its body as application/scim+json."
            )
        return super().parse(stream, media_type, parser_context)


def in_query(request: Request, name: str) -> bool:
    """Whether the request's query string has a parameter `name`. Most SCIM requests have no
    query string: then Django need not parse one."""
    return bool(request.META.get("QUERY_STRING")) and name in request.query_params


class ScimContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with SCIM's answers to odd requests (above), and none at all for
    the requests identity providers make. The API has one renderer, so an Accept header
    without parameters can only choose it, at its own media type: DRF would parse and rank
    the header to find that out (and raise and catch NotAcceptable for `application/json`).
    A header with parameters (`indent`, `q`) or a `?format=` still goes through DRF."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        parsers = list(parsers)
        if not request.content_type:
            # A body with no Content-Type is read as JSON, as the IdPs mean it.
            return next(p for p in parsers if isinstance(p, UnlabelledJSONParser))
        return super().select_parser(request, parsers)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        if (
            len(renderers) == 1
            and format_suffix is None
            and ";" not in request.META.get("HTTP_ACCEPT", "")
            and not in_query(request, self.settings.URL_FORMAT_OVERRIDE)
        ):
            return renderers[0], renderers[0].media_type
        # Clients that send odd Accept headers still get SCIM JSON rather than a 406.
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
