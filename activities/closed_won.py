"""The activities of the closed-won saga: one class per system, each holding its port.

Activities are thin: they call one port method inside `classified_adapter_errors` and return canonical
models. Mapping is pure, but runs here because the rules are the worker's configuration, read at start.
"""

from __future__ import annotations

from temporalio import activity

from activities.temporal_errors import classified_adapter_errors
from adapters.ports import BillingPort, CrmPort, ErpPort, RevenuePort
from canonical.contract import Contract
from canonical.contract_mapping import build_contract
from canonical.crm_deal import CrmDeal
from canonical.customer import Customer
from canonical.mapping_rules import MappingRules
from canonical.problems import InvalidRecordError
from canonical.references import CustomerMatch, RevenueContractRef, SubscriptionRef
from canonical.saga import ContractMappingResult, SagaOutcome


class CrmActivities:
    def __init__(self, crm: CrmPort) -> None:
        self._crm = crm

    @activity.defn
    async def read_closed_won_deal(self, opportunity_id: str) -> CrmDeal:
        with classified_adapter_errors():
            return await self._crm.fetch_deal(opportunity_id)

    @activity.defn
    async def write_saga_outcome_to_crm(self, opportunity_id: str, outcome: SagaOutcome, idempotency_key: str) -> None:
        with classified_adapter_errors():
            await self._crm.record_saga_outcome(opportunity_id, outcome, idempotency_key)


class ContractMappingActivities:
    def __init__(self, rules: MappingRules) -> None:
        self._rules = rules

    @activity.defn
    async def map_deal_to_contract(self, deal: CrmDeal) -> ContractMappingResult:
        try:
            contract = build_contract(deal, self._rules)
        except InvalidRecordError as error:
            return ContractMappingResult(mapping_version=self._rules.version, problems=error.problems)
        return ContractMappingResult(mapping_version=self._rules.version, contract=contract)


class ErpActivities:
    def __init__(self, erp: ErpPort) -> None:
        self._erp = erp

    @activity.defn
    async def match_or_create_erp_customer(self, customer: Customer, idempotency_key: str) -> CustomerMatch:
        with classified_adapter_errors():
            return await self._erp.match_or_create_customer(customer, idempotency_key)

    @activity.defn
    async def deactivate_erp_customer_created_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            return await self._erp.deactivate_customer_created_by(idempotency_key)


class BillingActivities:
    def __init__(self, billing: BillingPort) -> None:
        self._billing = billing

    @activity.defn
    async def match_or_create_billing_customer(
        self, customer: Customer, erp_customer_id: str, idempotency_key: str
    ) -> CustomerMatch:
        with classified_adapter_errors():
            return await self._billing.match_or_create_customer(customer, erp_customer_id, idempotency_key)

    @activity.defn
    async def deactivate_billing_customer_created_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            return await self._billing.deactivate_customer_created_by(idempotency_key)

    @activity.defn
    async def create_subscription(
        self, contract: Contract, billing_customer_id: str, idempotency_key: str
    ) -> SubscriptionRef:
        with classified_adapter_errors():
            return await self._billing.create_subscription(contract, billing_customer_id, idempotency_key)

    @activity.defn
    async def cancel_subscription_created_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            return await self._billing.cancel_subscription_created_by(idempotency_key)


class RevenueActivities:
    def __init__(self, revenue: RevenuePort) -> None:
        self._revenue = revenue

    @activity.defn
    async def register_revenue_contract(
        self, contract: Contract, billing_subscription_id: str, idempotency_key: str
    ) -> RevenueContractRef:
        with classified_adapter_errors():
            return await self._revenue.register_contract(contract, billing_subscription_id, idempotency_key)

    @activity.defn
    async def withdraw_revenue_contract_registered_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            return await self._revenue.withdraw_contract_registered_by(idempotency_key)
