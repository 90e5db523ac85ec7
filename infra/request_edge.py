"""The request edge: text that no view can store or compare is refused before anything reads it.

PostgreSQL refuses NUL in text, so a NUL anywhere a view might look (the company slug in the
path, a search box, an OAuth client id, a session cookie, the User-Agent the ledger keeps)
became a 500 wherever it reached a query. Invalid UTF-8 and UTF-8-encoded surrogates are
refused with it: Django would quietly turn them into U+FFFD, so nothing legitimate sends them.

One check in front of routing covers every surface (SCIM API, portal, OAuth, admin, health
checks) instead of each view guarding its own inputs. The answer is a 400: a SCIM error
(`invalidValue`) on the SCIM API, whose clients parse it, a plain-text page elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError

from infra.scim_edge import is_scim_path, scim_error_response

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def _clean_bytes(raw: bytes) -> bool:
    """Whether `raw` is strict UTF-8 (which excludes encoded surrogates) without NUL."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def _clean_urlencoded(raw: bytes) -> bool:
    # Decoding the whole string at once is enough: a percent-escaped `&` or `=` changes where
    # fields split, not whether some byte in them is bad.
    return _clean_bytes(unquote_to_bytes(raw.replace(b"+", b" ")))


def _clean_path(path: str) -> bool:
    # Django has already decoded the path, re-escaping bytes that are not UTF-8 (`%FF`), so
    # unescaping again finds them. It also finds a client's own `%25FF`, which names nothing
    # here either: slugs, ids and endpoint names never contain `%`.
    return _clean_bytes(unquote_to_bytes(path))


def refusal(request: HttpRequest) -> str | None:
    """Where `request` carries a NUL or invalid UTF-8 (e.g. "query string"), or None."""
    if not _clean_path(request.path):
        return "URL path"
    # WSGI carries the query string as Latin-1 text standing for the raw bytes.
    if not _clean_urlencoded(request.META.get("QUERY_STRING", "").encode("latin-1", "replace")):
        return "query string"
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and (
            "\x00" in str(value)
        ):
            return f"{key.removeprefix('HTTP_').replace('_', '-').title()} header"
    # The Cookie header is clean, but a quoted cookie value may spell NUL as `\000`.
    if any("\x00" in name or "\x00" in value for name, value in request.COOKIES.items()):
        return "cookie"
    return _form_refusal(request)


def _form_refusal(request: HttpRequest) -> str | None:
    content_type = request.content_type or ""
    try:
        if content_type == _FORM:
            return None if _clean_urlencoded(request.body) else "form field"
        if content_type == _MULTIPART and request.method == "POST":
            # Read the body first, so the view can still read it after the fields are parsed.
            request.body  # noqa: B018
            fields = request.POST.lists()
            if any("\x00" in name or any("\x00" in v for v in values) for name, values in fields):
                return "form field"
    except (RequestDataTooBig, TooManyFieldsSent, MultiPartParserError):
        # Too big or malformed is the view's to answer (the SCIM API says 413); the body
        # stays unread, so it raises the same error there.
        return None
    return None


class RequestEdgeMiddleware:
    """Answers 400 to a request carrying a NUL or invalid UTF-8 in its path, query string,
    headers, cookies or form fields; lets every other request through untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = refusal(request)
        if where is None:
            return self.get_response(request)
        detail = (
            f"The request's {where} contains a NUL character or invalid UTF-8, "
            "which is never accepted."
        )
        if is_scim_path(request.path):
            # For the company's request tallies (scim/edge_tally.py): routing never ran.
            request.edge_refusal = detail  # type: ignore[attr-defined]
            return scim_error_response(400, detail, "invalidValue")
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
