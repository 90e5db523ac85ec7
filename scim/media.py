"""SCIM media types: answer application/scim+json; accept scim+json, json, or no type at all
(Okta's SPEC tests POST without a Content-Type)."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

SCIM_MEDIA_TYPE = "application/scim+json"


class ScimJSONRenderer(JSONRenderer):
    media_type = SCIM_MEDIA_TYPE
    format = "scim"
    charset = "utf-8"


class ScimJSONParser(JSONParser):
    media_type = SCIM_MEDIA_TYPE


class ScimContentNegotiation(DefaultContentNegotiation):
    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        parsers = list(parsers)
        if not request.content_type:
            # A body with no Content-Type is read as JSON, as the IdPs mean it.
            return next(p for p in parsers if isinstance(p, JSONParser))
        return super().select_parser(request, parsers)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        # Clients that send odd Accept headers still get SCIM JSON rather than a 406.
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
