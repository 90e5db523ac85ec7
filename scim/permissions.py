from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from scim_protocol import errors
from tenants.gate import scim_gate
from tokens.models import Credential


class ScimClientPermission(BasePermission):
    """A SCIM call needs a valid credential of this company (401), and the company must have
    SCIM provisioning switched on by support and be active (403). Both are read on every
    request, so a revoke or a switch-off takes effect on the next call."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            raise errors.NotAuthenticated()
        gate = scim_gate(request._request.tenant)  # type: ignore[attr-defined]
        if not gate.open:
            shut = errors.CompanySuspended if gate.suspended else errors.ProvisioningDisabled
            raise shut(gate.detail)
        if (
            isinstance(request.auth, Credential)
            and request.auth.is_read_only
            and request.method not in SAFE_METHODS
            and not (request.method == "POST" and getattr(view, "reads_by_post", False))
        ):
            # By method and view, not per endpoint, so an endpoint added later (/Bulk) is a
            # write for read-only tokens unless it declares itself a read.
            raise errors.ReadOnlyCredential()
        return True
