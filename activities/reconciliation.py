"""The reconciliation workflow's activities. Each pull reads one system in bulk and stages what it read in q2c's
database in the same activity: millions of rows never travel through Temporal's history, only their count."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from activities.temporal_errors import classified_adapter_errors
from adapters.reconciliation_ports import ReconciliationPorts
from canonical.money import Money
from canonical.reconciliation import AccountBalance, LedgerSystem, ReconciliationRun


class StagingRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    first_day: date
    last_day: date


class RunStart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow_id: str
    run_key: str
    first_day: date
    last_day: date


class ReconciliationActivities:
    def __init__(self, ports: ReconciliationPorts) -> None:
        self._ports = ports

    @activity.defn
    async def start_reconciliation_run(self, start: RunStart) -> int:
        return await self._ports.store.start_run(start.workflow_id, start.run_key, start.first_day, start.last_day)

    @activity.defn
    async def stage_billing_documents(self, request: StagingRequest) -> int:
        with classified_adapter_errors():
            records = await self._ports.billing.billing_records(request.first_day, request.last_day)
        return await self._ports.store.stage_billing(request.run_id, records)

    @activity.defn
    async def stage_erp_postings(self, request: StagingRequest) -> int:
        with classified_adapter_errors():
            records = await self._ports.erp.erp_records(request.first_day, request.last_day)
        return await self._ports.store.stage_erp(request.run_id, records)

    @activity.defn
    async def stage_ledger_balances(self, request: StagingRequest) -> int:
        """The ERP's GL balances and the revenue engine's, in the ledger currency, as both stand now."""
        currency = self._ports.ledger_currency
        with classified_adapter_errors():
            balances = await self._ports.erp.erp_balances(currency)
            engine = await self._ports.revenue.balances_by_account(currency)
        balances += [
            AccountBalance(
                system=LedgerSystem.REVENUE_ENGINE,
                account=account,
                currency=currency,
                balance_minor=Money.of(amount, currency).rounded().to_minor_units(),
            )
            for account, amount in engine.items()
        ]
        return await self._ports.store.stage_balances(request.run_id, balances)

    @activity.defn
    async def match_and_file_breaks(self, run_id: int) -> ReconciliationRun:
        """Match the staged rows (set-based SQL) and open an exception case for every break."""
        await self._ports.store.match(run_id)
        await self._ports.store.file_cases(run_id)
        return await self._ports.store.run(run_id)
