"""The base every SCIM endpoint builds on: SCIM auth, SCIM media types, SCIM errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.client_ip import client_ip
from scim import errors, throttling
from scim.exceptions import scim_exception_handler
from scim.json_input import MAX_DEPTH, check_json
from scim.media import ScimContentNegotiation, ScimJSONParser, ScimJSONRenderer
from scim.permissions import ScimClientPermission
from scim.user_resource import etag
from tokens.authentication import ScimCredentialAuthentication, UnknownCredential


class ScimView(APIView):
    authentication_classes = [ScimCredentialAuthentication]
    permission_classes = [ScimClientPermission]
    renderer_classes = [ScimJSONRenderer]
    parser_classes = [ScimJSONParser, JSONParser]
    content_negotiation_class = ScimContentNegotiation

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return scim_exception_handler

    def perform_authentication(self, request: Request) -> None:
        """Authenticate, then apply the rate limits (scim/throttling.py) before anything
        else can answer differently for a right and a wrong credential."""
        company = request._request.tenant  # type: ignore[attr-defined]
        try:
            super().perform_authentication(request)
        except AuthenticationFailed as failure:
            if isinstance(failure, UnknownCredential):
                throttling.record_failed_sign_in(company, client_ip(request))
            raise
        if request.auth is not None:
            throttling.admit(company, str(request.auth.pk), client_ip(request))


def not_modified(request: Request, version: int) -> Response | None:
    """304 when the client's If-None-Match names the current version (RFC 7644 §3.14)."""
    tags = [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]
    if etag(version) in tags:
        return Response(status=304, headers={"ETag": etag(version)})
    return None


def json_body(request: Request) -> Any:
    """The parsed JSON body; an empty body is a client error, not an empty object."""
    if not request.stream or not request.body.strip():
        raise errors.InvalidSyntax("The request body is empty: send the resource as JSON.")
    try:
        data = request.data
    except RecursionError:
        raise errors.InvalidSyntax(
            f"The JSON body is nested more than {MAX_DEPTH} levels deep."
        ) from None
    check_json(data)
    return data


class RootSearchView(ScimView):
    """POST /.search across resource types (RFC 7644 §3.4.3) is optional; say so with 501."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.ScimError.with_status(
            501,
            "Searching several resource types at once is not supported: "
            "POST to /Users/.search or /Groups/.search.",
        )


class UnknownEndpointView(ScimView):
    """Anything under scim/v2 that names no endpoint: a SCIM 404, once the caller is known."""

    def dispatch_any(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.NotFound("There is no SCIM endpoint at this path.")

    get = post = put = patch = delete = dispatch_any
