"""The built-in revenue engine behind the revenue port: registering a contract identifies its performance
obligations and allocates the transaction price by relative standalone selling price (`revenue/`).

Registrations are kept in this process for now; persisting them through q2c's database layer comes with the
operational store. An allocation the engine refuses (a residual outside its SSP range, a missing SSP) is a
permanent error with the `mapping_missing` category: finance must fix the SSPs in the mapping rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.errors import PermanentAdapterError
from canonical.contract import Contract
from canonical.problems import ExceptionCategory
from canonical.references import RevenueContractRef, System
from revenue.allocation import Allocation, AllocationError, allocate_transaction_price
from revenue.obligations import obligations_from_contract


@dataclass
class RegisteredRevenueContract:
    revenue_contract_id: str
    contract: Contract
    billing_subscription_id: str
    allocation: Allocation
    registered_by: str
    status: str = "active"


class BuiltInRevenueEngine:
    """RevenuePort on q2c's own ASC 606 engine."""

    def __init__(self) -> None:
        self.contracts: dict[str, RegisteredRevenueContract] = {}
        self._by_key: dict[str, str] = {}

    async def register_contract(
        self, contract: Contract, billing_subscription_id: str, idempotency_key: str
    ) -> RevenueContractRef:
        registered_id = self._by_key.get(idempotency_key)
        if registered_id is None:
            registered = self._register(contract, billing_subscription_id, idempotency_key)
            self.contracts[registered.revenue_contract_id] = registered
            self._by_key[idempotency_key] = registered_id = registered.revenue_contract_id
        registered = self.contracts[registered_id]
        return RevenueContractRef(revenue_contract_id=registered_id, obligations=len(registered.allocation.lines))

    async def withdraw_contract_registered_by(self, idempotency_key: str) -> str | None:
        registered_id = self._by_key.get(idempotency_key)
        if registered_id is not None:
            self.contracts[registered_id].status = "withdrawn"
        return registered_id

    def _register(self, contract: Contract, subscription_id: str, key: str) -> RegisteredRevenueContract:
        try:
            allocation = allocate_transaction_price(obligations_from_contract(contract))
        except AllocationError as error:
            raise PermanentAdapterError(
                System.REVENUE, f"{contract.contract_id}: {error}", ExceptionCategory.MAPPING_MISSING
            ) from error
        revenue_contract_id = f"RC-{contract.contract_id}-v{contract.version}"
        return RegisteredRevenueContract(revenue_contract_id, contract, subscription_id, allocation, key)
