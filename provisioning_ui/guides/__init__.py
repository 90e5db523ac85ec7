"""Set-up guides, one per identity provider: `<slug>.toml` next to this module is the only copy
of the steps. The portal renders a guide with the company's own values (`setup.py`);
`manage.py render_guides` writes docs/connect-<slug>.md from the same file with the example
company's values (`markdown.py`), and a test fails when the committed docs differ.

A guide is a title, a one-paragraph summary and sections; a section is a list of blocks, each
a TOML table with one of these keys:

    text = "…"                        a paragraph
    list = ["…", …]                   bullets
    steps = ["…", …]                  numbered steps
    fields.head = ["IdP field", "value"]
    fields.rows = [{label = "…", value = "…", copy = true}, …]
                                      what to type where; `copy` values get a Copy button
    code = "…", language = "bash"     a code sample
    credential = "token" | "basic", name = "…", text = "…"
                                      the step that generates a credential: the portal puts
                                      the form (and the one-time reveal) here

Text may use `code`, **bold** and [links](https://…) and the placeholders in PLACEHOLDERS,
written `{name}`; other braces (`{id}`, `${H[@]}`) are left alone.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Literal

GUIDE_DIR = Path(__file__).resolve().parent

# Order matters: it is the order of the links on the Overview and Access rights.
GUIDE_SLUGS = ("okta", "entra", "other")

PLACEHOLDERS = frozenset(
    {
        "company",
        "scim_base_url",
        "oauth_authorize_url",
        "oauth_token_url",
        "oauth_revoke_url",
        "oauth_metadata_url",
        "attributes_kept",
        "attributes_remove",
        "username_policy",
    }
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

BlockKind = Literal["text", "list", "steps", "fields", "code", "credential"]
CredentialKind = Literal["token", "basic"]
BLOCK_KEYS = ("text", "list", "steps", "fields", "code", "credential")


class GuideError(ValueError):
    """A guide file does not follow the format above; the message names the file and block."""


@dataclass(frozen=True)
class FieldRow:
    label: str
    value: str
    copy: bool = False


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str = ""
    items: tuple[str, ...] = ()
    head: tuple[str, str] = ("", "")
    rows: tuple[FieldRow, ...] = ()
    language: str = ""
    credential: CredentialKind | None = None
    name: str = ""  # the credential's suggested name


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Guide:
    slug: str
    idp: str
    title: str
    summary: str
    sections: tuple[Section, ...] = field(default=())

    def filled(self, values: Mapping[str, str]) -> Guide:
        """The guide with every placeholder replaced by `values` (which must name them all)."""
        missing = PLACEHOLDERS - values.keys()
        if missing:
            raise KeyError(f"no value for {sorted(missing)}")

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m[1]] if m[1] in PLACEHOLDERS else m[0], text)

        def fill_block(block: Block) -> Block:
            return replace(
                block,
                text=fill(block.text),
                items=tuple(fill(item) for item in block.items),
                rows=tuple(
                    replace(row, label=fill(row.label), value=fill(row.value)) for row in block.rows
                ),
            )

        return replace(
            self,
            title=fill(self.title),
            summary=fill(self.summary),
            sections=tuple(
                replace(
                    section,
                    title=fill(section.title),
                    blocks=tuple(fill_block(b) for b in section.blocks),
                )
                for section in self.sections
            ),
        )

    def credential_kinds(self) -> set[str]:
        return {b.credential for s in self.sections for b in s.blocks if b.credential is not None}


def _block(raw: dict[str, object], where: str) -> Block:
    kinds = [k for k in BLOCK_KEYS if k in raw]
    if "credential" in kinds and "text" in kinds:
        kinds.remove("text")  # a credential step's own instructions
    if len(kinds) != 1:
        raise GuideError(f"{where}: a block has exactly one of {', '.join(BLOCK_KEYS)}")
    if "credential" in raw:
        kind = raw["credential"]
        if kind not in ("token", "basic"):
            raise GuideError(f"{where}: credential must be 'token' or 'basic', not {kind!r}")
        return Block(
            kind="credential",
            credential=kind,
            name=str(raw.get("name", "")),
            text=str(raw.get("text", "")),
        )
    if "text" in raw:
        return Block(kind="text", text=str(raw["text"]))
    if "list" in raw or "steps" in raw:
        kind = "list" if "list" in raw else "steps"
        items = raw[kind]
        if not isinstance(items, list) or not items:
            raise GuideError(f"{where}: {kind} must be a non-empty list of strings")
        return Block(kind=kind, items=tuple(str(i) for i in items))  # type: ignore[arg-type]
    if "code" in raw:
        return Block(
            kind="code", text=str(raw["code"]).strip("\n"), language=str(raw.get("language", ""))
        )
    table = raw["fields"]
    if not isinstance(table, dict) or len(table.get("head", ())) != 2 or not table.get("rows"):
        raise GuideError(f"{where}: fields needs head = [two names] and rows")
    rows = tuple(
        FieldRow(label=str(r["label"]), value=str(r["value"]), copy=bool(r.get("copy", False)))
        for r in table["rows"]
    )
    head = (str(table["head"][0]), str(table["head"][1]))
    return Block(kind="fields", head=head, rows=rows)


@cache
def guide(slug: str) -> Guide:
    """The guide `slug` (one of GUIDE_SLUGS), read once per process.

    Raises KeyError for an unknown slug, GuideError for a malformed file."""
    if slug not in GUIDE_SLUGS:
        raise KeyError(slug)
    path = GUIDE_DIR / f"{slug}.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    sections = tuple(
        Section(
            id=str(s["id"]),
            title=str(s["title"]),
            blocks=tuple(
                _block(b, f"{path.name} [{s['id']}] block {n}")
                for n, b in enumerate(s.get("block", []), 1)
            ),
        )
        for s in raw.get("section", [])
    )
    return Guide(
        slug=slug,
        idp=str(raw["idp"]),
        title=str(raw["title"]),
        summary=str(raw["summary"]),
        sections=sections,
    )


def guides() -> list[Guide]:
    return [guide(slug) for slug in GUIDE_SLUGS]
