"""Set up → Okta / Microsoft Entra ID / Other SCIM 2.0 client: the guides of
provisioning_ui/guides rendered with this company's values, with the credential step's form and
its one-time reveal right in the page (the form posts to Access rights' views, which come back
here)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET

from provisioning_ui.forms import BasicForm, TokenForm
from provisioning_ui.guides import GUIDE_SLUGS, guide, guides
from provisioning_ui.oauth import oauth_base_url
from provisioning_ui.reveal import take_reveal
from tenants.gate import scim_gate
from tenants.links import scim_base_url
from tenants.models import Company
from tokens.models import Credential
from tokens.selectors import credentials_recent, token_name_free, token_name_holders
from tokens.services import IssuedCredential

ALWAYS_KEPT = ("userName", "externalId", "active")


def _code_list(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def company_values(request: HttpRequest, company: Company) -> dict[str, str]:
    """The guides' placeholders (provisioning_ui/guides) for `company`."""
    oauth = oauth_base_url(request, company)
    if company.attribute_allowlist:
        kept = (
            f"{_code_list([*ALWAYS_KEPT, *company.attribute_allowlist])}; "
            "others are ignored (not stored, not returned)"
        )
        remove = (
            "`password` (Headcount never stores passwords), and every attribute not kept "
            "(it would be ignored)"
        )
    else:
        kept = "every attribute of the SCIM core and enterprise User schemas"
        remove = "`password` (Headcount never stores passwords)"
    policy = [
        "userName cannot change (changes are refused)"
        if company.username_immutable
        else "userName may change",
        "userName must be the primary work email"
        if company.username_is_work_email
        else "userName need not be the work email",
    ]
    return {
        "company": company.name,
        "scim_base_url": scim_base_url(request, company),
        "oauth_authorize_url": f"{oauth}/authorize",
        "oauth_token_url": f"{oauth}/token",
        "oauth_revoke_url": f"{oauth}/revoke",
        "oauth_metadata_url": f"{oauth}/.well-known/oauth-authorization-server",
        "attributes_kept": kept,
        "attributes_remove": remove,
        "username_policy": "; ".join(policy) + ".",
    }


def guide_page(
    request: HttpRequest,
    slug: str,
    *,
    token_form: TokenForm | None = None,
    basic_form: BasicForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the guide `slug` for this company. A secret waiting in the session (after
    "Generate …" here or on Access rights) is shown now, once."""
    if slug not in GUIDE_SLUGS:
        raise Http404("No such guide.")
    company: Company = request.tenant  # type: ignore[attr-defined]
    gate = scim_gate(company)
    filled = guide(slug).filled(company_values(request, company))
    revealed: IssuedCredential | None = take_reveal(request)
    token_name = next(
        (b.name for s in filled.sections for b in s.blocks if b.credential == "token"), ""
    )
    # A return visit: the suggested name is taken by the token made last time. Say so, and
    # suggest a free name, so that generating another is not refused.
    holders = token_name_holders(token_name) if token_name else []
    token_taken = next((t for t in holders if t.name.lower() == token_name.lower()), None)
    if token_form is None:
        token_form = _refused_token_form(request) or TokenForm(
            initial={"name": token_name_free(token_name, holders)}
        )
    basic = None
    if "basic" in filled.credential_kinds():
        basic = next(
            (
                c
                for c in credentials_recent()
                if c.kind == Credential.Kind.BASIC and c.revoked_at is None
            ),
            None,
        )
    context: dict[str, Any] = {
        "company": company,
        "guide": filled,
        "guides": guides(),
        "scim_open": gate.open,
        "scim_closed_because": gate.detail,
        "can_manage": request.user.can_manage_credentials,  # type: ignore[union-attr]
        "token_form": token_form,
        "token_taken": token_taken,
        "basic_form": basic_form or BasicForm(),
        "basic": basic,
        "revealed": revealed,
        # A secret made elsewhere (a regenerated Basic secret, say) still shows, at the top.
        "reveal_on_top": revealed is not None
        and revealed.credential.kind not in filled.credential_kinds(),
    }
    response = render(request, "portal/guide.html", context, status=status)
    if revealed is not None:
        # The secret must not survive in any cache, nor come back with the Back button.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True, private=True)
    return response


# A token form refused on a guide, kept from the POST to the guide's page it redirects to.
REFUSED_FORM_KEY = "hc_guide_token_form"
_TOKEN_FIELDS = ("name", "note", "expires_in", "scope")


def keep_refused_token_form(request: HttpRequest, form: TokenForm) -> None:
    """Keep what was typed into a refused token form and why it was refused (nothing secret),
    for the guide page the refusal redirects to (POST → redirect → GET): the admin stays on
    the guide's own address, and a reload sends nothing again."""
    request.session[REFUSED_FORM_KEY] = {
        "data": {field: str(form.data.get(field, "")) for field in _TOKEN_FIELDS},
        "errors": {field: [str(e) for e in errors] for field, errors in form.errors.items()},
    }


def _refused_token_form(request: HttpRequest) -> TokenForm | None:
    """The form keep_refused_token_form kept, with its errors, once; None when there is none."""
    kept = request.session.pop(REFUSED_FORM_KEY, None) if request.method == "GET" else None
    if not isinstance(kept, dict):
        return None
    form = TokenForm(data=kept.get("data", {}))
    form.is_valid()  # the field errors again; the service's (a taken name) are added below
    for field, errors in dict(kept.get("errors", {})).items():
        for error in errors:
            if error not in form.errors.get(field, []):
                form.add_error(None if field == "__all__" else field, error)
    return form


@require_GET
@login_required
def setup_guide(request: HttpRequest, slug: str) -> HttpResponse:
    return guide_page(request, slug)
