"""Development bootstrap used by `make run`: a support-staff superuser and a demo company.

Idempotent. Generated passwords are written to a local credentials file (development only,
under .data/, never committed) so that every `make run` can print the logins again.
"""

from __future__ import annotations

import json
import secrets
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from accounts.models import User
from tenants.management.commands._support import command_actor
from tenants.models import Company
from tenants.services import InitialAdmin, company_create

SUPPORT_EMAIL = "support@headcount.localhost"
DEMO_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.example"


class Command(BaseCommand):
    help = "Create the development support superuser and the demo company (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--credentials-file", default=".data/dev-credentials.json")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["credentials_file"])
        saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

        if not User.objects.filter(email=SUPPORT_EMAIL).exists():
            saved["support_password"] = secrets.token_urlsafe(12)
            User.objects.create_superuser(SUPPORT_EMAIL, saved["support_password"])
        if not Company.objects.filter(slug=DEMO_SLUG).exists():
            saved["demo_admin_password"] = secrets.token_urlsafe(12)
            company_create(
                slug=DEMO_SLUG,
                name="Demo Company",
                scim_enabled=True,
                admin=InitialAdmin(email=DEMO_ADMIN_EMAIL, password=saved["demo_admin_password"]),
                actor=command_actor("dev_bootstrap"),
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)

        unknown = "(set before this credentials file existed)"
        self.stdout.write(
            json.dumps(
                {
                    "support_email": SUPPORT_EMAIL,
                    "support_password": saved.get("support_password", unknown),
                    "demo_slug": DEMO_SLUG,
                    "demo_admin_email": DEMO_ADMIN_EMAIL,
                    "demo_admin_password": saved.get("demo_admin_password", unknown),
                }
            )
        )
