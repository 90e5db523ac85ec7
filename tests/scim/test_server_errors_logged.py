"""A server error on the SCIM API stays an ERROR in the log (what alerting and ADMINS e-mails
watch) once designed refusals are left out of it (infra/refusals.py; the brake's held
requests are in tests/directory/test_brake.py)."""

from __future__ import annotations

import logging

import psycopg
import pytest
from django.db import OperationalError

from tenants.models import Company
from tests.database_errors import raised_by_django
from tests.scim_client import Scim, assert_error


def _unavailable() -> OperationalError:
    return raised_by_django(psycopg.OperationalError("connection lost"))


@pytest.mark.parametrize(("raised", "status"), [(RuntimeError("bug"), 500), (_unavailable(), 503)])
def test_real_server_errors_are_still_logged_as_errors(
    scim: Scim,
    acme: Company,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    raised: Exception,
    status: int,
) -> None:
    def failing(member_id: str) -> None:
        raise raised

    monkeypatch.setattr("scim.views_users.member_get_with_roles", failing)
    caplog.set_level(logging.INFO)

    reply = scim.get("/Users/2819c223-7f76-453a-919d-413861904646")

    assert_error(reply, status)
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [r.levelno for r in logged] == [logging.ERROR]
