"""The activities of the closed-won saga: one class per system, each holding its port.

Activities are thin: they call one port method inside `classified_adapter_errors` and return canonical
models. Mapping is pure, but runs here because the rules are the worker's configuration, read at start.
Each also records in the operational store (`SagaRecords`) what it read, mapped or wrote, and the IDs the
systems gave the customer, contract, subscription and revenue contract.
"""

from __future__ import annotations

from temporalio import activity

from activities.saga_records import SagaRecords, snapshot
from activities.temporal_errors import classified_adapter_errors
from adapters.ports import BillingPort, CrmPort, ErpPort, RevenuePort
from adapters.store.port import OperationalStorePort
from adapters.store.records import AuditEventKind, EntityKind
from canonical.contract import Contract
from canonical.contract_mapping import build_contract
from canonical.crm_deal import CrmDeal
from canonical.customer import Customer
from canonical.mapping_rules import MappingRules
from canonical.problems import InvalidRecordError
from canonical.references import CustomerMatch, RevenueContractRef, SubscriptionRef, System
from canonical.saga import ContractMappingResult, RecordedDecision, SagaOutcome, SagaStatus


class CrmActivities:
    def __init__(self, crm: CrmPort, store: OperationalStorePort | None = None) -> None:
        self._crm = crm
        self._records = SagaRecords(store)

    @activity.defn
    async def read_closed_won_deal(self, opportunity_id: str) -> CrmDeal:
        with classified_adapter_errors():
            deal = await self._crm.fetch_deal(opportunity_id)
        await self._records.audit(
            AuditEventKind.SOURCE_READ, f"deal/{opportunity_id}", source_system=System.CRM, source_payload=deal
        )
        return deal

    @activity.defn
    async def write_saga_outcome_to_crm(
        self,
        opportunity_id: str,
        outcome: SagaOutcome,
        idempotency_key: str,
        decision: RecordedDecision | None = None,
    ) -> None:
        """`decision`: finance's approval or rejection, if the deal needed one; it lands in the audit trail here."""
        with classified_adapter_errors():
            await self._crm.record_saga_outcome(opportunity_id, outcome, idempotency_key)
        if decision is not None:
            verdict = decision.decision
            await self._records.approval(verdict.approver, verdict.approved, f"deal {opportunity_id}", verdict.note)
        if outcome.status is SagaStatus.COMPLETED and outcome.contract_id is not None:
            # closed-won makes version 1; amendments record theirs (activities.amendment)
            await self._records.reference(
                EntityKind.CONTRACT, outcome.contract_id, System.CRM, opportunity_id, version=1
            )
        await self._records.audit(
            AuditEventKind.WRITE_BACK,
            f"outcome/{outcome.status.value}",
            target_system=System.CRM,
            posting_ack=outcome,
            note=outcome.message or None,
        )


class ContractMappingActivities:
    def __init__(self, rules: MappingRules, store: OperationalStorePort | None = None) -> None:
        self._rules = rules
        self._records = SagaRecords(store)

    @activity.defn
    async def map_deal_to_contract(self, deal: CrmDeal) -> ContractMappingResult:
        try:
            contract = build_contract(deal, self._rules)
        except InvalidRecordError as error:
            result = ContractMappingResult(mapping_version=self._rules.version, problems=error.problems)
        else:
            result = ContractMappingResult(mapping_version=self._rules.version, contract=contract)
        await self._records.audit(
            AuditEventKind.TRANSFORMED,
            f"contract/{deal.opportunity.opportunity_id}",
            source_system=System.CRM,
            mapping_version=result.mapping_version,
            transformation=snapshot(result),
            note=None if result.contract else f"{len(result.problems)} problem(s)",
        )
        return result


class ErpActivities:
    def __init__(self, erp: ErpPort, store: OperationalStorePort | None = None) -> None:
        self._erp = erp
        self._records = SagaRecords(store)

    @activity.defn
    async def match_or_create_erp_customer(self, customer: Customer, idempotency_key: str) -> CustomerMatch:
        with classified_adapter_errors():
            match = await self._erp.match_or_create_customer(customer, idempotency_key)
        await _record_customer(self._records, customer, match)
        return match

    @activity.defn
    async def deactivate_erp_customer_created_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            undone = await self._erp.deactivate_customer_created_by(idempotency_key)
        await self._records.compensated(System.ERP, "customer", undone)
        return undone


class BillingActivities:
    def __init__(self, billing: BillingPort, store: OperationalStorePort | None = None) -> None:
        self._billing = billing
        self._records = SagaRecords(store)

    @activity.defn
    async def match_or_create_billing_customer(
        self, customer: Customer, erp_customer_id: str, idempotency_key: str
    ) -> CustomerMatch:
        with classified_adapter_errors():
            match = await self._billing.match_or_create_customer(customer, erp_customer_id, idempotency_key)
        await _record_customer(self._records, customer, match)
        return match

    @activity.defn
    async def deactivate_billing_customer_created_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            undone = await self._billing.deactivate_customer_created_by(idempotency_key)
        await self._records.compensated(System.BILLING, "customer", undone)
        return undone

    @activity.defn
    async def create_subscription(
        self, contract: Contract, billing_customer_id: str, idempotency_key: str
    ) -> SubscriptionRef:
        with classified_adapter_errors():
            subscription = await self._billing.create_subscription(contract, billing_customer_id, idempotency_key)
        # The subscription is the contract's in billing: known by the contract's ID, and per version.
        await self._records.reference(
            EntityKind.SUBSCRIPTION, contract.contract_id, System.BILLING, subscription.subscription_id
        )
        await self._records.reference(
            EntityKind.CONTRACT,
            contract.contract_id,
            System.BILLING,
            subscription.subscription_id,
            version=contract.version,
        )
        await self._records.posted(System.BILLING, f"subscription/{contract.contract_id}", subscription)
        return subscription

    @activity.defn
    async def cancel_subscription_created_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            undone = await self._billing.cancel_subscription_created_by(idempotency_key)
        await self._records.compensated(System.BILLING, "subscription", undone)
        return undone


class RevenueActivities:
    def __init__(self, revenue: RevenuePort, store: OperationalStorePort | None = None) -> None:
        self._revenue = revenue
        self._records = SagaRecords(store)

    @activity.defn
    async def register_revenue_contract(
        self, contract: Contract, billing_subscription_id: str, idempotency_key: str
    ) -> RevenueContractRef:
        with classified_adapter_errors():
            registered = await self._revenue.register_contract(contract, billing_subscription_id, idempotency_key)
        contract_id, revenue_id = contract.contract_id, registered.revenue_contract_id
        await self._records.reference(EntityKind.REVENUE_CONTRACT, contract_id, System.REVENUE, revenue_id)
        await self._records.reference(
            EntityKind.CONTRACT, contract_id, System.REVENUE, revenue_id, version=contract.version
        )
        await self._records.posted(System.REVENUE, f"revenue-contract/{contract_id}", registered)
        return registered

    @activity.defn
    async def withdraw_revenue_contract_registered_by(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            undone = await self._revenue.withdraw_contract_registered_by(idempotency_key)
        await self._records.compensated(System.REVENUE, "revenue-contract", undone)
        return undone


async def _record_customer(records: SagaRecords, customer: Customer, match: CustomerMatch) -> None:
    await records.reference(EntityKind.CUSTOMER, customer.crm_account_id, match.system, match.customer_id)
    verb = "created" if match.created else "matched"
    await records.posted(match.system, f"customer/{customer.crm_account_id}", match, note=f"{verb} {customer.name}")
