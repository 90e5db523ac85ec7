from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from tenants.models import Company


class Command(BaseCommand):
    help = "List companies: slug, name, SCIM on/off, seats used / limit, status."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object per line")

    def handle(self, *args: Any, **options: Any) -> None:
        companies = (
            Company.objects.customers()
            .order_by("slug")
            .only("slug", "name", "scim_enabled", "seats_used", "seat_limit", "status")
        )
        rows = (
            {
                "slug": c.slug,
                "name": c.name,
                "scim": "on" if c.scim_enabled else "off",
                "seats": c.seats_display,
                "status": c.status,
            }
            for c in companies.iterator(chunk_size=2000)
        )
        if options["json"]:
            for row in rows:
                self.stdout.write(json.dumps(row))
            return
        header = {
            "slug": "SLUG",
            "name": "NAME",
            "scim": "SCIM",
            "seats": "SEATS",
            "status": "STATUS",
        }
        self.stdout.write(self._line(header))
        for row in rows:
            self.stdout.write(self._line(row))

    @staticmethod
    def _line(row: dict[str, str]) -> str:
        name = row["name"][:40]
        return f"{row['slug']:<40} {name:<40} {row['scim']:<4} {row['seats']:<20} {row['status']}"
