"""Discovery endpoints (RFC 7644 §4). Read-only: writes answer 405 with a SCIM error."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from scim.views_base import ScimView, scim_base
from scim_protocol import errors
from scim_protocol.listing import list_response
from scim_protocol.schema import RESOURCE_TYPES, SCHEMAS
from scim_protocol.service_provider import service_provider_config


class _DiscoveryView(ScimView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "GET" and any(
            name.lower() == "filter" for name in request.query_params
        ):
            # RFC 7644 §4: answering with everything would let a client take the filter's
            # conditions for true of what it got.
            raise errors.ScimError.with_status(
                403, "Discovery endpoints cannot be filtered: read them whole."
            )


class ServiceProviderConfigView(_DiscoveryView):
    """GET only; any write answers 405 (after authentication)."""

    def get(self, request: Request) -> Response:
        return Response(service_provider_config(f"{scim_base(request)}/ServiceProviderConfig"))


class SchemasView(_DiscoveryView):
    def get(self, request: Request) -> Response:
        base = scim_base(request)
        resources = [schema.to_scim(f"{base}/Schemas/{schema.id}") for schema in SCHEMAS]
        return Response(list_response(len(resources), 1, resources))


class SchemaView(_DiscoveryView):
    def get(self, request: Request, schema_id: str) -> Response:
        schema = next((s for s in SCHEMAS if s.id.lower() == schema_id.lower()), None)
        if schema is None:
            raise errors.NotFound(f"No schema {schema_id!r}.")
        return Response(schema.to_scim(f"{scim_base(request)}/Schemas/{schema.id}"))


class ResourceTypesView(_DiscoveryView):
    def get(self, request: Request) -> Response:
        base = scim_base(request)
        resources = [rt.to_scim(f"{base}/ResourceTypes/{rt.name}") for rt in RESOURCE_TYPES]
        return Response(list_response(len(resources), 1, resources))


class ResourceTypeView(_DiscoveryView):
    def get(self, request: Request, name: str) -> Response:
        resource_type = next((rt for rt in RESOURCE_TYPES if rt.name.lower() == name.lower()), None)
        if resource_type is None:
            raise errors.NotFound(f"No resource type {name!r}.")
        return Response(
            resource_type.to_scim(f"{scim_base(request)}/ResourceTypes/{resource_type.name}")
        )
