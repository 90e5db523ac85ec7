"""Checks shared by the member and group services: ETag preconditions, unique columns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, models

from scim_protocol import errors
from scim_protocol.user_resource import etag_names


def check_if_match(version: int, if_match: str | None, noun: str) -> None:
    """Raises PreconditionFailed unless `If-Match` is absent, `*`, or names `version`."""
    if if_match is not None and not etag_names(if_match, version):
        raise errors.PreconditionFailed(
            f'The {noun} changed: its version is W/"{version}", not {if_match}.'
        )


@contextmanager
def unique_keys(conflicts: dict[str, str]) -> Iterator[None]:
    """Around a write: a unique violation whose constraint name contains a key of
    `conflicts` becomes Uniqueness (409) with that message. The database decides, so two
    concurrent writes of the same userName cannot both win.

    Use inside the write's own atomic block (directory.ledger.recorded), which the error
    leaves and so rolls back: no savepoint of its own, which would cost two round trips
    (SAVEPOINT, RELEASE) on every create and rename. Never catch the Uniqueness and carry on
    in the same transaction: after the failed statement PostgreSQL refuses every other one."""
    try:
        yield
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", "") or ""
        for fragment, message in conflicts.items():
            if fragment in constraint:
                raise errors.Uniqueness(message) from None
        raise


def save_unique(obj: models.Model, *, insert: bool, conflicts: dict[str, str]) -> None:
    """Save `obj`, as `unique_keys` says."""
    with unique_keys(conflicts):
        obj.save(force_insert=insert)
