"""`manage.py company_list [--json]`: every customer company with its SCIM state, seats and
status; --json adds, for automation, numbers and booleans and how many wait for a seat. Lives
in directory (not tenants, where the other company commands are) because the waitlist does."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand

from directory.waitlist import waitlist_counts
from tenants.models import Company

CHUNK = 2000


class Command(BaseCommand):
    help = "List companies: slug, name, SCIM on/off, seats used / limit, status."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="one JSON object per line: slug, name, status, scimEnabled (true/false), "
            "seatsUsed, seatLimit (null: unlimited), waiting (people on the seat waitlist), "
            'and the table\'s texts as "scim" and "seats"',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["json"]:
            for row in self._rows(waiting=True):
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
        for row in self._rows(waiting=False):
            self.stdout.write(self._line(row))

    def _rows(self, *, waiting: bool) -> Iterator[dict[str, Any]]:
        companies = (
            Company.objects.customers()
            .order_by("slug")
            .only(
                "slug", "name", "schema_name", "scim_enabled", "seats_used", "seat_limit", "status"
            )
        )
        chunk: list[Company] = []
        for company in companies.iterator(chunk_size=CHUNK):
            chunk.append(company)
            if len(chunk) == CHUNK:
                yield from self._chunk_rows(chunk, waiting=waiting)
                chunk = []
        yield from self._chunk_rows(chunk, waiting=waiting)

    @staticmethod
    def _chunk_rows(chunk: list[Company], *, waiting: bool) -> Iterator[dict[str, Any]]:
        # One statement per chunk for the waitlists, not one per company schema.
        counts = waitlist_counts([c.schema_name for c in chunk]) if waiting and chunk else {}
        for c in chunk:
            row: dict[str, Any] = {
                "slug": c.slug,
                "name": c.name,
                "scim": "on" if c.scim_enabled else "off",
                "seats": c.seats_display,
                "status": c.status,
            }
            if waiting:
                row |= {
                    "scimEnabled": c.scim_enabled,
                    "seatsUsed": c.seats_used,
                    "seatLimit": c.seat_limit,
                    "waiting": counts.get(c.schema_name, 0),
                }
            yield row

    @staticmethod
    def _line(row: dict[str, Any]) -> str:
        name = row["name"][:40]
        return f"{row['slug']:<40} {name:<40} {row['scim']:<4} {row['seats']:<20} {row['status']}"
