"""Support staff's view of companies: create them, switch SCIM on/off, set seat limits."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django_tenants.utils import schema_context

from directory.models import ProvisioningEvent
from support_admin import vendor_keys as vendor_keys  # registers the vendor API keys' admin
from support_admin import webhooks as webhooks  # registers the webhook endpoints' admin
from tenants.models import Company, CompanyEvent
from tenants.services import (
    POLICY_FIELDS,
    company_create,
    company_set_scim,
    company_update_settings,
)
from tokens.models import Credential, CredentialEvent


def actor_of(request: HttpRequest) -> str:
    user = request.user
    return getattr(user, "email", "") or "unknown staff"


class CompanyEventInline(admin.TabularInline):
    model = CompanyEvent
    fields = ("created_at", "action", "actor", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")
    verbose_name = "history entry"
    verbose_name_plural = "history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "scim_on", "seats", "seat_level", "status", "created_at")
    list_display_links = ("name", "slug")
    list_filter = ("scim_enabled", "status", "seat_level", "created_at")
    search_fields = ("slug", "name")
    ordering = ("slug",)
    list_per_page = 50
    show_full_result_count = False
    actions = ["enable_scim", "disable_scim"]
    inlines = [CompanyEventInline]

    add_fields = ("slug", "name", "seat_limit", "scim_enabled")
    change_fields = (
        "slug",
        "name",
        "status",
        "seat_limit",
        "seats_used",
        "scim_enabled",
        "username_immutable",
        "username_is_work_email",
        "attribute_allowlist",
        "scim_rate_limit",
        "scim_changed_by",
        "scim_changed_at",
        "company_urls",
        "seat_level",
        "seats_checked_at",
        "recent_failures",
        "credential_activity",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Company]:
        return Company.objects.customers()

    def get_fields(self, request: HttpRequest, obj: Company | None = None) -> tuple[str, ...]:
        return self.change_fields if obj else self.add_fields

    def get_readonly_fields(
        self, request: HttpRequest, obj: Company | None = None
    ) -> tuple[str, ...]:
        readonly: tuple[str, ...] = ()
        if obj is not None:
            readonly = (
                "slug",
                "seats_used",
                "scim_changed_by",
                "scim_changed_at",
                "company_urls",
                "seat_level",
                "seats_checked_at",
                "recent_failures",
                "credential_activity",
                "created_at",
                "updated_at",
            )
        if not self.has_switch_scim_permission(request):
            readonly += ("scim_enabled",)
        return readonly

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a company would orphan or destroy a whole schema of directory data; suspend
        # it instead (see docs/operations.md for deliberate removal).
        return False

    def has_switch_scim_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.switch_scim")

    def save_model(self, request: HttpRequest, obj: Company, form: ModelForm, change: bool) -> None:
        actor = actor_of(request)
        data = form.cleaned_data
        if not change:
            created = company_create(
                slug=data["slug"],
                name=data["name"],
                seat_limit=data.get("seat_limit"),
                scim_enabled=bool(data.get("scim_enabled"))
                and self.has_switch_scim_permission(request),
                actor=actor,
            )
            obj.pk = created.pk
            obj.schema_name = created.schema_name
            return
        current = Company.objects.get(pk=obj.pk)
        company_update_settings(
            company=current,
            actor=actor,
            name=data.get("name"),
            seat_limit=data.get("seat_limit"),
            clear_seat_limit=data.get("seat_limit") is None,
            status=data.get("status"),
            policies={field: data[field] for field in POLICY_FIELDS if field in data},
        )
        if "scim_enabled" in form.changed_data and self.has_switch_scim_permission(request):
            company_set_scim(company=current, enabled=bool(data["scim_enabled"]), actor=actor)

    @admin.display(description="SCIM", boolean=True, ordering="scim_enabled")
    def scim_on(self, obj: Company) -> bool:
        return obj.scim_enabled

    @admin.display(description="Seats used / limit", ordering="seats_used")
    def seats(self, obj: Company) -> str:
        return obj.seats_display

    @admin.display(description="URLs")
    def company_urls(self, obj: Company) -> str:
        return format_html(
            'Portal: <a href="{0}">{0}</a><br>SCIM base URL: <code>{1}</code>',
            obj.portal_path,
            obj.scim_base_path,
        )

    @admin.display(description="Recent provisioning failures")
    def recent_failures(self, obj: Company) -> str:
        """The company's last failed SCIM requests, read from its own ledger."""
        with schema_context(obj.schema_name):
            events = list(
                ProvisioningEvent.objects.filter(outcome=ProvisioningEvent.Outcome.FAILED)[:20]
            )
        if not events:
            return "None."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
            (
                (
                    f"{e.created_at:%Y-%m-%d %H:%M}",
                    e.operation,
                    e.resource_type,
                    e.user_name or e.display_name,
                    e.status,
                    e.detail,
                    e.idp,
                )
                for e in events
            ),
        )
        return format_html(
            "<table><tr><th>When</th><th>What</th><th>Who</th><th>Error</th><th>IdP</th></tr>{}</table>",
            rows,
        )

    @admin.display(description="Credential activity")
    def credential_activity(self, obj: Company) -> str:
        """The company's own audit trail of API credentials, read from its schema."""
        with schema_context(obj.schema_name):
            active = Credential.objects.usable().count()
            events = list(CredentialEvent.objects.select_related("credential")[:20])
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} <code>{}</code></td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{event.created_at:%Y-%m-%d %H:%M}",
                    event.get_action_display(),
                    event.credential.name,
                    # OAuth connections have no fixed secret to show the start of.
                    f"{event.credential.display_prefix}…"
                    if event.credential.display_prefix
                    else event.credential.get_kind_display(),
                    event.actor,
                    event.ip or "",
                )
                for event in events
            ),
        )
        return format_html(
            "<p>{} usable credential(s).</p><table><tr><th>When</th><th>What</th>"
            "<th>Credential</th><th>Who</th><th>From</th></tr>{}</table>",
            active,
            rows,
        )

    @admin.action(
        description="Switch SCIM provisioning ON for the selected companies",
        permissions=["switch_scim"],
    )
    def enable_scim(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(
        description="Switch SCIM provisioning OFF for the selected companies",
        permissions=["switch_scim"],
    )
    def disable_scim(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        self._switch(request, queryset, enabled=False)

    def _switch(self, request: HttpRequest, queryset: QuerySet[Company], *, enabled: bool) -> None:
        actor = actor_of(request)
        changed = sum(
            company_set_scim(company=company, enabled=enabled, actor=actor) for company in queryset
        )
        state = "on" if enabled else "off"
        self.message_user(
            request,
            f"SCIM provisioning switched {state} for {changed} company(ies).",
            messages.SUCCESS,
        )
