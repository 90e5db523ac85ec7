"""The base every SCIM endpoint builds on: SCIM auth, SCIM media types, SCIM errors."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from directory import traffic
from directory.ledger import CallContext
from infra.client_ip import client_ip
from infra.db_errors import statement_timed_out, timed_out
from scim import throttling
from scim.authentication import ScimCredentialAuthentication, UnknownCredential, basic_username
from scim.exceptions import scim_exception_handler
from scim.media import (
    PlainJSONParser,
    ScimContentNegotiation,
    ScimJSONParser,
    ScimJSONRenderer,
    UnlabelledJSONParser,
)
from scim.permissions import ScimClientPermission
from scim_protocol import errors
from scim_protocol.cursor import CursorCodec
from scim_protocol.json_input import MAX_DEPTH, check_json, unstorable
from scim_protocol.listing import SEARCH_REQUEST
from scim_protocol.user_resource import etag, etag_names
from tenants.links import scim_base_url
from tenants.models import Company


def company_of(request: Request) -> Company:
    """The company the routing middleware resolved from the URL (the schema is already set)."""
    return request._request.tenant  # type: ignore[attr-defined]


def scim_base(request: Request) -> str:
    """The company's absolute SCIM base URL, as resources' `location` and `$ref` give it."""
    return scim_base_url(request._request, company_of(request))


def cursor_key(company: Company) -> bytes:
    """The key of `company`'s list cursors (RFC 9865), derived from SECRET_KEY and the
    company: a cursor issued at one company is invalid at another."""
    return salted_hmac("headcount.scim.cursor", f"{company.pk}:{company.schema_name}").digest()


def cursor_codec(request: Request) -> CursorCodec:
    """Signs and reads the list cursors of the request's company, at the current time."""
    return CursorCodec(key=cursor_key(company_of(request)), now=time.time())


def call_context(request: Request) -> CallContext:
    """Who made this SCIM call, for the provisioning log."""
    return CallContext(
        idp=request.META.get("HTTP_USER_AGENT", ""),
        credential=getattr(request.user, "label", ""),
        request_id=getattr(request._request, "request_id", ""),
    )


def _facts(request: Request, user_agent: str) -> traffic.RequestFacts:
    """What the company's request log keeps of a request it counts as refused or failed."""
    django_request = request._request
    return traffic.RequestFacts(
        method=request.method or "",
        path=django_request.path,
        request_id=getattr(django_request, "request_id", ""),
        user_agent=user_agent,
    )


class ScimRequest(Request):
    """DRF's request, reading what every SCIM request reads of Django's request (its headers
    and method) directly: DRF hands each such read on through `__getattr__`, a Python call
    per read. (Names Django's request may lack, such as the Basic username, are asked of
    Django's request itself: through DRF, a missing one raises and catches AttributeError.)"""

    # Read-only properties where DRF's stubs declare attributes: nothing assigns them.
    @property
    def META(self) -> dict[str, Any]:  # type: ignore[override]
        return self._request.META

    @property
    def method(self) -> str | None:  # type: ignore[override]
        return self._request.method


@functools.cache
def _shared(classes: tuple[type, ...]) -> list[Any]:
    """One instance of each of `classes`, for every request of every view that names them."""
    return [cls() for cls in classes]


class ScimView(APIView):
    authentication_classes = [ScimCredentialAuthentication]
    permission_classes = [ScimClientPermission]
    renderer_classes = [ScimJSONRenderer]
    parser_classes = [ScimJSONParser, PlainJSONParser, UnlabelledJSONParser]
    content_negotiation_class = ScimContentNegotiation
    # True for views whose POST only reads (…/.search): read-only tokens may call them
    # (scim/permissions.py). Every other POST, PUT, PATCH and DELETE is a write.
    reads_by_post = False

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # APIView.initialize_request's, with the SCIM request class.
        return ScimRequest(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )

    # DRF makes a new instance of each authentication, permission, parser and renderer class
    # for every request (four lists, six objects here); ours keep no state between calls,
    # so every request of a view shares one of each.
    def get_authenticators(self) -> list[Any]:
        return _shared(tuple(self.authentication_classes))

    def get_permissions(self) -> list[Any]:
        return _shared(tuple(self.permission_classes))

    def get_parsers(self) -> list[Any]:
        return _shared(tuple(self.parser_classes))

    def get_renderers(self) -> list[Any]:
        return _shared(tuple(self.renderer_classes))

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return scim_exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        if statement_timed_out(exc):
            # Our limit, not a fault: the company's log says so (directory.diagnosis).
            exc = timed_out()
        self._refused_by = exc
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        """Make the request visible to the company (directory/traffic.py): a refusal or a
        failure is counted in its schema, a success in this process's counters."""
        response = super().finalize_response(request, response, *args, **kwargs)
        django_request = request._request
        caller = getattr(django_request, "scim_caller", traffic.NO_CALLER)
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        if response.status_code < 400:
            # A /Bulk answers 200 whatever its operations did: its failed operations are
            # failures the company must see (BulkView.operations_failed), and one whose
            # operations all failed succeeded at nothing.
            failed: list[traffic.Failure] = getattr(self, "operations_failed", [])
            succeeded: int = getattr(self, "operations_succeeded", 0)
            if not failed or succeeded:
                traffic.count_success(
                    schema=company_of(request).schema_name, caller=caller, user_agent=user_agent
                )
            if failed:
                traffic.tally_failures(
                    caller=caller, request=_facts(request, user_agent), failures=failed
                )
            return response
        refused_by = getattr(self, "_refused_by", None)
        detail = ""
        error_code = refused_by.code if isinstance(refused_by, errors.ScimError) else ""
        if isinstance(refused_by, AuthenticationFailed | errors.NotAuthenticated):
            cause = caller.cause or traffic.Cause.REJECTED
            detail = str(getattr(refused_by, "detail", ""))
        elif isinstance(refused_by, errors.ProvisioningDisabled):
            cause, detail = traffic.Cause.SCIM_OFF, refused_by.detail
        elif isinstance(refused_by, errors.TooManyRequests):
            cause, detail = traffic.Cause.RATE_LIMITED, refused_by.detail
        else:
            # Failed reads and writes; a write's body and error are in the ledger too. The
            # error text is kept only for a 403, a refusal by policy (a seat limit, a read-only
            # token) in Headcount's own words: any other may quote the request (a filter, a
            # value).
            cause = traffic.Cause.FAILED
            if response.status_code == 403 and isinstance(refused_by, errors.ScimError):
                detail = refused_by.detail
        traffic.tally_refusal(
            caller=caller,
            cause=cause,
            status=response.status_code,
            request=_facts(request, user_agent),
            detail=detail,
            error_code=error_code,
        )
        return response

    def perform_authentication(self, request: Request) -> None:
        """Authenticate, then apply the rate limits (scim/throttling.py) before anything
        else can answer differently for a right and a wrong credential."""
        company = company_of(request)
        django_request = request._request
        try:
            _authenticate(request)
        except AuthenticationFailed as failure:
            if isinstance(failure, UnknownCredential):
                throttling.record_failed_sign_in(
                    company, client_ip(django_request), basic_username(django_request)
                )
            raise
        if request.auth is not None:
            caller: traffic.Caller = django_request.scim_caller  # type: ignore[attr-defined]
            throttling.admit(
                company,
                caller.key,  # the credential's id, as text (Caller.of)
                client_ip(django_request),
                basic_username(django_request),
            )


