"""Issue a SCIM credential from the command line, for automation.

stdout carries only the secret (or `username:secret` with --basic), so it can be captured:
    TOKEN=$(python manage.py token_issue --company acme --name "Okta prod")
    READER=$(python manage.py token_issue --company acme --name "Audit" --read-only)
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from tenants.management.commands._support import command_actor, get_company, validation_message
from tokens.models import Credential
from tokens.services import CredentialsLocked, basic_issue, token_issue


class Command(BaseCommand):
    help = "Issue a Bearer token (or Basic credentials) for a company; prints only the secret."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--company", required=True, help="company slug")
        parser.add_argument(
            "--name",
            required=True,
            help="token name (at most 100 characters), unique among active tokens (with "
            "--basic, the pair's note: a company has one Basic pair, named Basic credentials)",
        )
        parser.add_argument(
            "--note",
            default="",
            help="a note shown with the token on Access rights (at most 1,000 characters)",
        )
        parser.add_argument("--basic", action="store_true", help="issue Basic credentials instead")
        parser.add_argument(
            "--read-only",
            action="store_true",
            help="a token that may only read (GET, POST …/.search); writes get 403",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = get_company(options["company"])
        actor = command_actor("token_issue")
        if options["basic"] and options["read_only"]:
            raise CommandError("--read-only applies to Bearer tokens, not --basic credentials.")
        try:
            with schema_context(company.schema_name):
                if options["basic"]:
                    issued = basic_issue(
                        company=company, note=options["note"] or options["name"], actor=actor
                    )
                    self.stdout.write(issued.basic_pair)
                else:
                    issued = token_issue(
                        company=company,
                        name=options["name"],
                        note=options["note"],
                        actor=actor,
                        scope=(
                            Credential.Scope.READ_ONLY
                            if options["read_only"]
                            else Credential.Scope.FULL
                        ),
                    )
                    self.stdout.write(issued.secret)
        except CredentialsLocked as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
