"""The base every SCIM endpoint builds on: SCIM auth, SCIM media types, SCIM errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scim import errors
from scim.exceptions import scim_exception_handler
from scim.media import ScimContentNegotiation, ScimJSONParser, ScimJSONRenderer
from scim.permissions import ScimClientPermission
from tokens.authentication import ScimCredentialAuthentication


class ScimView(APIView):
    authentication_classes = [ScimCredentialAuthentication]
    permission_classes = [ScimClientPermission]
    renderer_classes = [ScimJSONRenderer]
    parser_classes = [ScimJSONParser, JSONParser]
    content_negotiation_class = ScimContentNegotiation

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return scim_exception_handler


class UnknownEndpointView(ScimView):
    """Anything under scim/v2 that names no endpoint: a SCIM 404, once the caller is known."""

    def dispatch_any(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.NotFound("There is no SCIM endpoint at this path.")

    get = post = put = patch = delete = dispatch_any
