"""What a failed or refused SCIM request means, and what the company's IT admin can do about
it: one plain explanation and fix per error class, in one place, so the log's detail view,
the Overview and the Test connection scorecard say the same thing.

Pure: it reads what the ledger or the tally row recorded (status, scimType, detail, cause)
and names the pages to go to; the portal turns names into links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEAT_LIMIT = "seat_limit"
READ_ONLY = "read_only"
FORBIDDEN = "forbidden"
UNIQUENESS = "uniqueness"
MUTABILITY = "mutability"
INVALID_VALUE = "invalid_value"
CREDENTIALS = "credentials"
SCIM_OFF = "scim_off"
SUSPENDED = "suspended"  # a code only: diagnosed as SCIM_OFF, with its own title
RATE_LIMITED = "rate_limited"
DEPROVISIONING_HELD = "deprovisioning_held"
TIMED_OUT = "timed_out"
NOT_FOUND = "not_found"
SERVER_ERROR = "server_error"
OTHER = "other"

OKTA_MAPPINGS = (
    "In Okta: Applications → your Headcount app → Provisioning → To App → Attribute "
    "Mappings: edit or remove the mapping of {attribute}."
)
ENTRA_MAPPINGS = (
    "In Microsoft Entra ID: Enterprise applications → your Headcount app → Provisioning → "
    "Mappings → Provision Microsoft Entra ID Users: edit or remove the mapping of {attribute}."
)
# The attribute an invalid-value message starts with: `emails.value must be …`,
# `'title' is readOnly …`, `urn:…:enterprise:2.0:User must be …`.
_LEADING_ATTRIBUTE = re.compile(r"^'?(?P<name>[A-Za-z][\w.:\[\]-]*)'?\s")


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    title: str
    explanation: str
    fix: str
    attribute: str = ""  # the attribute an invalid value was found in, when the error names it
    # Pages of the portal that help: "access_rights", "members", "dashboard", "support".
    go_to: str = ""


def _attribute(detail: str) -> str:
    found = _LEADING_ATTRIBUTE.match(detail.strip())
    return found.group("name") if found else ""


def diagnose_failure(
    *, status: int, scim_type: str, detail: str, resource_type: str, code: str = ""
) -> Diagnosis:
    """The diagnosis of a request that reached the API and failed (a ledger row, or a tally
    row of cause `failed`, `scim_off` or `rate_limited`). `code` is which of Headcount's own
    refusals it was (scim_protocol.errors.ScimError.code) where that was recorded: a 403 is
    told apart by it, never guessed from the status."""
    kind_of_thing = "group" if resource_type == "Group" else "user"
    # The ledger keeps no code; its only 403 is the seat limit, whose detail says so.
    if code == SEAT_LIMIT or (status == 403 and detail.startswith("Seat limit reached")):
        return Diagnosis(
            SEAT_LIMIT,
            "Seat limit reached",
            "Every seat your plan includes is taken by an active user, so Headcount refused "
            "to create or reactivate one more.",
            "Free seats: deactivate users who no longer need access (unassign them in your "
            "identity provider), or ask Headcount support to raise the seat limit: only "
            "support can change it. Meanwhile the people refused wait on the seat waitlist "
            "(on the Overview) and are provisioned automatically, oldest first, as soon as a "
            "seat frees up.",
            go_to="members",
        )
    if code == READ_ONLY:
        return Diagnosis(
            READ_ONLY,
            "Read-only token",
            "Your identity provider tried to create, change or delete with a token whose "
            "access is Read-only: such a token may only read users and groups, so Headcount "
            "answered 403.",
            "Under Access rights, generate a token with Full access and paste it in your "
            "identity provider in place of this one (a token's access cannot be changed "
            "afterwards); then revoke the read-only token if nothing else uses it.",
            go_to="access_rights",
        )
    if code in (SCIM_OFF, SUSPENDED):
        return diagnose_scim_off(detail, code=code)
    if code == DEPROVISIONING_HELD:
        return Diagnosis(
            DEPROVISIONING_HELD,
            "Deprovisioning paused",
            "Your identity provider deactivated or deleted more users in a short time than "
            "this company's deprovisioning brake allows, so Headcount held this request "
            "(503) and changed nothing. The Overview lists the held requests.",
            "If the removals are meant, an owner releases or confirms the brake on the "
            "Overview and the identity provider's retries go through. If not, fix the "
            "assignment or scoping change in your identity provider first.",
            go_to="dashboard",
        )
    if code == TIMED_OUT:
        return Diagnosis(
            TIMED_OUT,
            "Request took too long",
            "Headcount stopped a request that ran longer than it allows (a limit that keeps "
            "one costly request from slowing everyone's) and answered 503; the identity "
            "provider may retry it.",
            "Identity providers' own reads and writes stay far below the limit. If this "
            "repeats, it is usually a script or a tool sending a broad filter or a sort on "
            "a large directory: narrow it. If your identity provider's own requests time "
            "out, send the request id to Headcount support.",
            go_to="support",
        )
    if status == 403:
        return Diagnosis(
            FORBIDDEN,
            "Request refused (403)",
            detail
            or "Headcount answered 403 Forbidden; this entry does not record which rule "
            "refused the request.",
            "If it created or reactivated a user, the seat limit may be reached (see the seat "
            "waitlist on the Overview); if the credential is a read-only token, use a token "
            "with Full access (Access rights); if SCIM is switched off or the company is "
            "suspended, the Overview says so, and only Headcount support can change that.",
            go_to="dashboard",
        )
    if status == 429:
        return Diagnosis(
            RATE_LIMITED,
            "Too many requests",
            "Your identity provider sent more requests per minute than this company's limit; "
            "they were answered 429 with a Retry-After header.",
            "Nothing to fix if this is rare: Okta and Entra ID wait and retry on their own. "
            "If it keeps happening, lower the provisioning rate in your identity provider or "
            "ask support to raise the limit shown on the Overview.",
            go_to="dashboard",
        )
    if scim_type == "uniqueness" or status == 409:
        return Diagnosis(
            UNIQUENESS,
            f"This {kind_of_thing} exists already",
            f"A {kind_of_thing} with the same userName or externalId is already in Headcount, "
            "so a second one cannot be created.",
            "Open the existing user below. If it is the same person, link it in your "
            "identity provider instead of creating it (Okta: Import → match; Entra ID: "
            "matching attribute userName). If it is someone else, give one of them another "
            "userName.",
            go_to="members",
        )
    if scim_type == "mutability":
        return Diagnosis(
            MUTABILITY,
            "This attribute cannot change",
            f"Headcount refused to change an attribute that this company's policy keeps "
            f"fixed, or that SCIM marks read-only: {detail}",
            "If the userName must change, ask support to turn off “userName can change: No” "
            "for your company (see SCIM policies on the Overview); otherwise stop your "
            "identity provider from sending the change (remove the mapping).",
            go_to="dashboard",
        )
    if scim_type in ("invalidValue", "invalidSyntax", "invalidPath", "noTarget", "tooMany"):
        attribute = _attribute(detail) if scim_type == "invalidValue" else ""
        name = f"“{attribute}”" if attribute else "the attribute named in the error"
        return Diagnosis(
            INVALID_VALUE,
            "Invalid value",
            f"Headcount could not accept what your identity provider sent: {detail}",
            OKTA_MAPPINGS.format(attribute=name) + " " + ENTRA_MAPPINGS.format(attribute=name),
            attribute=attribute,
        )
    if status == 404:
        return Diagnosis(
            NOT_FOUND,
            f"No such {kind_of_thing}",
            f"Your identity provider asked for a {kind_of_thing} that Headcount does not have "
            "(it was deleted here, or never created).",
            "Nothing to do if it was deleted on purpose. Otherwise push it again from your "
            "identity provider (Okta: Push Now / re-assign; Entra ID: Provision on demand).",
        )
    if status >= 500:
        return Diagnosis(
            SERVER_ERROR,
            "Headcount could not complete the request",
            "Something went wrong on Headcount's side; nothing was changed.",
            "Your identity provider retries on its own. If it keeps failing, send the request "
            "id to Headcount support.",
            go_to="support",
        )
    if detail:
        return Diagnosis(
            OTHER,
            "Request refused",
            detail,
            "Check the error above; if it is unclear, send the request id to Headcount support.",
            go_to="support",
        )
    # A refused read's error text is not kept (it may quote the request): say where it is.
    return Diagnosis(
        OTHER,
        "Request refused",
        f"Headcount answered {status}. The error text of this request is not kept here, "
        "because it may quote what your identity provider sent.",
        "Your identity provider's log shows the error Headcount answered: look it up there by "
        "this entry's request id. If it is unclear, send the request id to Headcount support.",
        go_to="support",
    )


def diagnose_scim_off(detail: str, *, code: str = "") -> Diagnosis:
    """SCIM switched off by support (`code` scim_off), the company suspended (`suspended`), or
    one of the two in a row recorded before the code was kept."""
    title = {SCIM_OFF: "SCIM switched off", SUSPENDED: "Company suspended"}.get(
        code, "SCIM switched off or company suspended"
    )
    return Diagnosis(
        SCIM_OFF,
        title,
        detail or "SCIM provisioning is not active for this company.",
        "Only Headcount support can switch SCIM provisioning on (or lift a suspension): "
        "contact them. Your identity provider's requests are refused with 403 until then.",
        go_to="support",
    )


def diagnose_credentials(*, cause: str, credential: str = "") -> Diagnosis:
    """The diagnosis of a request refused for its credential (`cause` of a RequestTally:
    no_credential, rejected, revoked, expired). `credential` names it when it is known."""
    which = f"“{credential}”" if credential else "The credential your identity provider sent"
    explanation = {
        "revoked": f"{which} was revoked in Headcount, so every request with it is refused.",
        "expired": f"{which} has expired, so every request with it is refused.",
        "no_credential": "The request carried no Authorization header.",
    }.get(
        cause,
        f"{which} is not a credential of this company: mistyped, from another company, or deleted.",
    )
    return Diagnosis(
        CREDENTIALS,
        "Credentials rejected",
        explanation + " The identity provider was answered 401.",
        "Generate a new token (or Basic pair) under Access rights and paste it in your "
        "identity provider: Okta → Provisioning → Integration → API Token, then “Test API "
        "Credentials”; Entra ID → Provisioning → Admin Credentials → Secret Token, then "
        "“Test Connection”.",
        go_to="access_rights",
    )
