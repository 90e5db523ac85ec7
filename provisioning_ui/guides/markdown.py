"""A guide as Markdown, for docs/connect-<slug>.md, with the example company's values."""

from __future__ import annotations

from pathlib import Path

from provisioning_ui.guides import GUIDE_DIR, Block, Guide, guide

EXAMPLE_ORIGIN = "https://headcount.example.com"
EXAMPLE_PORTAL = f"{EXAMPLE_ORIGIN}/t/acme/"
EXAMPLE_VALUES = {
    "company": "your company",
    "scim_base_url": f"{EXAMPLE_PORTAL}scim/v2",
    "oauth_authorize_url": f"{EXAMPLE_PORTAL}oauth/authorize",
    "oauth_token_url": f"{EXAMPLE_PORTAL}oauth/token",
    "oauth_revoke_url": f"{EXAMPLE_PORTAL}oauth/revoke",
    "oauth_metadata_url": f"{EXAMPLE_ORIGIN}/.well-known/oauth-authorization-server/t/acme/oauth",
    "attributes_kept": "every attribute of the SCIM core and enterprise User schemas, unless "
    "support set an allow-list for your company (the Overview's **SCIM policies** lists it)",
    "attributes_remove": "`password` (Headcount never stores passwords), and anything outside "
    "your company's allow-list if it has one (it would be ignored)",
    "username_policy": "the Overview's **SCIM policies** says whether userName may change and "
    "whether it must be the primary work email.",
}

CREDENTIAL_BUTTON = {"token": "Generate token", "basic": "Generate Basic credentials"}


def docs_path(slug: str) -> Path:
    return GUIDE_DIR.parents[1] / "docs" / f"connect-{slug}.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _block(block: Block, slug: str) -> str:
    if block.kind == "text":
        return block.text
    if block.kind == "list":
        return "\n".join(f"- {item}" for item in block.items)
    if block.kind == "steps":
        return "\n".join(f"{n}. {item}" for n, item in enumerate(block.items, 1))
    if block.kind == "code":
        return f"```{block.language}\n{block.text}\n```"
    if block.kind == "credential":
        button = CREDENTIAL_BUTTON[block.credential or "token"]
        return (
            f"{block.text} In the portal this step has the **{button}** button "
            f"(**Set up → {guide(slug).idp}**); it is also on **Access rights**."
        )
    head = f"| {_cell(block.head[0])} | {_cell(block.head[1])} |\n|---|---|"
    rows = [
        f"| {_cell(row.label)} | {_cell(f'`{row.value}`' if row.copy else row.value)} |"
        for row in block.rows
    ]
    return "\n".join([head, *rows])


def render(filled: Guide) -> str:
    """`filled` (a guide whose placeholders are replaced) as a Markdown document."""
    parts = [
        f"<!-- Generated from provisioning_ui/guides/{filled.slug}.toml by `make docs`: "
        "edit that file, not this one. -->",
        f"# {filled.title}",
        filled.summary,
        f"> The values below are the example company **acme** at `{EXAMPLE_ORIGIN}`. Your "
        f"portal shows this guide with your own values and Copy buttons: **Set up → "
        f"{filled.idp}** (`https://<headcount-host>/t/<your-company>/setup/{filled.slug}/`).",
    ]
    for section in filled.sections:
        parts.append(f"## {section.title}")
        parts.extend(_block(block, filled.slug) for block in section.blocks)
    return "\n\n".join(parts) + "\n"


def render_docs(slug: str) -> str:
    return render(guide(slug).filled(EXAMPLE_VALUES))
