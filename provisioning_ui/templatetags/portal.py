"""Template helpers of the company portal."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# The guides' inline markup (provisioning_ui/guides): `code`, **bold**, [text](url).
_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")
# Links may leave for the web or stay in the portal; anything else (javascript:, data:) is text.
_SAFE_URL = re.compile(r"^(https?://|/)[^\s\"'<>]*$")


@register.filter
def as_json(value: Any) -> str:
    """`value` as indented JSON, the notation an identity provider sends (a stored request
    body is JSON; Python's repr would show True and None for true and null)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def inline(text: str) -> SafeString:
    """Escape `text`, then turn the guides' inline markup into HTML."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[position : match.start()]))
        code, bold, label, url = match.groups()
        if code is not None:
            out.append(format_html("<code>{}</code>", code))
        elif bold is not None:
            out.append(format_html("<strong>{}</strong>", inline(bold)))
        elif _SAFE_URL.match(url):
            out.append(format_html('<a href="{}">{}</a>', url, label))
        else:
            out.append(escape(label))
        position = match.end()
    out.append(escape(text[position:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece above is escaped


@register.simple_tag
def when(value: dt.datetime | dt.date | None, seconds: bool = False) -> SafeString:
    """A timestamp that says its time zone, e.g. `2026-12-06 07:45 UTC`, in a <time> element
    whose machine-readable `datetime` is ISO 8601 with the offset."""
    if value is None:
        return mark_safe("")
    if not isinstance(value, dt.datetime):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.isoformat())
    local = timezone.localtime(value)
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return format_html(
        '<time datetime="{}">{} {}</time>', local.isoformat(), shown, local.tzname() or ""
    )


@register.filter
def thousands(number: int) -> str:
    """1000 as "1,000": counts people read at a glance."""
    return f"{number:,}"


@register.filter
def export_scope(criteria: dict[str, str]) -> str:
    """What an export of the failed operations holds, in words (static/js/exports.js says the
    same while the selection changes)."""
    operation = criteria.get("operation") or ""
    what = f"failed {operation} operations" if operation else "all failed operations"
    since, until = criteria.get("since") or "", criteria.get("until") or ""
    if since and until:
        return f"{what} from {since} to {until}"
    if since:
        return f"{what} since {since}"
    if until:
        return f"{what} until {until}"
    return f"{what}, any date"
