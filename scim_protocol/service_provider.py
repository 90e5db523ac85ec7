"""The ServiceProviderConfig document (RFC 7643 §5): what this server supports, truthfully.

Each feature flag here must match what the endpoints actually do; flip it in the same change
that implements the feature.
"""

from __future__ import annotations

from typing import Any

from scim_protocol import bulk, cursor, listing

SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
DOCUMENTATION_URI = "https://github.com/headcount/headcount#connect-okta"

# RFC 7643 §5 knows "oauth", "oauth2", "oauthbearertoken", "httpbasic" and "httpdigest".
# Our API tokens are bearer tokens (RFC 6750) that are not issued through OAuth, so they are
# listed as "oauthbearertoken" and say so; OAuth connections issue RFC 6750 bearer tokens too.
AUTHENTICATION_SCHEMES: list[dict[str, Any]] = [
    {
        "type": "oauthbearertoken",
        "name": "Bearer token",
        "description": "An API token generated on the company's Access rights screen, sent as "
        "'Authorization: Bearer <token>'. Not issued through OAuth.",
        "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
        "primary": True,
    },
    {
        "type": "oauthbearertoken",
        "name": "OAuth 2.0",
        "description": "An access token from the company's OAuth 2.0 authorization server "
        "(authorization code grant with PKCE and refresh tokens) at /t/<slug>/oauth/, issued "
        "once a company owner or admin approves the identity provider; sent as "
        "'Authorization: Bearer <token>'.",
        "specUri": "https://www.rfc-editor.org/rfc/rfc6749",
    },
    {
        "type": "httpbasic",
        "name": "HTTP Basic",
        "description": "Basic credentials (username and secret) generated on the company's "
        "Access rights screen.",
        "specUri": "https://www.rfc-editor.org/rfc/rfc7617",
    },
]


def service_provider_config(location: str) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA],
        "documentationUri": DOCUMENTATION_URI,
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": bulk.MAX_OPERATIONS,
            "maxPayloadSize": bulk.MAX_PAYLOAD_BYTES,
        },
        # A larger count is answered with this many (RFC 7644 §3.4.2.4).
        "filter": {"supported": True, "maxResults": listing.MAX_COUNT},
        # RFC 9865 §4. Index paging stays the default: the IdPs we serve page by startIndex
        # and send no pagination parameter on their first request.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": listing.DEFAULT_COUNT,
            "maxPageSize": listing.MAX_COUNT,
            "cursorTimeout": cursor.CURSOR_TIMEOUT,
        },
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": AUTHENTICATION_SCHEMES,
        "meta": {"resourceType": "ServiceProviderConfig", "location": location},
    }
