"""Who may do what in the company portal."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

# Portal views record where an action came from; one definition for the whole project.
from infra.client_ip import client_ip as client_ip

View = Callable[..., HttpResponse]


def credential_manager_required(view: View) -> View:
    """Owners and admins manage credentials; viewers get a 403, whatever they POST."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.can_manage_credentials:  # type: ignore[union-attr]
            raise PermissionDenied("Only owners and admins can manage credentials.")
        return view(request, *args, **kwargs)

    return wrapper


def actor_label(request: HttpRequest) -> str:
    return getattr(request.user, "email", "") or "unknown"
