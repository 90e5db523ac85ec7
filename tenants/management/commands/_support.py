"""Shared bits of the support-staff commands."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from tenants.models import Company


def command_actor(command_name: str) -> str:
    return f"command:{command_name}"


def validation_message(error: ValidationError) -> str:
    return " ".join(error.messages)


def get_company(slug: str) -> Company:
    try:
        return Company.objects.customers().get(slug=slug)
    except Company.DoesNotExist:
        raise CommandError(
            f'No company with the slug "{slug}". See `manage.py company_list`.'
        ) from None
