from __future__ import annotations

import datetime as dt
from typing import Any

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
    """A token's name, note, expiry and access. Its ids start `token_` (field names stay), so
    it can share a page with the Basic credentials form, which has a note too."""

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "token_%s")
        super().__init__(*args, **kwargs)

    def clean_scope(self) -> str:
        # An older form posted without the field keeps the default.
        return str(self.cleaned_data.get("scope") or "full")

    def expires_at(self) -> dt.datetime | None:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + dt.timedelta(days=int(days)) if days else None


class BasicForm(forms.Form):
    """Basic credentials' note; ids start `basic_` (see TokenForm)."""

    note = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "basic_%s")
        super().__init__(*args, **kwargs)
