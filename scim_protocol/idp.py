"""Which identity provider is calling, told from what it sends (plain Python).

The User-Agent is the signal: Okta sends `Okta SCIM Client 1.0.0` (older orgs `Okta/…`),
Microsoft Entra ID's provisioning service `Microsoft.AAD.Provisioning` (older set-ups name
Azure AD). Entra's opt-in flag `aadOptscim062020`, which admins append to the Tenant URL, is
a dialect hint when the agent says nothing. Anything else is "another SCIM client": we name
only what we can tell, never guess.
"""

from __future__ import annotations

OKTA = "Okta"
ENTRA = "Microsoft Entra ID"
OTHER = "Other SCIM client"

_OKTA_MARKS = ("okta",)
_ENTRA_MARKS = ("microsoft", "aad", "azure", "entra")
_ENTRA_HINTS = ("aadoptscim",)


def identify(user_agent: str, hints: str = "") -> str:
    """OKTA, ENTRA or OTHER for a request's User-Agent and, optionally, its query string or
    other dialect `hints`; OTHER also for an empty agent with no hint."""
    agent = user_agent.lower()
    if any(mark in agent for mark in _OKTA_MARKS):
        return OKTA
    if any(mark in agent for mark in _ENTRA_MARKS):
        return ENTRA
    if any(hint in hints.lower() for hint in _ENTRA_HINTS):
        return ENTRA
    return OTHER
