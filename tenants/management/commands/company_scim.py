from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.management.commands._support import command_actor, get_company, validation_message
from tenants.services import company_set_scim


class Command(BaseCommand):
    help = "Switch SCIM provisioning on or off for a company (takes effect on the next request)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--slug", required=True, help="the company's slug, e.g. acme")
        switch = parser.add_mutually_exclusive_group(required=True)
        switch.add_argument(
            "--enable",
            action="store_true",
            help="switch SCIM provisioning on: the company's identity provider is served, "
            "its admins can create credentials",
        )
        switch.add_argument(
            "--disable",
            action="store_true",
            help="switch SCIM provisioning off: every request of its identity provider is "
            "refused (403); needs --reason",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="why, kept in the company's history; required with --disable, as in the admin",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = get_company(options["slug"])
        enabled = bool(options["enable"])
        try:
            changed = company_set_scim(
                company=company,
                enabled=enabled,
                actor=command_actor("company_scim"),
                reason=options["reason"],
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        state = "on" if enabled else "off"
        if changed:
            self.stdout.write(f"SCIM provisioning switched {state} for {company.slug}.")
        else:
            self.stdout.write(f"SCIM provisioning was already {state} for {company.slug}.")
