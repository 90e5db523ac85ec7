"""Discovery endpoints. Read-only: writes answer 405 with a SCIM error."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from scim.service_provider import service_provider_config
from scim.views_base import ScimView


class ServiceProviderConfigView(ScimView):
    """GET only; any write answers 405 (after authentication)."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(service_provider_config(request.build_absolute_uri(request.path)))
