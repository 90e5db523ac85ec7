"""The vendor key as the OpenAPI schema's security scheme (drf-spectacular extension)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class VendorKeyScheme(OpenApiAuthenticationExtension):
    target_class = "vendor_api.authentication.VendorKeyAuthentication"
    name = "vendorKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "hcv_…"}
