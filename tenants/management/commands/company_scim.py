from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from tenants.management.commands._support import command_actor, get_company
from tenants.services import company_set_scim


class Command(BaseCommand):
    help = "Switch SCIM provisioning on or off for a company (takes effect on the next request)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--slug", required=True)
        switch = parser.add_mutually_exclusive_group(required=True)
        switch.add_argument("--enable", action="store_true")
        switch.add_argument("--disable", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        company = get_company(options["slug"])
        enabled = bool(options["enable"])
        changed = company_set_scim(
            company=company, enabled=enabled, actor=command_actor("company_scim")
        )
        state = "on" if enabled else "off"
        if changed:
            self.stdout.write(f"SCIM provisioning switched {state} for {company.slug}.")
        else:
            self.stdout.write(f"SCIM provisioning was already {state} for {company.slug}.")
