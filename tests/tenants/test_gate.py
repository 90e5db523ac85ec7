"""The one SCIM gate: support's switch by the company's status, as loaded and read fresh."""

from __future__ import annotations

import pytest

from tenants.gate import gate_open, scim_gate
from tenants.models import Company
from tests.conftest import max_queries

OFF = "SCIM provisioning is not active for Acme Inc. Contact support to activate it."
SUSPENDED = "Acme Inc is suspended. Contact support to restore access."

# (switched on, status) → (open, detail)
MATRIX = [
    (True, Company.Status.ACTIVE, True, ""),
    (False, Company.Status.ACTIVE, False, OFF),
    # Suspension is said first: switching SCIM on would not help.
    (True, Company.Status.SUSPENDED, False, SUSPENDED),
    (False, Company.Status.SUSPENDED, False, SUSPENDED),
]


def _opposite(status: str) -> str:
    active = status == Company.Status.ACTIVE
    return Company.Status.SUSPENDED if active else Company.Status.ACTIVE


@pytest.mark.parametrize(("switched_on", "status", "is_open", "detail"), MATRIX)
def test_the_gate_as_loaded_reads_the_company_in_hand_without_a_query(
    acme: Company, switched_on: bool, status: str, is_open: bool, detail: str
) -> None:
    # The database says the opposite: a gate that is not fresh must not look.
    Company.objects.filter(pk=acme.pk).update(
        scim_enabled=not switched_on, status=_opposite(status)
    )
    acme.scim_enabled, acme.status = switched_on, status

    with max_queries(0):
        gate = scim_gate(acme)
        # The SCIM API's check on every request: the same answer without the why.
        quick = gate_open(acme)

    assert (gate.switched_on, gate.suspended) == (switched_on, status != Company.Status.ACTIVE)
    assert (gate.open, gate.detail) == (is_open, detail)
    assert quick is is_open


@pytest.mark.parametrize(("switched_on", "status", "is_open", "detail"), MATRIX)
def test_a_fresh_gate_reads_what_support_set_since_in_one_query(
    acme: Company, switched_on: bool, status: str, is_open: bool, detail: str
) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_enabled=switched_on, status=status)
    # The company in hand was loaded before support changed it.
    acme.scim_enabled, acme.status = not switched_on, _opposite(status)

    with max_queries(1):
        gate = scim_gate(acme, fresh=True)

    assert (gate.open, gate.detail) == (is_open, detail)


def test_a_company_deleted_meanwhile_reads_as_switched_off(acme: Company) -> None:
    gone = Company(pk=-1, name="Gone Ltd", scim_enabled=True, status=Company.Status.ACTIVE)

    gate = scim_gate(gone, fresh=True)

    assert not gate.open
    assert gate.detail.startswith("SCIM provisioning is not active for Gone Ltd.")
