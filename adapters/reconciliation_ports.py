"""The systems in their reconciliation roles: bulk reads of billing, the ERP and the revenue engine, and the store
where the reads are staged and matched (`adapters.store.reconciliation.ReconciliationStore` is that store)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from canonical.reconciliation import (
    AccountBalance,
    BillingRecord,
    ErpRecord,
    ReconciliationBreak,
    ReconciliationRun,
)


class BillingListingPort(Protocol):
    async def billing_records(self, first_day: date, last_day: date) -> list[BillingRecord]:
        """Every finalised invoice and issued credit note that took effect on those days (UTC, inclusive)."""
        ...


class ErpListingPort(Protocol):
    async def erp_records(self, first_day: date, last_day: date) -> list[ErpRecord]:
        """Every AR invoice and credit memo dated on those days."""
        ...

    async def erp_balances(self, currency: str) -> list[AccountBalance]:
        """Each GL account's balance as the books stand now (debit positive)."""
        ...


class EngineBalancesPort(Protocol):
    async def balances_by_account(self, currency: str | None = None) -> dict[str, Decimal]: ...


class ReconciliationStorePort(Protocol):
    async def start_run(self, workflow_id: str, run_key: str, first_day: date, last_day: date) -> int: ...

    async def stage_billing(self, run_id: int, records: Iterable[BillingRecord]) -> int: ...

    async def stage_erp(self, run_id: int, records: Iterable[ErpRecord]) -> int: ...

    async def stage_balances(self, run_id: int, balances: Iterable[AccountBalance]) -> int: ...

    async def match(self, run_id: int) -> ReconciliationRun: ...

    async def file_cases(self, run_id: int, *, opened_by: str = "reconciliation") -> list[ReconciliationBreak]: ...

    async def run(self, run_id: int) -> ReconciliationRun: ...


@dataclass(frozen=True)
class ReconciliationPorts:
    billing: BillingListingPort
    erp: ErpListingPort
    revenue: EngineBalancesPort
    store: ReconciliationStorePort
    ledger_currency: str  # the currency the ERP's and the engine's GL balances are compared in
