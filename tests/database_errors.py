"""Database errors as Django raises them: its OperationalError with psycopg's error, which
carries the SQLSTATE that infra/db_errors.py reads, as the cause."""

from __future__ import annotations

from django.db import OperationalError


def raised_by_django(cause: Exception) -> OperationalError:
    """`cause` (a psycopg error) as Django's wrapper re-raises it."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error
