""" "Prepare CSV of failed operations" refuses a selection it would export wrongly, with a
sentence saying what to correct: a date that is not one (it was dropped: every date went
into the file) and From after To (an empty file)."""

from __future__ import annotations

from django_tenants.utils import schema_context

from directory.models import LedgerExport
from tenants.models import Company
from tests.directory.test_retry import messages_of
from tests.provisioning_ui.test_access_rights import signed_in


def prepare(acme: Company, **fields: str) -> tuple[str, int]:
    browser = signed_in(acme)
    response = browser.post(
        "/t/acme/log/exports/", {"outcome": "failed", "operation": "", **fields}, follow=True
    )
    with schema_context(acme.schema_name):
        return messages_of(response), LedgerExport.objects.count()


def test_from_after_to_is_refused_instead_of_exporting_an_empty_file(acme: Company) -> None:
    said, exports = prepare(acme, since="2026-11-30", until="2026-11-01")

    assert exports == 0
    assert said == (
        "No export prepared: “From” (2026-11-30) is after “To” (2026-11-01), so no failure "
        "could be in the file. Swap the dates, or clear one of them."
    )


def test_a_date_that_does_not_parse_is_refused_instead_of_dropped(acme: Company) -> None:
    said, exports = prepare(acme, since="", until="30/11/2026")

    assert exports == 0
    assert said == (
        "No export prepared: “To” is not a date: “30/11/2026”. Use the form YYYY-MM-DD, or "
        "leave it empty for no limit."
    )


def test_a_sound_selection_is_prepared(acme: Company) -> None:
    said, exports = prepare(acme, since="2026-11-01", until="2026-11-01")

    assert (said, exports) == ("", 1)
