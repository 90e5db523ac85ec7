"""Checks shared by the member and group services: ETag preconditions, unique columns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, models

from scim_protocol import errors
from scim_protocol.user_resource import etag_names


def check_preconditions(
    version: int, noun: str, *, if_match: str | None, if_none_match: str | None
) -> None:
    """Raises PreconditionFailed unless a write's preconditions hold for `version`: If-Match
    absent, `*` or naming it; If-None-Match absent or naming neither it nor `*` (RFC 7232
    §3.2: the resource exists). Checked in RFC 7232 §6's order.

    `version` must be the one the write replaces: read under the row's lock, or read without
    it by a write whose statement then writes only if the version is still that one. A
    version read earlier would miss a write committed in between (RFC 7232 §5: the
    condition holds for the representation the write changes)."""
    if if_match is not None and not etag_names(if_match, version):
        raise errors.PreconditionFailed(
            f'The {noun} changed: its version is W/"{version}", not {if_match}.'
        )
    if if_none_match is not None and etag_names(if_none_match, version):
        raise errors.PreconditionFailed(
            f'If-None-Match names the current version, W/"{version}": not changed.'
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
