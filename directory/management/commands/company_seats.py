"""`manage.py company_seats --slug S (--limit N | --unlimited)`: change a company's seat limit
through the service the support admin uses, so people on the seat waitlist who now fit are
provisioned at once. Lives in directory (not tenants, where the other company commands are)
because the waitlist does."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from directory.services import seat_limit_set
from tenants.management.commands._support import command_actor, get_company, validation_message


class Command(BaseCommand):
    help = (
        "Change a company's seat limit (or make it unlimited); people on its seat waitlist "
        "who now fit are provisioned, oldest first. Recorded in the company's history."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--slug", required=True, help="the company's slug, e.g. acme")
        limit = parser.add_mutually_exclusive_group(required=True)
        limit.add_argument("--limit", type=int, help="Active users allowed (0 or more).")
        limit.add_argument("--unlimited", action="store_true", help="No seat limit.")

    def handle(self, *args: Any, **options: Any) -> None:
        company = get_company(options["slug"])
        limit: int | None = None if options["unlimited"] else options["limit"]
        before = "unlimited" if company.seat_limit is None else str(company.seat_limit)
        try:
            drained = seat_limit_set(
                company=company, limit=limit, actor=command_actor("company_seats")
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        after = "unlimited" if limit is None else str(limit)
        self.stdout.write(
            f"Seat limit of {company.slug}: {before} -> {after}. {drained.describe()}"
        )
