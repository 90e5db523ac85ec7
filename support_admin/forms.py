"""The support admin's forms: the company form (attribute allow-list as checkboxes from the
SCIM schema; a confirmation and a reason for the changes that hurt), the reason asked before
switching SCIM off from the list, and the portal-login forms."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from scim_protocol.schema import READ_ONLY, USER
from scim_protocol.user_input import ALWAYS_KEPT
from tenants.models import Company


def allowlist_choices() -> list[tuple[str, str]]:
    """Every User attribute a company may keep or drop, as the allow-list stores it: core
    attributes by name, extension attributes as "<schema URN>:<name>". Read-only ones (id,
    meta, groups), secrets (password) and the always-kept ones are not choices."""
    choices = []
    for schema in USER.schemas:
        extension = schema.id != USER.schema.id
        for attribute in schema.attributes:
            if (
                attribute.mutability == READ_ONLY
                or attribute.is_secret
                or attribute.name.lower() in ALWAYS_KEPT
            ):
                continue
            value = f"{schema.id}:{attribute.name}" if extension else attribute.name
            label = f"{attribute.name} (enterprise extension)" if extension else attribute.name
            choices.append((value, label))
    return choices


class CompanyAddForm(forms.ModelForm):
    """The add form of a company. `refusal`: why company_create refused this very post after
    the form had passed (the admin shows the form again with it)."""

    refusal: ValidationError | None = None

    class Meta:
        model = Company
        fields = ("slug",)  # the admin passes the rest (get_fields)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.refusal is not None:
            raise self.refusal
        return data


class CompanyChangeForm(forms.ModelForm):
    """The change form of a company."""

    attribute_allowlist = forms.MultipleChoiceField(
        label="Attributes kept",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Attributes the identity provider sends that are stored. None ticked: every "
        "attribute is kept. userName, externalId and active are always kept.",
    )
    change_reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to lower the seat limit below the seats in use, to suspend the "
        "company or to switch SCIM provisioning off; kept in the company's history.",
    )
    change_confirmed = forms.BooleanField(
        label="Save this change anyway",
        required=False,
        help_text="The change refuses the company's identity provider (see the message above): "
        "tick this and give a reason to save it.",
        # Shown only when the change needs it (clean).
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Company
        fields = ("attribute_allowlist",)  # the admin passes the rest (get_fields)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = allowlist_choices()
        allowlist = cast(forms.MultipleChoiceField, self.fields["attribute_allowlist"])
        allowlist.choices = choices
        # Stored names are compared case-insensitively (scim_protocol.user_input.policy_from).
        canonical = {value.lower(): value for value, _ in choices}
        stored = self.instance.attribute_allowlist or []
        self.initial["attribute_allowlist"] = [
            canonical.get(str(name).lower(), name) for name in stored
        ]

    def risky_changes(self, data: dict[str, Any]) -> list[str]:
        """What the submitted change would break, in words support reads before confirming."""
        company: Company = self.instance
        risks = []
        limit = data.get("seat_limit")
        if limit is not None and limit != company.seat_limit and limit < company.seats_used:
            risks.append(
                f"The new seat limit ({limit}) is below the {company.seats_used} seats in use: "
                f"{company.name}'s identity provider will be refused every user it creates or "
                "reactivates until enough users are deactivated."
            )
        if (
            data.get("status") == Company.Status.SUSPENDED
            and company.status != Company.Status.SUSPENDED
        ):
            risks.append(
                f"Suspending {company.name} refuses every request of its identity provider "
                "from now on (403), stops its admins from creating or rotating credentials, and "
                "tells them the company is suspended."
            )
        if "scim_enabled" in self.fields and company.scim_enabled and not data.get("scim_enabled"):
            risks.append(
                f"Switching SCIM provisioning off refuses every request of {company.name}'s "
                "identity provider from now on (403), and its admins cannot create credentials."
            )
        return risks

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        risks = self.risky_changes(data)
        if risks:
            self.fields["change_confirmed"].widget = forms.CheckboxInput()
        if risks and not (data.get("change_confirmed") and data.get("change_reason", "").strip()):
            raise ValidationError(
                [*risks, "Tick “Save this change anyway” and give a reason to save it."]
            )
        return data


class ScimOffForm(forms.Form):
    """The reason asked before switching SCIM off for the companies selected in the list."""

    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    confirmed = forms.BooleanField(label="Switch SCIM provisioning off for these companies")


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.ADMIN)


class LoginChangeForm(forms.Form):
    user_id = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(choices=User.Role.choices, required=False)
    active = forms.TypedChoiceField(
        choices=(("", "unchanged"), ("1", "on"), ("0", "off")),
        coerce=lambda value: value == "1",
        empty_value=None,
        required=False,
    )
