"""The portal's side of the seat waitlist and the deprovisioning brake: what the Overview and
the log show of them, dropping someone from the waitlist (owners and admins) and releasing
or confirming a tripped brake (owners)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import User
from directory.brake import brake_release
from directory.ledger import CallContext, Subject, ledger_success
from directory.portal_selectors import held_deprovisions, waitlist_for_portal
from directory.waitlist import waitlist_drop
from provisioning_ui.permissions import actor_label
from tenants.models import Company


def lifecycle_context(request: HttpRequest, company: Company) -> dict[str, Any]:
    """What the Overview and the log show: the waitlist's head, and the held requests while
    the brake is tripped. Two queries at most, whatever the sizes."""
    user = request.user
    return {
        "company": company,
        "waitlist": waitlist_for_portal(),
        "held": held_deprovisions(company),
        "may_drop": getattr(user, "can_manage_credentials", False),
        "may_release": getattr(user, "role", "") == User.Role.OWNER,
    }


@require_POST
@login_required
def waitlist_drop_view(request: HttpRequest, entry_id: str) -> HttpResponse:
    if not request.user.can_manage_credentials:  # type: ignore[union-attr]
        raise PermissionDenied("Only owners and admins can change the waitlist.")
    actor = actor_label(request)
    entry = waitlist_drop(entry_id)
    if entry is None:
        messages.info(request, "That person is no longer on the waitlist.")
    else:
        # The ledger says who took the person off, next to the IdP's own requests.
        ledger_success(
            "drop",
            Subject("User", None, entry.user_name, entry.external_id, entry.display_name),
            CallContext(
                idp="Headcount portal",
                credential=actor,
                note=f"Dropped from the seat waitlist by {actor}.",
            ),
            200,
        )
        messages.success(
            request,
            f"{entry.user_name} was dropped from the waitlist. Your identity provider's next "
            "retry puts them back in line unless you unassign them there.",
        )
    # Back to the page the button was on; only our own pages, never a URL from the form.
    return redirect("provisioning_log" if request.POST.get("back") == "log" else "dashboard")


@require_POST
@login_required
def brake_decide_view(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "role", "") != User.Role.OWNER:
        raise PermissionDenied("Only owners can release the deprovisioning brake.")
    confirmed = request.POST.get("decision") == "confirm"
    company = request.tenant  # type: ignore[attr-defined]
    held = brake_release(company=company, actor=actor_label(request), confirmed=confirmed)
    if held is None:
        messages.info(request, "Deprovisioning was not paused.")
    else:
        done = "confirmed" if confirmed else "released"
        messages.success(
            request,
            f"Deprovisioning {done}: the {held} held request(s) go through when your identity "
            "provider retries them.",
        )
    return redirect("dashboard")
