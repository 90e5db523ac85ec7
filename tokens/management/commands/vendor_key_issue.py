"""Issue a vendor API key (/api/v1/) from the command line, for automation.

stdout carries only the secret, so it can be captured:
    KEY=$(python manage.py vendor_key_issue --name "Billing backend")
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from tenants.management.commands._support import command_actor, validation_message
from tokens.vendor_keys import vendor_key_issue


class Command(BaseCommand):
    help = "Issue a read-only vendor API key for /api/v1/; prints only the secret."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--name",
            required=True,
            help="who uses the key, e.g. the backend (at most 100 characters)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with schema_context("public"):
                issued = vendor_key_issue(
                    name=options["name"], actor=command_actor("vendor_key_issue")
                )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        self.stdout.write(issued.secret)