def _authenticate(request: Request) -> None:
    """What DRF's `request.user` does on its first read (Request._authenticate), run at once
    through DRF's public setters: the first authenticator that recognises the request names
    its user and credential; none, or a refusal, leaves both None (UNAUTHENTICATED_USER is
    None). The lazy property costs every request a failed attribute lookup and a context
    manager, and the SCIM views always authenticate. Its permissions raise rather than
    answer False, so DRF never asks which authenticator succeeded."""
    found = None
    try:
        for authenticator in request.authenticators or ():
            found = authenticator.authenticate(request)
            if found is not None:
                break
    finally:
        user, credential = (None, None) if found is None else found
        request.user = user  # type: ignore[assignment]  # a ScimClient, not a Django user
        request.auth = credential


def not_modified(request: Request, version: int) -> Response | None:
    """304 when the client's If-None-Match names the current version or is `*` (RFC 7644
    §3.14, RFC 7232 §3.2). For a read only: a write's preconditions are the service's, checked
    against the row the write replaces (directory.integrity.check_preconditions)."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if header is not None and etag_names(header, version):
        return Response(status=304, headers={"ETag": etag(version)})
    return None


def json_body(request: Request) -> Any:
    """The parsed JSON body; an empty body is a client error, not an empty object."""
    data = _parsed_body(request)
    check_json(data)
    return data


def _parsed_body(request: Request) -> Any:
    if not request.stream or not request.body.strip():
        raise errors.InvalidSyntax("The request body is empty: send the resource as JSON.")
    try:
        return request.data
    except RecursionError:
        raise errors.InvalidSyntax(
            f"The JSON body is nested more than {MAX_DEPTH} levels deep."
        ) from None


def search_request(request: Request) -> dict[str, Any]:
    """The body of a POST …/.search (RFC 7644 §3.4.3): a JSON object naming the SearchRequest
    schema. A filter NUL or an unpaired surrogate is an invalid filter, as it would be in the
    query string, rather than the invalid value it is anywhere else in a body."""
    body = _parsed_body(request)
    if isinstance(body, dict):
        for key, value in body.items():
            if str(key).lower() == "filter" and isinstance(value, str) and unstorable(value):
                raise errors.InvalidFilter(
                    "The filter holds a NUL character or an unpaired surrogate."
                )
    check_json(body)
    schemas = body.get("schemas") if isinstance(body, dict) else None
    if not isinstance(schemas, list) or SEARCH_REQUEST.lower() not in [
        str(schema).lower() for schema in schemas
    ]:
        raise errors.InvalidSyntax(
            f'A SearchRequest is a JSON object listing "{SEARCH_REQUEST}" in schemas.'
        )
    return body


class RootSearchView(ScimView):
    """POST /.search across resource types (RFC 7644 §3.4.3) is optional; say so with 501."""

    reads_by_post = True

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.ScimError.with_status(
            501,
            "Searching several resource types at once is not supported: "
            "POST to /Users/.search or /Groups/.search.",
        )


class MeView(ScimView):
    """/Me (RFC 7644 §3.11) is optional; say so with 501. A credential here is an identity
    provider's, not a user's, so there is no "me" to alias."""

    def dispatch_any(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.ScimError.with_status(
            501,
            "/Me is not supported: credentials belong to an identity provider, not a "
            "user. Read the user at /Users/{id}.",
        )

    get = post = put = patch = delete = dispatch_any


class UnknownEndpointView(ScimView):
    """Anything under scim/v2 that names no endpoint: a SCIM 404, once the caller is known."""

    def dispatch_any(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.NotFound("There is no SCIM endpoint at this path.")

    get = post = put = patch = delete = dispatch_any
