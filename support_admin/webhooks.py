"""Support staff's webhook endpoints: register one (its signing secret is shown once), choose
event types, rotate the secret, read each endpoint's delivery log with a "resend" action, and
its company streams with a "resume" action for a paused one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from tenants.models import Company
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    WebhookError,
    delivery_resend,
    endpoint_add,
    endpoint_update,
    event_types_check,
    secret_rotate,
    stream_resume,
    url_check,
)


def _actor(request: HttpRequest) -> str:
    return getattr(request.user, "email", "") or "unknown staff"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEndpoint.type_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "company", "event_types", "format", "enabled"]
        help_texts = {"company": "Empty: every company's events."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "company" in self.fields:
            self.fields["company"].queryset = Company.objects.customers().order_by("slug")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            if data.get("url"):
                url_check(data["url"])
            event_types_check(data.get("event_types") or [])
        except WebhookError as error:
            raise forms.ValidationError(str(error)) from error
        return data


class _Recorded:
    """Rows the delivery machinery writes: support reads them and acts through actions only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "url",
        "company",
        "format",
        "enabled",
        "failing_since",
        "disabled_at",
        "log",
        "streams",
    ]
    list_filter = ["enabled", "format"]
    search_fields = ["url"]
    actions = ["rotate_secret"]
    readonly_fields = [
        "created_at",
        "created_by",
        "failing_since",
        "disabled_at",
        "disabled_reason",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = ("url", "company", "event_types", "format", "enabled")
        return fields if obj is None else (*fields, *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The company is fixed once created: its cursors start where the endpoint did.
        return () if obj is None else ("company", *self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: the delivery log stays

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        paused = (
            WebhookCursor.objects.filter(endpoint=OuterRef("pk"), paused_at__isnull=False)
            .values("endpoint")
            .annotate(n=Count("*"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(paused_streams=Coalesce(Subquery(paused, output_field=IntegerField()), 0))
        )

    @admin.display(description="Company streams")
    def streams(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:webhooks_webhookcursor_changelist") + f"?endpoint__id__exact={obj.pk}"
        paused = getattr(obj, "paused_streams", 0)
        if paused:
            return format_html('<a href="{}"><strong>{} paused</strong></a>', url, paused)
        return format_html('<a href="{}">streams</a>', url)

    @admin.display(description="Delivery log")
    def log(self, obj: WebhookEndpoint) -> str:
        url = (
            reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        )
        return format_html('<a href="{}">deliveries</a>', url)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        try:
            if change:
                endpoint_update(
                    obj,
                    url=data["url"],
                    event_types=data["event_types"],
                    format=data["format"],
                    enabled=data["enabled"],
                )
                return
            issued = endpoint_add(
                url=data["url"],
                company=data["company"],
                event_types=data["event_types"],
                format=data["format"],
                actor=_actor(request),
            )
        except WebhookError as error:
            # clean() checked the URL; a DNS answer can change in between.
            messages.error(request, str(error))
            request.webhook_secret = None  # type: ignore[attr-defined]
            return
        obj.pk = issued.endpoint.pk
        obj.__dict__.update(
            {field.attname: getattr(issued.endpoint, field.attname) for field in obj._meta.fields}
        )
        request.webhook_secret = issued.secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(request, "webhook_secret", None)
        if secret is None:
            return HttpResponseRedirect(reverse("admin:webhooks_webhookendpoint_changelist"))
        return _secret_page(request, self, obj, secret)

    @admin.action(
        description="Rotate the signing secret (the old one stays valid for a grace period)",
        permissions=["change"],
    )
    def rotate_secret(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            messages.error(request, "Rotate one endpoint at a time: each new secret is shown once.")
            return None
        endpoint = queryset.get()
        return _secret_page(request, self, endpoint, secret_rotate(endpoint))


def _secret_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, endpoint: WebhookEndpoint, secret: str
) -> HttpResponse:
    response = TemplateResponse(
        request,
        "admin/webhook_secret.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": "Webhook signing secret",
            "endpoint": endpoint,
            "secret": secret,
            "opts": WebhookEndpoint._meta,
        },
    )
    add_never_cache_headers(response)
    return response


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_Recorded, admin.ModelAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "company",
        "seq",
        "event_type",
        "status",
        "note",
        "attempts",
        "response_status",
        "latency_ms",
        "short_excerpt",
        "next_attempt_at",
    ]
    list_filter = ["status"]
    list_select_related = ["endpoint"]
    ordering = ["-id"]
    list_per_page = 100
    show_full_result_count = False  # the log grows without bound: no COUNT(*) per page
    actions = ["resend"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        # Rows name the company's schema (events are per schema); support knows slugs.
        slug = Company.objects.filter(schema_name=OuterRef("schema_name")).values("slug")[:1]
        return super().get_queryset(request).annotate(company_slug=Subquery(slug))

    @admin.display(description="Company", ordering="schema_name")
    def company(self, obj: WebhookDelivery) -> str:
        # A company deleted since keeps its schema's name.
        return getattr(obj, "company_slug", None) or obj.schema_name

    @admin.display(description="Response")
    def short_excerpt(self, obj: WebhookDelivery) -> str:
        return obj.response_excerpt[:80]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # The log itself is read-only; resending is changing the endpoint's stream.
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.action(description="Resend the selected deliveries", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = 0
        for delivery in queryset.order_by("seq"):
            delivery_resend(delivery)
            count += 1
        messages.success(
            request,
            f"{count} delivery(ies) will be sent again within seconds (those of a disabled "
            "endpoint or a paused stream once it is enabled or resumed).",
        )


class _PausedFilter(admin.SimpleListFilter):
    title = "paused"
    parameter_name = "paused"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Paused"), ("no", "Flowing")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WebhookCursor]
    ) -> QuerySet[WebhookCursor]:
        if self.value() in ("yes", "no"):
            return queryset.filter(paused_at__isnull=self.value() == "no")
        return queryset


@admin.register(WebhookCursor)
class WebhookCursorAdmin(_Recorded, admin.ModelAdmin):
    """Each endpoint's company streams: how far each is delivered, since when it fails, and
    whether it is paused (an endpoint refusing one company's events while taking others')."""

    list_display = [
        "endpoint",
        "schema_name",
        "delivered_seq",
        "failing_since",
        "retry_at",
        "paused_at",
        "paused_reason",
    ]
    list_filter = [_PausedFilter]
    list_select_related = ["endpoint"]
    search_fields = ["schema_name"]
    ordering = ["endpoint_id", "schema_name"]
    list_per_page = 100
    show_full_result_count = False
    actions = ["resume"]

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.action(description="Resume the selected paused streams", permissions=["resume"])
    def resume(self, request: HttpRequest, queryset: QuerySet[WebhookCursor]) -> None:
        count = 0
        for cursor in queryset.filter(paused_at__isnull=False):
            stream_resume(cursor)
            count += 1
        messages.success(request, f"{count} stream(s) will be delivered again within seconds.")
