"""The failed-operations CSV as a company admin opens it in a spreadsheet: what an identity
provider (or whoever holds its token) wrote into a failed request must stay text there."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from django.utils import timezone

from directory.exports import CSV_COLUMNS, clean_criteria, export_path, export_run
from directory.models import LedgerExport
from tests.scim_client import Scim, okta_user

# Cells a spreadsheet would run as a formula (OWASP's CSV injection list: = + - @ TAB CR, and
# | and % for DDE and macro prefixes), directly or behind leading whitespace.
HOSTILE = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "\n=1+1",
    "\u00a0=1+1",
    "  \t @SUM(1)",
    "|calc",
    "%0A=1+1",
    "=cmd|' /C calc'!A0",
    '="quoted, with a comma"',
]
HARMLESS = ["ada@acme.test", "a=b", "O'Brien", "1+1", "Ada, Lovelace"]


def failed_export_rows(scim: Scim, names: list[str]) -> list[dict[str, str]]:
    """Send one failing create per name (as userName, displayName and externalId), export the
    failures through the real export task function, and read the file back as a CSV."""
    for index, name in enumerate(names):
        response = scim.post(
            "/Users",
            okta_user(name, displayName=name, externalId=f"{name}#{index}", active="maybe"),
        )
        assert response.status_code == 400, response.content
    export = LedgerExport.objects.create(
        requested_by="ada@acme.test",
        criteria=clean_criteria({}),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    done = export_run(str(export.pk))
    assert done.rows_written == len(names)
    with export_path(done).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(CSV_COLUMNS)
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)  # quoting kept every cell whole
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_cell_a_spreadsheet_would_run_is_prefixed_with_a_quote(scim: Scim, name: str) -> None:
    (row,) = failed_export_rows(scim, [name])

    assert row["user_name"] == row["display_name"] == "'" + name
    assert row["external_id"] == f"'{name}#0"


def test_harmless_cells_are_exported_as_they_are(scim: Scim) -> None:
    rows = failed_export_rows(scim, HARMLESS)

    assert {row["user_name"] for row in rows} == set(HARMLESS)
    assert {row["display_name"] for row in rows} == set(HARMLESS)
