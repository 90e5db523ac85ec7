"""The ServiceProviderConfig document (RFC 7643 §5): what this server supports, truthfully.

Each feature flag here must match what the endpoints actually do; flip it in the same change
that implements the feature.
"""

from __future__ import annotations

from typing import Any

from scim.listing import MAX_COUNT

SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
DOCUMENTATION_URI = "https://github.com/headcount/headcount#connect-okta"

AUTHENTICATION_SCHEMES: list[dict[str, Any]] = [
    {
        "type": "oauthbearertoken",
        "name": "Bearer token",
        "description": "An API token generated on the company's Access rights screen, sent as "
        "'Authorization: Bearer <token>'.",
        "primary": True,
    },
    {
        "type": "httpbasic",
        "name": "HTTP Basic",
        "description": "Basic credentials (username and secret) generated on the company's "
        "Access rights screen.",
    },
]


def service_provider_config(location: str) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA],
        "documentationUri": DOCUMENTATION_URI,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": AUTHENTICATION_SCHEMES,
        "meta": {"resourceType": "ServiceProviderConfig", "location": location},
    }
