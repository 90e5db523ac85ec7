from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from provisioning_ui.guides import GUIDE_SLUGS
from provisioning_ui.guides.markdown import docs_path, render_docs


class Command(BaseCommand):
    help = (
        "Write docs/connect-<idp>.md from the set-up guides in provisioning_ui/guides/ "
        "(the portal renders the same files), or with --check say which docs are stale."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; fail if a doc is out of date"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stale = []
        for slug in GUIDE_SLUGS:
            path, text = docs_path(slug), render_docs(slug)
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            stale.append(path.name)
            if not options["check"]:
                path.write_text(text, encoding="utf-8")
                self.stdout.write(f"wrote {path}")
        if options["check"] and stale:
            raise CommandError(
                f"out of date: {', '.join(stale)}; run `make docs` and commit the result"
            )
