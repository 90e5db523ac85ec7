"""Show a new secret once, after a redirect (POST → redirect → GET), so that reloading the
page neither resubmits the form (a second credential) nor shows the secret again.

The secret waits in the session (stored in the company's own schema) from the POST to the very
next page that shows reveals, which removes it before rendering. It waits there encrypted
(Fernet, a key derived from SECRET_KEY for this purpose only) and for at most
REVEAL_SECONDS: a session row read from the database or a backup holds no usable secret,
even when the redirect was never followed. It is never logged; the page that shows it is sent
with `Cache-Control: no-store`."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.http import HttpRequest

from tokens.selectors import credential_get
from tokens.services import IssuedCredential

SESSION_KEY = "hc_reveal_once"
# Long enough for the redirect that follows the form, and a slow page load.
REVEAL_SECONDS = 300


def _fernet() -> Fernet:
    key = hashlib.sha256(b"headcount.portal.reveal:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def keep_for_reveal(request: HttpRequest, issued: IssuedCredential) -> None:
    request.session[SESSION_KEY] = {
        "credential_id": str(issued.credential.pk),
        "secret": _fernet().encrypt(issued.secret.encode()).decode(),
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
    try:
        secret = _fernet().decrypt(str(kept.get("secret", "")).encode(), ttl=REVEAL_SECONDS)
    except InvalidToken:
        return None  # too late, or not ours
    credential = credential_get(str(kept.get("credential_id", "")))
    if credential is None or credential.revoked_at is not None:
        return None
    return IssuedCredential(credential=credential, secret=secret.decode())
