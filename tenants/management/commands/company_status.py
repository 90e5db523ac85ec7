from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.management.commands._support import command_actor, get_company, validation_message
from tenants.models import Company
from tenants.services import company_update_settings


class Command(BaseCommand):
    help = "Suspend a company, or make a suspended one active again (takes effect at once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--slug", required=True, help="the company's slug, e.g. acme")
        switch = parser.add_mutually_exclusive_group(required=True)
        switch.add_argument(
            "--suspend",
            action="store_true",
            help="refuse every request of the company's identity provider (403) and stop its "
            "admins from creating or rotating credentials; needs --reason",
        )
        switch.add_argument(
            "--activate",
            action="store_true",
            help="serve the company again as before it was suspended",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="why, kept in the company's history; required with --suspend, as in the admin",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = get_company(options["slug"])
        status = Company.Status.SUSPENDED if options["suspend"] else Company.Status.ACTIVE
        try:
            changed = company_update_settings(
                company=company,
                actor=command_actor("company_status"),
                status=status,
                reason=options["reason"],
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        if not changed:
            self.stdout.write(f"{company.slug} was already {status.label.lower()}.")
        elif options["suspend"]:
            self.stdout.write(
                f"{company.slug} suspended: its identity provider is refused (403) and its "
                "admins cannot create or rotate credentials."
            )
        else:
            self.stdout.write(f"{company.slug} is active again.")
