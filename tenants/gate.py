"""May this company use SCIM now? The one answer, asked by the SCIM API, the OAuth endpoints,
the portal and credential issuing.

Two things close the gate: support's SCIM switch (`Company.scim_enabled`) and suspension
(`Company.status`). Suspension is named first, because switching SCIM on would not help.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenants.models import Company


@dataclass(frozen=True)
class GateResult:
    company_name: str
    switched_on: bool  # support's SCIM switch
    suspended: bool  # Company.status is not ACTIVE

    @property
    def open(self) -> bool:
        return self.switched_on and not self.suspended

    @property
    def code(self) -> str:
        """Why the gate is shut, as scim_protocol.errors names it (`suspended`, `scim_off`);
        empty while it is open."""
        if self.suspended:
            return "suspended"
        return "" if self.switched_on else "scim_off"

    @property
    def detail(self) -> str:
        """Why the gate is shut, in words for the company's admins and its identity provider;
        empty while it is open."""
        if self.suspended:
            return f"{self.company_name} is suspended. Contact support to restore access."
        if not self.switched_on:
            return (
                f"SCIM provisioning is not active for {self.company_name}. "
                "Contact support to activate it."
            )
        return ""


def gate_open(company: Company) -> bool:
    """Whether `company`, as loaded, may use SCIM: `scim_gate(company).open` without the
    why, for the SCIM API's check on every request."""
    return company.scim_enabled and company.status == Company.Status.ACTIVE


def scim_gate(company: Company, *, fresh: bool = False) -> GateResult:
    """The gate of `company` as loaded, or, with `fresh`, as the database says now (one query
    by primary key): for code holding a company loaded before support may have flipped the
    switch (credential issuing, the OAuth token endpoint). A company that no longer exists
    reads as switched off."""
    switched_on, status = company.scim_enabled, company.status
    if fresh:
        row = Company.objects.filter(pk=company.pk).values_list("scim_enabled", "status").first()
        if row is None:
            switched_on = False
        else:
            switched_on, status = row
    return GateResult(
        company_name=company.name,
        switched_on=switched_on,
        suspended=status != Company.Status.ACTIVE,
    )
