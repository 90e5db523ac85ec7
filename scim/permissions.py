from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from scim_protocol import errors
from tenants.gate import gate_open, scim_gate
from tokens.models import Credential


class ScimClientPermission(BasePermission):
    """A SCIM call needs a valid credential of this company (401), and the company must have
    SCIM provisioning switched on by support and be active (403). Both are read on every
    request, so a revoke or a switch-off takes effect on the next call."""

    def has_permission(self, request: Request, view: Any) -> bool:
        credential = request.auth
        if credential is None:
            raise errors.NotAuthenticated()
        company = request._request.tenant  # type: ignore[attr-defined]
        if not gate_open(company):
            gate = scim_gate(company)
            shut = errors.CompanySuspended if gate.suspended else errors.ProvisioningDisabled
            raise shut(gate.detail)
        if (
            isinstance(credential, Credential)
            and credential.is_read_only
            and request.method not in SAFE_METHODS
            and not (request.method == "POST" and getattr(view, "reads_by_post", False))
        ):
            # By method and view, not per endpoint, so an endpoint added later (/Bulk) is a
            # write for read-only tokens unless it declares itself a read.
            raise errors.ReadOnlyCredential()
        return True
