"""Give someone a login to a company's portal (support staff, or automation)."""

from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from tenants.management.commands._support import command_actor, get_company, validation_message
from tenants.portal_users import portal_login_add


class Command(BaseCommand):
    help = "Create a portal login (owner, admin or viewer) in a company."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--company", required=True, help="company slug")
        parser.add_argument(
            "--email",
            required=True,
            help="their email, which they sign in with (at most 254 characters)",
        )
        parser.add_argument(
            "--role",
            choices=User.Role.values,
            default=User.Role.ADMIN,
            help="owner and admin manage credentials and logins, viewer only reads "
            "(default: admin)",
        )
        parser.add_argument("--name", default="", help="full name (at most 200 characters)")
        parser.add_argument(
            "--password", help="initial password; omitted: a random one they must reset by email"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = get_company(options["company"])
        password = options["password"] or secrets.token_urlsafe(24)
        try:
            user = portal_login_add(
                company=company,
                email=options["email"],
                password=password,
                role=options["role"],
                full_name=options["name"],
                actor=command_actor("portal_user_add"),
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        hint = "" if options["password"] else " They set a password via 'Forgot your password?'."
        self.stdout.write(
            f"{user.email} can sign in at {company.portal_path} as {user.get_role_display()}.{hint}"
        )
