"""In-memory CRM, ERP, billing and revenue systems behind the ports, for workflow tests and the embedded demo.

They keep the semantics the sagas rely on: external-ID matching, idempotency keys that replay the first
result, and undo operations that touch only what a given key created.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from adapters.errors import NotFoundError
from adapters.memory.faults import FaultPlan
from adapters.ports import SystemPorts
from adapters.store.port import OperationalStorePort
from canonical.contract import Contract
from canonical.crm_deal import CrmDeal
from canonical.customer import Customer
from canonical.references import CustomerMatch, RevenueContractRef, SubscriptionRef, System
from canonical.saga import SagaOutcome


@dataclass
class StoredCustomer:
    customer_id: str
    external_id: str
    name: str
    active: bool = True
    created_by: str | None = None


@dataclass
class StoredSubscription:
    subscription_id: str
    customer_id: str
    contract_id: str
    lines: int
    status: str = "active"
    created_by: str | None = None


@dataclass
class StoredRevenueContract:
    revenue_contract_id: str
    contract_id: str
    obligations: int
    status: str = "active"
    created_by: str | None = None


@dataclass
class CustomerBook:
    """Customers of one system, matched by external ID; `created_by` maps an idempotency key to a customer."""

    system: System
    prefix: str
    customers: dict[str, StoredCustomer] = field(default_factory=dict)
    created_by: dict[str, str] = field(default_factory=dict)

    def match_or_create(self, customer: Customer, key: str) -> CustomerMatch:
        if key in self.created_by:
            return CustomerMatch(system=self.system, customer_id=self.created_by[key], created=True)
        existing = next(
            (c for c in self.customers.values() if c.external_id == customer.crm_account_id and c.active),
            None,
        )
        if existing is not None:
            return CustomerMatch(system=self.system, customer_id=existing.customer_id, created=False)
        customer_id = f"{self.prefix}{len(self.customers) + 1:05d}"
        self.customers[customer_id] = StoredCustomer(customer_id, customer.crm_account_id, customer.name, True, key)
        self.created_by[key] = customer_id
        return CustomerMatch(system=self.system, customer_id=customer_id, created=True)

    def deactivate_created_by(self, key: str) -> str | None:
        customer_id = self.created_by.get(key)
        if customer_id is not None:
            self.customers[customer_id].active = False
        return customer_id

    def active_with_external_id(self, external_id: str) -> list[StoredCustomer]:
        return [c for c in self.customers.values() if c.external_id == external_id and c.active]


class InMemoryCrm:
    def __init__(self, faults: FaultPlan) -> None:
        self.faults = faults
        self.deals: dict[str, CrmDeal] = {}
        self.outcomes: dict[str, list[SagaOutcome]] = {}
        self._written_keys: set[str] = set()

    def save_deal(self, deal: CrmDeal) -> None:
        """Seed or edit a deal, as a sales-ops user would in the CRM."""
        self.deals[deal.opportunity.opportunity_id] = deal

    async def fetch_deal(self, opportunity_id: str) -> CrmDeal:
        self.faults.enter("crm.fetch_deal")
        await asyncio.sleep(0)
        if opportunity_id not in self.deals:
            raise NotFoundError(System.CRM, f"no opportunity {opportunity_id}")
        return self.deals[opportunity_id]

    async def record_saga_outcome(self, opportunity_id: str, outcome: SagaOutcome, idempotency_key: str) -> None:
        self.faults.enter("crm.record_saga_outcome")
        if opportunity_id not in self.deals:
            raise NotFoundError(System.CRM, f"no opportunity {opportunity_id}")
        if idempotency_key in self._written_keys:
            return
        self._written_keys.add(idempotency_key)
        self.outcomes.setdefault(opportunity_id, []).append(outcome)


class InMemoryErp:
    def __init__(self, faults: FaultPlan) -> None:
        self.faults = faults
        self.customers = CustomerBook(System.ERP, "ERP-CUS-")

    async def match_or_create_customer(self, customer: Customer, idempotency_key: str) -> CustomerMatch:
        self.faults.enter("erp.match_or_create_customer")
        return self.customers.match_or_create(customer, idempotency_key)

    async def deactivate_customer_created_by(self, idempotency_key: str) -> str | None:
        self.faults.enter("erp.deactivate_customer_created_by")
        return self.customers.deactivate_created_by(idempotency_key)


class InMemoryBilling:
    def __init__(self, faults: FaultPlan) -> None:
        self.faults = faults
        self.customers = CustomerBook(System.BILLING, "cus_mem")
        self.subscriptions: dict[str, StoredSubscription] = {}
        self._subscription_by_key: dict[str, str] = {}

    async def match_or_create_customer(
        self, customer: Customer, erp_customer_id: str, idempotency_key: str
    ) -> CustomerMatch:
        self.faults.enter("billing.match_or_create_customer")
        return self.customers.match_or_create(customer, idempotency_key)

    async def deactivate_customer_created_by(self, idempotency_key: str) -> str | None:
        self.faults.enter("billing.deactivate_customer_created_by")
        return self.customers.deactivate_created_by(idempotency_key)

    async def create_subscription(
        self, contract: Contract, billing_customer_id: str, idempotency_key: str
    ) -> SubscriptionRef:
        self.faults.enter("billing.create_subscription")
        if billing_customer_id not in self.customers.customers:
            raise NotFoundError(System.BILLING, f"no customer {billing_customer_id}")
        subscription_id = self._subscription_by_key.get(idempotency_key)
        if subscription_id is None:
            subscription_id = f"sub_mem{len(self.subscriptions) + 1:05d}"
            self.subscriptions[subscription_id] = StoredSubscription(
                subscription_id,
                billing_customer_id,
                contract.contract_id,
                len(contract.lines),
                "active",
                idempotency_key,
            )
            self._subscription_by_key[idempotency_key] = subscription_id
        stored = self.subscriptions[subscription_id]
        return SubscriptionRef(
            subscription_id=subscription_id, billing_customer_id=stored.customer_id, status=stored.status
        )

    async def cancel_subscription_created_by(self, idempotency_key: str) -> str | None:
        self.faults.enter("billing.cancel_subscription_created_by")
        subscription_id = self._subscription_by_key.get(idempotency_key)
        if subscription_id is not None:
            self.subscriptions[subscription_id].status = "canceled"
        return subscription_id


class InMemoryRevenue:
    def __init__(self, faults: FaultPlan) -> None:
        self.faults = faults
        self.contracts: dict[str, StoredRevenueContract] = {}
        self._by_key: dict[str, str] = {}

    async def register_contract(
        self, contract: Contract, billing_subscription_id: str, idempotency_key: str
    ) -> RevenueContractRef:
        self.faults.enter("revenue.register_contract")
        revenue_contract_id = self._by_key.get(idempotency_key)
        if revenue_contract_id is None:
            revenue_contract_id = f"RC-{len(self.contracts) + 1:05d}"
            self.contracts[revenue_contract_id] = StoredRevenueContract(
                revenue_contract_id, contract.contract_id, len(contract.lines), "active", idempotency_key
            )
            self._by_key[idempotency_key] = revenue_contract_id
        stored = self.contracts[revenue_contract_id]
        return RevenueContractRef(revenue_contract_id=revenue_contract_id, obligations=stored.obligations)

    async def withdraw_contract_registered_by(self, idempotency_key: str) -> str | None:
        self.faults.enter("revenue.withdraw_contract_registered_by")
        revenue_contract_id = self._by_key.get(idempotency_key)
        if revenue_contract_id is not None:
            self.contracts[revenue_contract_id].status = "withdrawn"
        return revenue_contract_id


@dataclass
class InMemorySystems:
    """The four systems of one embedded stack, sharing one fault plan."""

    faults: FaultPlan = field(default_factory=FaultPlan)
    crm: InMemoryCrm = field(init=False)
    erp: InMemoryErp = field(init=False)
    billing: InMemoryBilling = field(init=False)
    revenue: InMemoryRevenue = field(init=False)

    def __post_init__(self) -> None:
        self.crm = InMemoryCrm(self.faults)
        self.erp = InMemoryErp(self.faults)
        self.billing = InMemoryBilling(self.faults)
        self.revenue = InMemoryRevenue(self.faults)

    def ports(self, store: OperationalStorePort | None = None) -> SystemPorts:
        """The systems' ports; with `store` (e.g. an `OperationalStore` on in-memory SQLite), the sagas record
        their cross-references, audit trail and exception cases there."""
        return SystemPorts(crm=self.crm, erp=self.erp, billing=self.billing, revenue=self.revenue, store=store)
