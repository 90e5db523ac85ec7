"""`manage.py webhook_add --url URL [--company slug] [--events a,b] [--format set]`: register
a webhook endpoint and print its signing secret (shown this once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.outbox import EventType
from tenants.management.commands._support import command_actor
from tenants.models import Company
from webhooks.models import WebhookEndpoint
from webhooks.services import WebhookError, endpoint_add


class Command(BaseCommand):
    help = "Register a webhook endpoint; prints its whsec_ signing secret once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            required=True,
            help="the receiver: https:// (http:// only in development), a public address, at "
            "most 2000 characters",
        )
        parser.add_argument("--company", help="A company's slug (default: all companies).")
        parser.add_argument(
            "--events",
            default="",
            help=f"Event types, comma-separated (default: all): {', '.join(EventType.ALL)}.",
        )
        parser.add_argument(
            "--format",
            default="standard",
            choices=list(WebhookEndpoint.Format.values),
            help="standard: Standard Webhooks JSON; set: RFC 9967 Security Event Tokens.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = None
        if options["company"]:
            company = Company.objects.customers().filter(slug=options["company"]).first()
            if company is None:
                raise CommandError(f"No company with the slug {options['company']!r}.")
        events = [kind.strip() for kind in options["events"].split(",") if kind.strip()]
        try:
            issued = endpoint_add(
                url=options["url"],
                company=company,
                event_types=events,
                format=options["format"],
                actor=command_actor("webhook_add"),
            )
        except WebhookError as error:
            raise CommandError(str(error)) from error
        self.stderr.write(f"Endpoint {issued.endpoint.pk} added. Its signing secret (shown once):")
        self.stdout.write(issued.secret)
