"""`.env.example` is where whoever deploys Headcount learns its settings (docs/operations.md,
"Deploying": "`.env.example` lists every one"): every variable the product reads from the
environment is named there, with what it does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [
    "accounts", "config", "directory", "events", "infra", "provisioning_ui", "scim",
    "scim_protocol", "support_admin", "tenants", "tokens", "vendor_api", "webhooks",
]  # fmt: skip
# os.environ.get("X"…), os.environ["X"], os.getenv("X"…), and settings' env_bool/env_list("X"…).
READ = re.compile(
    r"""(?:os\.environ\.get\(|os\.environ\[|os\.getenv\(|env_bool\(|env_list\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def read_from_the_environment() -> set[str]:
    names: set[str] = set()
    for package in PRODUCT:
        for source in (ROOT / package).rglob("*.py"):
            names.update(READ.findall(source.read_text()))
    return names


def test_every_variable_the_product_reads_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    read = read_from_the_environment()

    assert {"SECRET_KEY", "DATABASE_URL", "WEBHOOK_KICK_SECONDS"} <= read  # the scan works
    assert read - listed == set()
