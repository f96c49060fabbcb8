"""One port per system role, in canonical terms. Salesforce, Stripe Billing and NetSuite adapters implement
these over HTTP; `adapters.memory` implements them in memory for workflow tests and the embedded demo.

Every write takes an idempotency key derived from the saga's workflow ID and step. Each "undo" takes the
same key and undoes only what that key created, so a compensation can never touch a customer the saga
merely matched, and running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from canonical.contract import Contract
from canonical.crm_deal import CrmDeal
from canonical.customer import Customer
from canonical.references import CustomerMatch, RevenueContractRef, SubscriptionRef
from canonical.saga import SagaOutcome


class CrmPort(Protocol):
    async def fetch_deal(self, opportunity_id: str) -> CrmDeal:
        """The opportunity with its quote lines and account. NotFoundError if there is no such opportunity."""
        ...

    async def record_saga_outcome(self, opportunity_id: str, outcome: SagaOutcome, idempotency_key: str) -> None:
        """Write the saga's status and the other systems' references onto the opportunity."""
        ...


class ErpPort(Protocol):
    async def match_or_create_customer(self, customer: Customer, idempotency_key: str) -> CustomerMatch:
        """Find the customer by external ID (the CRM account ID) or create it; never a duplicate."""
        ...

    async def deactivate_customer_created_by(self, idempotency_key: str) -> str | None:
        """Deactivate the customer this key created, if any; returns its ID."""
        ...


class BillingPort(Protocol):
    async def match_or_create_customer(
        self, customer: Customer, erp_customer_id: str, idempotency_key: str
    ) -> CustomerMatch: ...

    async def deactivate_customer_created_by(self, idempotency_key: str) -> str | None: ...

    async def create_subscription(
        self, contract: Contract, billing_customer_id: str, idempotency_key: str
    ) -> SubscriptionRef:
        """Recurring, one-time and usage lines; ramp phases as a schedule."""
        ...

    async def cancel_subscription_created_by(self, idempotency_key: str) -> str | None: ...


class RevenuePort(Protocol):
    async def register_contract(
        self, contract: Contract, billing_subscription_id: str, idempotency_key: str
    ) -> RevenueContractRef: ...

    async def withdraw_contract_registered_by(self, idempotency_key: str) -> str | None: ...


@dataclass(frozen=True)
class SystemPorts:
    """The four systems one worker talks to."""

    crm: CrmPort
    erp: ErpPort
    billing: BillingPort
    revenue: RevenuePort
