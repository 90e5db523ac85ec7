"""Show a new secret once, after a redirect (POST → redirect → GET), so that reloading the
page neither resubmits the form (a second credential) nor shows the secret again.

The secret waits in the session (stored in the company's own schema) from the POST to the very
next page that shows reveals, which removes it before rendering. It is never logged; the page
that shows it is sent with `Cache-Control: no-store`."""

from __future__ import annotations

from django.http import HttpRequest

from tokens.selectors import credential_get
from tokens.services import IssuedCredential

SESSION_KEY = "hc_reveal_once"


def keep_for_reveal(request: HttpRequest, issued: IssuedCredential) -> None:
    request.session[SESSION_KEY] = {
        "credential_id": str(issued.credential.pk),
        "secret": issued.secret,
    }


def take_reveal(request: HttpRequest) -> IssuedCredential | None:
    """The secret kept by keep_for_reveal, removed from the session; None when there is none
    (a reload, another tab, a revoked credential). Only a GET takes it: a refused form posted
    meanwhile renders without it, and the next page loaded shows it."""
    if request.method != "GET":
        return None
    kept = request.session.pop(SESSION_KEY, None)
    if not isinstance(kept, dict):
        return None
    credential = credential_get(str(kept.get("credential_id", "")))
    if credential is None or credential.revoked_at is not None:
        return None
    return IssuedCredential(credential=credential, secret=str(kept["secret"]))
