"""A company's history entries (tenants.models.CompanyEvent) as sentences support reads, in
place of their stored JSON: "Status: active → suspended. Reason: Unpaid invoice"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from tenants.models import Company, CompanyEvent

Action = CompanyEvent.Action


def describe(action: str, detail: Mapping[str, object]) -> str:
    """The entry's detail as a sentence; keys it does not know are listed after it as
    "key: value", so nothing recorded is hidden."""
    known, sentence = _DESCRIBERS.get(action, ((), lambda _: ""))
    rest = [
        f"{key}: {_value(value)}"
        for key, value in detail.items()
        if key not in known and key != "reason"
    ]
    reason = f"Reason: {detail['reason']}" if detail.get("reason") else ""
    return _sentences(sentence(detail), reason, *rest)


def _sentences(*parts: str) -> str:
    return " ".join(part if part.endswith(".") else f"{part}." for part in parts if part)


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, str):
        try:
            when = parse_datetime(value) if "T" in value else None
        except ValueError:  # shaped like a time, but not one
            when = None
        return moment(when) if when is not None else value
    return str(value)


def moment(when: dt.datetime) -> str:
    """A time in the admin's time zone, named."""
    local = timezone.localtime(when) if timezone.is_aware(when) else when
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def _seats(value: object) -> str:
    return "unlimited" if value is None else str(value)


def _change(label: str, show: Callable[[object], str] = _value) -> Callable[[Mapping], str]:
    return lambda d: f"{label}: {show(d.get('from'))} → {show(d.get('to'))}"


def _policy(detail: Mapping[str, object]) -> str:
    field = str(detail.get("policy", ""))
    try:
        label = str(Company._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        label = field
    label = label[:1].upper() + label[1:]
    if field == "scim_rate_limit":
        show: Callable[[object], str] = lambda v: (  # noqa: E731
            "the default" if v is None else ("unlimited" if v == 0 else f"{v} per minute")
        )
    elif field == "attribute_allowlist":
        show = lambda v: _value(v) if v else "every attribute"  # noqa: E731
    else:
        show = _value
    return _change(label, show)(detail)


def _created(detail: Mapping[str, object]) -> str:
    scim = "on" if detail.get("scim_enabled") else "off"
    return (
        f"Name: {detail.get('name', '')}; seat limit: {_seats(detail.get('seat_limit'))}; "
        f"SCIM provisioning {scim}"
    )


def _role(value: object) -> str:
    return str(User.Role(value).label) if value in User.Role.values else _value(value)


def _login(detail: Mapping[str, object]) -> str:
    if "role" in detail:
        return f"{detail.get('email', '')} as {_role(detail['role'])}"
    return str(detail.get("email", ""))


def _login_role(detail: Mapping[str, object]) -> str:
    return f"{detail.get('email', '')}: {_role(detail.get('old'))} → {_role(detail.get('new'))}"


def _tripped(detail: Mapping[str, object]) -> str:
    return (
        f"{detail.get('deprovisioned')} deprovisioned within {detail.get('window_minutes')} "
        f"minutes, the most the brake allowed ({detail.get('allowance')}); the next was held"
    )


def _seat_limit(detail: Mapping[str, object]) -> str:
    text = _change("Seat limit", _seats)(detail)
    if "waitlist_now" not in detail:
        return text
    later = detail.get("waitlist_later")
    return (
        f"{text}. Waitlist: {detail['waitlist_now']} provisioned at once"
        + (f", {later} left to the background task" if later else "")
        + f", {detail.get('waitlist_waiting')} still waiting"
    )


def _released(detail: Mapping[str, object]) -> str:
    return f"{detail.get('held')} held request(s), held since {_value(detail.get('held_since'))}"


# action → (the detail keys the sentence says, the sentence)
_DESCRIBERS: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, object]], str]]] = {
    Action.CREATED: (("name", "seat_limit", "scim_enabled"), _created),
    Action.SCIM_ENABLED: ((), lambda _: ""),
    Action.SCIM_DISABLED: ((), lambda _: ""),
    Action.SEAT_LIMIT_CHANGED: (
        ("from", "to", "waitlist_now", "waitlist_later", "waitlist_waiting"),
        _seat_limit,
    ),
    Action.STATUS_CHANGED: (("from", "to"), _change("Status")),
    Action.RENAMED: (("from", "to"), _change("Name")),
    Action.POLICY_CHANGED: (("from", "to", "policy"), _policy),
    Action.BRAKE_TRIPPED: (("deprovisioned", "allowance", "window_minutes"), _tripped),
    Action.BRAKE_RELEASED: (("held", "held_since"), _released),
    Action.BRAKE_CONFIRMED: (("held", "held_since"), _released),
    Action.LOGIN_ADDED: (("email", "role"), _login),
    Action.LOGIN_INVITED: (("email", "role"), _login),
    Action.LOGIN_ROLE_CHANGED: (("email", "old", "new"), _login_role),
    Action.LOGIN_SWITCHED_OFF: (("email",), _login),
    Action.LOGIN_SWITCHED_ON: (("email",), _login),
}
