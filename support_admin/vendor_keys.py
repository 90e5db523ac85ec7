"""Support staff's vendor API keys: issue one (the secret is shown once, on the page that
answers the form), see when each was last used, revoke."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from events.feed.models import VendorKey
from tokens.vendor_keys import vendor_key_issue, vendor_key_revoke


def _actor(request: HttpRequest) -> str:
    return getattr(request.user, "email", "") or "unknown staff"


class VendorKeyForm(forms.ModelForm):
    class Meta:
        model = VendorKey
        fields = ["name"]
        help_texts = {"name": "Who uses it, e.g. “Billing backend”. Keys are read-only."}


@admin.register(VendorKey)
class VendorKeyAdmin(admin.ModelAdmin):
    form = VendorKeyForm
    list_display = ["name", "display_prefix", "created_at", "created_by", "last_used_at", "state"]
    readonly_fields = [
        "name",
        "display_prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else tuple(self.readonly_fields)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("name",) if obj is None else tuple(self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked keys stay listed: who had access, until when

    @admin.display(description="State")
    def state(self, obj: VendorKey) -> str:
        return "revoked" if obj.revoked_at else "active"

    def save_model(self, request: HttpRequest, obj: VendorKey, form: Any, change: bool) -> None:
        if change:
            return  # nothing of a key changes but its revocation (the action)
        issued = vendor_key_issue(name=form.cleaned_data["name"], actor=_actor(request))
        obj.pk = issued.key.pk
        obj.__dict__.update(
            {field.attname: getattr(issued.key, field.attname) for field in obj._meta.fields}
        )
        # Kept on the request only, for the page that shows it once.
        request.vendor_key_secret = issued.secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: VendorKey, post_url_continue: Any = None
    ) -> HttpResponse:
        response = TemplateResponse(
            request,
            "admin/vendor_key_issued.html",
            {
                **self.admin_site.each_context(request),
                "title": "Vendor API key issued",
                "key": obj,
                "secret": request.vendor_key_secret,  # type: ignore[attr-defined]
                "opts": self.model._meta,
            },
        )
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke the selected keys (at once)", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[VendorKey]) -> None:
        for key in queryset:
            vendor_key_revoke(key_id=str(key.pk), actor=_actor(request))
        messages.success(request, f"Revoked {queryset.count()} key(s). They stop working now.")
