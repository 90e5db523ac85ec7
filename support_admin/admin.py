"""Support staff's view of companies: create them, switch SCIM on/off, set seat limits,
manage their portal logins."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django_tenants.utils import schema_context

from accounts.models import User
from directory.brake import brake_release
from directory.models import ProvisioningEvent, WaitlistEntry
from directory.seat_check import seat_level, seat_level_now
from directory.services import seat_limit_set
from support_admin import history
from support_admin import oauth_clients as oauth_clients  # re-registers the OAuth clients' admin
from support_admin import vendor_keys as vendor_keys  # registers the vendor API keys' admin
from support_admin import webhooks as webhooks  # registers the webhook endpoints' admin
from support_admin.forms import (
    CompanyAddForm,
    CompanyChangeForm,
    InviteForm,
    LoginChangeForm,
    ScimOffForm,
)
from tenants.links import site_origin
from tenants.models import Company, CompanyEvent
from tenants.portal_users import portal_login_invite, portal_login_update, portal_logins
from tenants.services import (
    POLICY_FIELDS,
    company_create,
    company_set_scim,
    company_update_settings,
)
from tokens.models import Credential, CredentialEvent

# The site's origin while a company page renders: read-only fields get the object, not the
# request, and the URLs support copies to a customer must be absolute.
_origin: ContextVar[str] = ContextVar("support_admin_origin", default="")
# Why the service refused the company the add form described, while that form is shown again.
_refusal: ContextVar[ValidationError | None] = ContextVar("support_admin_refusal", default=None)


class _CreationRefused(Exception):
    """company_create refused a company whose form was valid: some refusals are known only
    by trying (a deleted company's schema left behind, the same slug created meanwhile)."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(error)
        self.error = error


def actor_of(request: HttpRequest) -> str:
    user = request.user
    return getattr(user, "email", "") or "unknown staff"


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class SeatLevelFilter(admin.SimpleListFilter):
    """Companies by their seat level now (directory.seat_check.seat_level_now, in the
    query), not by the hourly check's reading, which lags behind every SCIM write."""

    title = "seat level"
    # The parameter of the stored field's former filter: a bookmark of it must reach this
    # filter, not filter on the stored reading silently.
    parameter_name = "seat_level__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Company.SeatLevel.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Company]) -> QuerySet[Company]:
        if self.value() not in Company.SeatLevel.values:
            return queryset
        return queryset.alias(level_now=seat_level_now()).filter(level_now=self.value())


class CompanyEventInline(admin.TabularInline):
    model = CompanyEvent
    fields = ("created_at", "action", "actor", "what")
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

    @admin.display(description="What")
    def what(self, event: CompanyEvent) -> str:
        return history.describe(event.action, event.detail)


def _event_prefix(event: CredentialEvent) -> str:
    """The secret's prefix when `event` happened, as the portal's trail shows it."""
    if event.display_prefix:
        return f"{event.display_prefix}…"
    if event.credential.display_prefix:
        return "an earlier secret, its prefix not recorded"
    # OAuth connections have no fixed secret to show the start of.
    return event.credential.get_kind_display()


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "scim_on",
        "seats",
        "current_seat_level",
        "status",
        "created_at",
    )
    list_display_links = ("name", "slug")
    list_filter = ("scim_enabled", "status", SeatLevelFilter, "created_at")
    search_fields = ("slug", "name")
    ordering = ("slug",)
    list_per_page = 50
    show_full_result_count = False
    actions = ["enable_scim", "disable_scim", "release_brake", "confirm_deprovisioning"]
    inlines = [CompanyEventInline]

    class Media:
        js = ("js/slug_urls.js",)

    add_fields = ("slug", "name", "seat_limit", "scim_enabled")
    change_fields = (
        "slug",
        "name",
        "status",
        "seat_limit",
        "seats_used",
        "scim_enabled",
        "change_reason",
        "change_confirmed",
        "portal_login_list",
        "username_immutable",
        "username_is_work_email",
        "attribute_allowlist",
        "scim_strict",
        "scim_delete_action",
        "scim_rate_limit",
        "deprovision_brake_percent",
        "deprovision_brake_minimum",
        "deprovision_brake_window_minutes",
        "deprovisioning_brake",
        "seat_waitlist",
        "scim_changed_by",
        "scim_changed_at",
        "company_urls",
        "current_seat_level",
        "seats_recounted_at",
        "recent_failures",
        "credential_activity",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Company]:
        return Company.objects.customers()

    def get_fields(self, request: HttpRequest, obj: Company | None = None) -> tuple[str, ...]:
        return self.change_fields if obj else self.add_fields

    def get_form(
        self, request: HttpRequest, obj: Company | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = CompanyChangeForm if obj is not None else CompanyAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            cast(type[CompanyAddForm], form).refusal = _refusal.get()
            origin = site_origin(request)
            # static/js/slug_urls.js fills in the slug as it is typed.
            form.base_fields["slug"].help_text = format_html(
                "Lowercase letters, digits and hyphens; it cannot change later. The company's "
                'portal will be <code>{}/t/<span class="slug-echo">&lt;slug&gt;</span>/</code> '
                'and its SCIM base URL <code>{}/t/<span class="slug-echo">&lt;slug&gt;</span>'
                "/scim/v2</code>.",
                origin,
                origin,
            )
        return form

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        token = _origin.set(site_origin(request))
        try:
            try:
                response = super().changeform_view(request, object_id, form_url, extra_context)
            except _CreationRefused as refused:
                # The attempt's transaction is rolled back; the same post again shows the
                # form with the service's message (CompanyAddForm.refusal) instead of a 500.
                refusal = _refusal.set(refused.error)
                try:
                    response = super().changeform_view(request, object_id, form_url, extra_context)
                finally:
                    _refusal.reset(refusal)
            if isinstance(response, TemplateResponse):
                response.render()  # read-only fields read the origin while rendering
            return response
        finally:
            _origin.reset(token)

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
                "current_seat_level",
                "seats_recounted_at",
                "recent_failures",
                "credential_activity",
                "portal_login_list",
                "deprovisioning_brake",
                "seat_waitlist",
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
            try:
                created = company_create(
                    slug=data["slug"],
                    name=data["name"],
                    seat_limit=data.get("seat_limit"),
                    scim_enabled=bool(data.get("scim_enabled"))
                    and self.has_switch_scim_permission(request),
                    actor=actor,
                )
            except ValidationError as error:
                raise _CreationRefused(error) from error
            obj.pk = created.pk
            obj.schema_name = created.schema_name
            return
        current = Company.objects.get(pk=obj.pk)
        company_update_settings(
            company=current,
            actor=actor,
            name=data.get("name"),
            status=data.get("status"),
            policies={field: data[field] for field in POLICY_FIELDS if field in data},
            reason=data.get("change_reason", ""),
        )
        if data.get("seat_limit") != current.seat_limit:
            # Through the directory, so the people waiting for seats are provisioned.
            drained = seat_limit_set(
                company=current,
                limit=data.get("seat_limit"),
                actor=actor,
                reason=data.get("change_reason", ""),
            )
            if drained.anyone:
                self.message_user(request, f"Seat waitlist: {drained.describe()}", messages.INFO)
        if "scim_enabled" in form.changed_data and self.has_switch_scim_permission(request):
            company_set_scim(
                company=current,
                enabled=bool(data["scim_enabled"]),
                actor=actor,
                reason=data.get("change_reason", ""),
            )

    @admin.display(description="SCIM", boolean=True, ordering="scim_enabled")
    def scim_on(self, obj: Company) -> bool:
        return obj.scim_enabled

    @admin.display(description="Seats used / limit", ordering="seats_used")
    def seats(self, obj: Company) -> str:
        return obj.seats_display

    @admin.display(description="Seat level")
    def current_seat_level(self, obj: Company) -> str:
        # From the seats as they are now, as the portal's Overview shows them.
        return Company.SeatLevel(seat_level(obj.seats_used, obj.seat_limit)).label

    @admin.display(description="Seats last recounted (hourly seat check)")
    def seats_recounted_at(self, obj: Company) -> str:
        if obj.seats_checked_at is None:
            return "Not yet."
        return f"{obj.seats_checked_at:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="URLs")
    def company_urls(self, obj: Company) -> str:
        origin = _origin.get()
        return format_html(
            'Portal: <a href="{0}">{0}</a><br>SCIM base URL: <code>{1}</code>',
            origin + obj.portal_path,
            origin + obj.scim_base_path,
        )

    @admin.display(description="Portal logins")
    def portal_login_list(self, obj: Company) -> str:
        logins = portal_logins(obj)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    login.email,
                    login.role_label,
                    "invited" if login.invited else ("on" if login.active else "off"),
                )
                for login in logins
            ),
        )
        return format_html(
            '<table><tr><th>Email</th><th>Role</th><th>Login</th></tr>{}</table><a href="{}">'
            "Invite and manage portal logins</a>",
            rows,
            reverse("admin:tenants_company_portal_logins", args=[obj.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:company_id>/portal-logins/",
                self.admin_site.admin_view(self.portal_logins_view),
                name="tenants_company_portal_logins",
            )
        ]
        return own + super().get_urls()

    def portal_logins_view(self, request: HttpRequest, company_id: int) -> HttpResponse:
        """List a company's portal logins; invite one (POST action=invite) or change one's
        role or login (POST action=change). Each POST redirects back with a message."""
        company = Company.objects.customers().filter(pk=company_id).first()
        if company is None:
            raise Http404("No such company.")
        if not self.has_change_permission(request, company):
            raise PermissionDenied
        invite = InviteForm(request.POST if request.POST.get("action") == "invite" else None)
        if request.method == "POST" and not (invite.is_bound and not invite.is_valid()):
            try:
                self._portal_login_post(request, company, invite)
            except ValidationError as error:
                self.message_user(request, _error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "company": company,
            "title": f"Portal logins of {company.name}",
            "logins": portal_logins(company),
            "invite": invite,
            "roles": LoginChangeForm.base_fields["role"].choices,  # type: ignore[attr-defined]
        }
        return TemplateResponse(request, "admin/portal_logins.html", context)

    def _portal_login_post(
        self, request: HttpRequest, company: Company, invite: InviteForm
    ) -> None:
        if invite.is_bound:  # validated by the caller
            email = portal_login_invite(
                company=company,
                email=invite.cleaned_data["email"],
                role=invite.cleaned_data["role"],
                origin=site_origin(request),
                actor=actor_of(request),
            )
            self.message_user(request, f"Invitation sent to {email}.", messages.SUCCESS)
            return
        change = LoginChangeForm(request.POST)
        if not change.is_valid():
            raise ValidationError("Choose a role or a login state.")
        try:
            user = portal_login_update(
                company=company,
                user_id=change.cleaned_data["user_id"],
                actor=actor_of(request),
                role=change.cleaned_data["role"] or None,
                active=change.cleaned_data["active"],
            )
        except User.DoesNotExist:
            raise ValidationError("No such login in this company.") from None
        state = "on" if user.is_active else "off"
        self.message_user(
            request,
            f"{user.email}: {user.get_role_display()}, login {state}.",
            messages.SUCCESS,
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
                    _event_prefix(event),
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

    @admin.display(description="Deprovisioning brake")
    def deprovisioning_brake(self, obj: Company) -> str:
        """Whether the brake holds deactivations and deletions now, and the window's count."""
        if obj.deprovision_held_since is not None:
            with schema_context(obj.schema_name):
                held = ProvisioningEvent.objects.filter(
                    outcome=ProvisioningEvent.Outcome.HELD,
                    created_at__gte=obj.deprovision_held_since,
                ).count()
            return format_html(
                "<strong>Tripped</strong> at {} UTC: {} held request(s). Use the list's "
                "actions to release the brake or confirm the deprovisioning.",
                f"{obj.deprovision_held_since:%Y-%m-%d %H:%M}",
                held,
            )
        if obj.deprovision_brake_percent == 0:
            return "Off."
        return format_html(
            "Not tripped; {} deprovisioned in the current window.", obj.deprovision_window_count
        )

    @admin.display(description="Seat waitlist")
    def seat_waitlist(self, obj: Company) -> str:
        with schema_context(obj.schema_name):
            waiting = WaitlistEntry.objects.count()
            first = list(WaitlistEntry.objects.order_by("created_at", "id")[:10])
        if not waiting:
            return "Nobody is waiting."
        rows = format_html_join(
            "",
            "<li>{} ({}, since {})</li>",
            ((e.user_name, e.operation, f"{e.created_at:%Y-%m-%d %H:%M}") for e in first),
        )
        return format_html(
            "<p>{} waiting; raising the seat limit provisions them, oldest first.</p><ol>{}</ol>",
            waiting,
            rows,
        )

    @admin.action(
        description="Release the deprovisioning brake (held requests go through)",
        permissions=["change"],
    )
    def release_brake(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        self._brake(request, queryset, confirmed=False)

    @admin.action(
        description="Confirm the held deprovisioning (and release the brake)",
        permissions=["change"],
    )
    def confirm_deprovisioning(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        self._brake(request, queryset, confirmed=True)

    def _brake(self, request: HttpRequest, queryset: QuerySet[Company], *, confirmed: bool) -> None:
        actor = actor_of(request)
        released = [
            company.slug
            for company in queryset
            if brake_release(company=company, actor=actor, confirmed=confirmed) is not None
        ]
        self.message_user(
            request,
            f"Deprovisioning brake {'confirmed' if confirmed else 'released'} for "
            f"{len(released)} company(ies): {', '.join(released) or 'none was tripped'}.",
            messages.SUCCESS,
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
    def disable_scim(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> TemplateResponse | None:
        """Asks first: a page naming the companies, a reason and a confirmation; switches
        them off when that page is posted back complete."""
        form = ScimOffForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            self._switch(request, queryset, enabled=False, reason=form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Switch SCIM provisioning off?",
            "companies": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/scim_off_confirm.html", context)

    def _switch(
        self, request: HttpRequest, queryset: QuerySet[Company], *, enabled: bool, reason: str = ""
    ) -> None:
        actor = actor_of(request)
        changed = sum(
            company_set_scim(company=company, enabled=enabled, actor=actor, reason=reason)
            for company in queryset
        )
        state = "on" if enabled else "off"
        self.message_user(
            request,
            f"SCIM provisioning switched {state} for {changed} company(ies).",
            messages.SUCCESS,
        )
