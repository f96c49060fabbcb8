"""One port per system role, in canonical terms. Salesforce, Stripe Billing and NetSuite adapters implement
these over HTTP; `adapters.memory` implements them in memory for workflow tests and the embedded demo.

Every write takes an idempotency key derived from the saga's workflow ID and step. Each "undo" takes the
same key and undoes only what that key created, so a compensation can never touch a customer the saga
merely matched, and running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from adapters.reconciliation_ports import ReconciliationPorts
from adapters.store.port import OperationalStorePort
from canonical.amendment import (
    Amendment,
    AppliedBillingChange,
    BillingPreview,
    ContractOnRecord,
    CrmAmendmentOutcome,
    ModificationOutcome,
)
from canonical.billing_documents import AccountPaymentUpdate, BillingDocument, BillingPayment, MeteredUsage, UsageLine
from canonical.contract import Contract
from canonical.crm_amendment import CrmAmendment
from canonical.crm_deal import CrmDeal
from canonical.customer import Customer
from canonical.general_ledger import (
    AccountingPeriod,
    CreditMemoPosting,
    CustomerPaymentPosting,
    InvoicePosting,
    JournalEntryPosting,
    PostedTransaction,
)
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


class BillingDocumentsPort(Protocol):
    """The billing platform's invoices, credit notes, payments and metered usage (invoice → revenue)."""

    async def fetch_document(self, document_id: str) -> BillingDocument:
        """A finalised invoice (`in_...`) or credit note (`cn_...`) with its lines mapped to contract lines."""
        ...

    async def fetch_payment(self, invoice_id: str) -> BillingPayment:
        """The payment that settled a paid invoice. PermanentAdapterError if the invoice is not paid."""
        ...

    async def acknowledge_posting(self, document_id: str, erp_transaction_id: str, idempotency_key: str) -> None:
        """Record the ERP's posting acknowledgement on the billing document (metadata)."""
        ...

    async def metered_usage(self, usage_line: UsageLine, start: date, end: date) -> MeteredUsage:
        """What the line's meter counted from `start` to `end` inclusive (UTC days)."""
        ...


class GeneralLedgerPort(Protocol):
    """The ERP's accounting periods and postings. Every posting carries an external ID; posting one again
    returns the transaction already there instead of a second one."""

    async def accounting_period_for(self, on: date) -> AccountingPeriod: ...

    async def accounting_period(self, period_id: str) -> AccountingPeriod: ...

    async def next_open_period(self, after: AccountingPeriod) -> AccountingPeriod:
        """The first open posting period after `after`. NotFoundError when there is none."""
        ...

    async def posted_transaction(self, record_type: str, external_id: str) -> PostedTransaction | None:
        """An invoice, creditMemo, customerPayment or journalEntry posted with this external ID, if any."""
        ...

    async def post_invoice(self, invoice: InvoicePosting) -> PostedTransaction: ...

    async def post_credit_memo(self, memo: CreditMemoPosting) -> PostedTransaction: ...

    async def post_customer_payment(self, payment: CustomerPaymentPosting) -> PostedTransaction: ...

    async def post_journal_entry(self, entry: JournalEntryPosting) -> PostedTransaction: ...

    async def customer_open_balance(self, customer_id: str) -> Decimal:
        """The customer's open receivables, in the customer's currency."""
        ...


class CrmAccountPort(Protocol):
    async def record_account_payment(
        self, crm_account_id: str, update: AccountPaymentUpdate, idempotency_key: str
    ) -> None:
        """Write the account's payment status (last payment, open receivable) onto the CRM account."""
        ...


class RevenueLedgerPort(Protocol):
    """The revenue engine's side of invoice → revenue: billings, cash, and the monthly close."""

    async def record_billing(
        self, document: BillingDocument, period: AccountingPeriod, idempotency_key: str
    ) -> JournalEntryPosting | None:
        """Apply the document's lines to its contract's obligations. The ERP books each line against its
        deferred-revenue account; the journal returned (if any) moves what the engine books elsewhere (contract
        asset, unbilled receivable), dated in `period`. The same key returns the same journal."""
        ...

    async def record_payment(self, payment: BillingPayment, idempotency_key: str) -> None: ...

    async def usage_lines(self, start: date, end: date) -> tuple[UsageLine, ...]:
        """Usage lines of registered contracts whose service overlaps the days from `start` to `end`."""
        ...

    async def recognise_period(
        self, period: AccountingPeriod, usage: tuple[MeteredUsage, ...], idempotency_key: str
    ) -> tuple[JournalEntryPosting, ...]:
        """Recognise revenue through the period's end for every contract: one summarised journal per legal
        entity and currency (external IDs derived from the period), the per-contract detail kept by the engine.
        Running it again returns the same journals and changes nothing."""
        ...

    async def lock_period(self, period: AccountingPeriod, idempotency_key: str) -> None:
        """No more recognition into the period; billings dated in it land in the next open one."""
        ...


class CrmAmendmentPort(Protocol):
    async def fetch_amendment(self, opportunity_id: str) -> CrmAmendment:
        """The amendment opportunity with the contract (and version) it references, its effective moment, its
        change lines and the modification facts. NotFoundError if there is no such opportunity."""
        ...

    async def record_amendment_outcome(
        self, opportunity_id: str, outcome: CrmAmendmentOutcome, idempotency_key: str
    ) -> None: ...


class BillingAmendmentPort(Protocol):
    async def preview_amendment(self, subscription_id: str, amended: Contract, amendment: Amendment) -> BillingPreview:
        """The prorations of changing the subscription to `amended` at `amendment.effective`; changes nothing."""
        ...

    async def apply_amendment(
        self, subscription_id: str, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> AppliedBillingChange:
        """Change the subscription: upgrades invoice at once (prorated); credits as `amendment.credit_behavior`."""
        ...

    async def reverse_amendment_applied_by(self, idempotency_key: str) -> str | None:
        """Put the subscription back as it was before the change this key applied, with the reversing invoice or
        credit; the subscription's ID, or None if the key applied nothing."""
        ...


class RevenueModificationPort(Protocol):
    async def contract_on_record(self, contract_id: str) -> ContractOnRecord:
        """The contract's current version with its revenue and billing references. NotFoundError if unknown."""
        ...

    async def record_modification(
        self, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> ModificationOutcome:
        """Apply the modification to the registered contract with the treatment its facts call for."""
        ...

    async def withdraw_modification_recorded_by(self, idempotency_key: str) -> str | None: ...


@dataclass(frozen=True)
class InvoicingPorts:
    """The same systems in their invoice → revenue roles (vendor adapters; the in-memory systems have none)."""

    billing: BillingDocumentsPort
    ledger: GeneralLedgerPort
    revenue: RevenueLedgerPort
    crm: CrmAccountPort


@dataclass(frozen=True)
class AmendmentPorts:
    """The systems in their amendment roles (vendor adapters and the built-in revenue engine)."""

    crm: CrmAmendmentPort
    billing: BillingAmendmentPort
    revenue: RevenueModificationPort


@dataclass(frozen=True)
class SystemPorts:
    """The four systems one worker talks to."""

    crm: CrmPort
    erp: ErpPort
    billing: BillingPort
    revenue: RevenuePort
    invoicing: InvoicingPorts | None = None
    amendments: AmendmentPorts | None = None
    store: OperationalStorePort | None = None  # q2c's operational store; None: the sagas record nothing there
    reconciliation: ReconciliationPorts | None = None  # bulk reads for reconciliation (vendor adapters only)
