"""Secrets never reach a log through a URL.

A token sent as `?access_token=…` is refused (scim/authentication.py), but by then the URL
has been logged: the access log writes the request line, runserver's `django.server` too. So
both log the URL with the values of secret-looking parameters (tokens, codes, secrets,
passwords) replaced, and any value shaped like one of our secrets, whatever its name.
Plain Python and gunicorn only: the gunicorn master loads this without Django.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from gunicorn import glogging

from tokens.secrets import (
    BASIC_SECRET_PREFIX,
    BEARER_PREFIX,
    OAUTH_ACCESS_PREFIX,
    OAUTH_REFRESH_PREFIX,
    VENDOR_KEY_PREFIX,
)

REDACTED = "[redacted]"
# Parameter names whose values are secrets: RFC 6749/6750/7009 (access_token, refresh_token,
# code, code_verifier, client_secret, token, assertion), passwords, keys, signatures.
_SECRET_NAME = re.compile(
    r"token|secret|passw|pwd|code|assertion|api[-_]?key|signature|session", re.IGNORECASE
)
# name=value in a query string; the lead keeps what separated it.
_PARAMETER = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#\s\"]+)=(?P<value>[^&;#\s\"]*)")
_OUR_SECRET = re.compile(
    "(?P<prefix>"
    + "|".join(
        re.escape(prefix)
        for prefix in (
            BEARER_PREFIX,
            BASIC_SECRET_PREFIX,
            OAUTH_ACCESS_PREFIX,
            OAUTH_REFRESH_PREFIX,
            VENDOR_KEY_PREFIX,
        )
    )
    + r")[A-Za-z0-9_\-]+"
)
# Request headers and environ entries that are credentials in full.
_SECRET_ATOMS = frozenset(
    {
        "{authorization}i",
        "{proxy-authorization}i",
        "{cookie}i",
        "{http_authorization}e",
        "{http_proxy_authorization}e",
        "{http_cookie}e",
    }
)


def _parameter(match: re.Match[str]) -> str:
    if not _SECRET_NAME.search(match["name"]) or not match["value"]:
        return match[0]
    return f"{match['lead']}{match['name']}={REDACTED}"


def redact(text: str) -> str:
    """`text` (a URL, a request line, a log message) with secret query values replaced."""
    if "?" not in text and "_" not in text:
        return text
    text = _PARAMETER.sub(_parameter, text)
    return _OUR_SECRET.sub(lambda match: match["prefix"] + REDACTED, text)


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, with secrets redacted from every access-log atom: the request line
    (`%(r)s`), the query string (`%(q)s`), the Referer (`%(f)s`, which may hold our own OAuth
    callback URL) and any header or environ entry a custom format names."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in _SECRET_ATOMS:
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact("?" + value)[1:] if key == "q" else redact(value)
        return atoms


class RedactSecretsFilter(logging.Filter):
    """A logging filter doing the same for our own log lines (runserver's request lines go
    through `django.server`): the message is formatted, then redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
