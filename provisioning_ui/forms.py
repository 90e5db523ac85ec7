from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

EXPIRY_CHOICES = [
    ("", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("180", "In 180 days"),
    ("365", "In 1 year"),
]


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text='A name that makes sense to you, e.g. "Okta production".',
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    note = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: what this token is for, who set it up.",
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    scope = forms.ChoiceField(
        choices=[
            ("full", "Full access: provision users and groups"),
            ("read", "Read-only: list and search users and groups (GET, .search) only"),
        ],
        initial="full",
        required=False,
        widget=forms.RadioSelect,
        label="Access",
    )

    def clean_scope(self) -> str:
        # An older form posted without the field keeps the default.
        return str(self.cleaned_data.get("scope") or "full")

    def expires_at(self) -> dt.datetime | None:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + dt.timedelta(days=int(days)) if days else None


class BasicForm(forms.Form):
    note = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
