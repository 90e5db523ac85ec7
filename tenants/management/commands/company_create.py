from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.management.commands._support import command_actor, validation_message
from tenants.services import InitialAdmin, company_create


def non_negative_int(raw: str) -> int:
    if not raw.isdigit():
        raise ArgumentTypeError(f"expected a whole number of seats, 0 or more; got {raw!r}")
    return int(raw)


class Command(BaseCommand):
    help = "Create a company: its schema, its URLs and, optionally, its first owner."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--slug", required=True, help="URL name, e.g. acme (→ /t/acme/)")
        parser.add_argument("--name", required=True, help='Display name, e.g. "Acme Inc"')
        parser.add_argument(
            "--seats",
            type=non_negative_int,
            default=None,
            help="Seat limit (active users); omit for unlimited",
        )
        parser.add_argument(
            "--scim-enabled", action="store_true", help="Switch SCIM provisioning on right away"
        )
        parser.add_argument(
            "--admin-email",
            help="email of the company's first portal login, an Owner (more logins: "
            "portal_user_add); needs --admin-password",
        )
        parser.add_argument(
            "--admin-password",
            help="that owner's password; needs --admin-email. "
            + " ".join(password_validators_help_texts()),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email, password = options["admin_email"], options["admin_password"]
        if bool(email) != bool(password):
            raise CommandError("--admin-email and --admin-password go together.")
        try:
            company = company_create(
                slug=options["slug"],
                name=options["name"],
                seat_limit=options["seats"],
                scim_enabled=options["scim_enabled"],
                admin=InitialAdmin(email=email, password=password) if email else None,
                actor=command_actor("company_create"),
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        self.stdout.write(
            f"Created {company.name} ({company.slug}): portal {company.portal_path}, "
            f"SCIM base URL {company.scim_base_path}, "
            f"SCIM {'on' if company.scim_enabled else 'off'}, seats {company.seats_display}."
        )
