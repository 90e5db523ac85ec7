"""An instance built from a row by ModelRows is the one the ORM loads, whichever way it is
built: straight into its `__dict__` (PREPARED_QUERIES on, nothing listening) or through
`Model.from_db` (switched off, or a receiver of `pre_init`/`post_init` connected)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_init, pre_init

from infra.model_rows import ModelRows
from tenants.models import Company
from tokens.models import Credential
from tokens.services import token_issue


def _row(rows: ModelRows, model: type[Any], pk: object) -> tuple[Any, ...]:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {rows.columns('t')} FROM {table} t WHERE t.id = %s", [pk])  # noqa: S608
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def _same_as_loaded(built: Any, loaded: Any) -> None:
    assert type(built) is type(loaded)
    for field in loaded._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(loaded, field.attname), field.attname
    assert built._state.adding is False
    assert built._state.db == loaded._state.db == connection.alias
    assert built._state.fields_cache == {}


@pytest.mark.parametrize("prepared", [True, False])
def test_a_credential_is_built_as_the_orm_loads_it(
    acme: Company, settings: Any, prepared: bool
) -> None:
    settings.PREPARED_QUERIES = prepared
    issued = token_issue(company=acme, name="Okta", actor="tests")
    rows = ModelRows(Credential)

    built = rows.instance(_row(rows, Credential, issued.credential.pk))

    _same_as_loaded(built, Credential.objects.get(pk=issued.credential.pk))
    assert built.status == Credential.Status.ACTIVE


@pytest.mark.parametrize("prepared", [True, False])
def test_a_company_gets_its_converted_json_either_way(
    acme: Company, settings: Any, prepared: bool
) -> None:
    settings.PREPARED_QUERIES = prepared
    Company.objects.filter(pk=acme.pk).update(attribute_allowlist=["title", "department"])
    rows = ModelRows(Company)

    built = rows.instance(_row(rows, Company, acme.pk))

    _same_as_loaded(built, Company.objects.get(pk=acme.pk))
    assert built.attribute_allowlist == ["title", "department"]


def test_a_post_init_receiver_still_sees_every_instance(acme: Company, settings: Any) -> None:
    settings.PREPARED_QUERIES = True
    issued = token_issue(company=acme, name="Okta", actor="tests")
    rows = ModelRows(Credential)
    seen: list[Any] = []

    def receiver(sender: type[Any], instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Credential)
    try:
        built = rows.instance(_row(rows, Credential, issued.credential.pk))
    finally:
        post_init.disconnect(receiver, sender=Credential)

    assert seen == [built]


def test_a_pre_init_receiver_of_every_model_sees_each_instance(
    acme: Company, settings: Any
) -> None:
    settings.PREPARED_QUERIES = True
    issued = token_issue(company=acme, name="Okta", actor="tests")
    rows = ModelRows(Credential)
    seen: list[type[Any]] = []

    def receiver(sender: type[Any], **kwargs: Any) -> None:
        seen.append(sender)

    pre_init.connect(receiver)  # no sender: every model's instances
    try:
        rows.instance(_row(rows, Credential, issued.credential.pk))
    finally:
        pre_init.disconnect(receiver)

    assert seen == [Credential]
