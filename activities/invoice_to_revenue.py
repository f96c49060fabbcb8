"""The activities of the invoice → revenue, payment-settled and period-close sagas: one class per system.

As in `activities.closed_won`, each is one port call inside `classified_adapter_errors`. Mapping a billing
document to its ERP posting is pure, but runs here because the mapping rules are the worker's configuration.
Each records in the operational store what it read, mapped or posted, and the IDs of invoices, credit notes,
payments and journals in each system (`SagaRecords`).
"""

from __future__ import annotations

from datetime import date

from temporalio import activity

from activities.saga_records import SagaRecords, snapshot
from activities.temporal_errors import classified_adapter_errors
from adapters.errors import TransientAdapterError
from adapters.ports import BillingDocumentsPort, CrmAccountPort, GeneralLedgerPort, RevenueLedgerPort
from adapters.store.port import OperationalStorePort
from adapters.store.records import AuditEventKind, EntityKind
from canonical.billing_documents import (
    AccountPaymentUpdate,
    BillingDocument,
    BillingPayment,
    DocumentKind,
    MeteredUsage,
    UsageLine,
)
from canonical.erp_documents import ErpDocumentMapping, erp_posting_for
from canonical.general_ledger import (
    AccountingPeriod,
    CreditMemoPosting,
    CustomerPaymentPosting,
    InvoicePosting,
    JournalEntryPosting,
    PaymentApplication,
    PostedTransaction,
)
from canonical.invoice_saga import PeriodDecision
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import InvalidRecordError
from canonical.references import System


def erp_payment_id(invoice_id: str) -> str:
    """The ERP external ID of the payment that settles a billing invoice (one per invoice)."""
    return f"PAY-{invoice_id}"


def document_entity(kind: DocumentKind) -> EntityKind:
    return EntityKind.CREDIT_NOTE if kind is DocumentKind.CREDIT_NOTE else EntityKind.INVOICE


def _posted_entity(posted: PostedTransaction) -> EntityKind:
    """What an ERP transaction is, by its record type (invoice, creditMemo, customerPayment, journalEntry)."""
    kinds = {"creditmemo": EntityKind.CREDIT_NOTE, "customerpayment": EntityKind.PAYMENT}
    return kinds.get(posted.record_type.lower(), EntityKind.INVOICE)


class BillingDocumentActivities:
    def __init__(self, billing: BillingDocumentsPort, store: OperationalStorePort | None = None) -> None:
        self._billing = billing
        self._records = SagaRecords(store)

    @activity.defn
    async def fetch_billing_document(self, document_id: str) -> BillingDocument:
        with classified_adapter_errors():
            document = await self._billing.fetch_document(document_id)
        kind = document_entity(document.kind)
        await self._records.reference(kind, document.document_id, System.BILLING, document.document_id)
        await self._records.audit(
            AuditEventKind.SOURCE_READ,
            f"{kind.value}/{document_id}",
            source_system=System.BILLING,
            source_payload=document,
            note=f"{kind.value} of contract {document.contract_id}",
        )
        return document

    @activity.defn
    async def fetch_billing_payment(self, invoice_id: str) -> BillingPayment:
        with classified_adapter_errors():
            payment = await self._billing.fetch_payment(invoice_id)
        await self._records.reference(
            EntityKind.PAYMENT, erp_payment_id(invoice_id), System.BILLING, payment.payment_id
        )
        await self._records.audit(
            AuditEventKind.SOURCE_READ,
            f"payment/{invoice_id}",
            source_system=System.BILLING,
            source_payload=payment,
            note=f"payment of invoice {invoice_id}, contract {payment.contract_id}",
        )
        return payment

    @activity.defn
    async def acknowledge_erp_posting(self, document_id: str, erp_transaction_id: str, idempotency_key: str) -> None:
        with classified_adapter_errors():
            await self._billing.acknowledge_posting(document_id, erp_transaction_id, idempotency_key)
        await self._records.audit(
            AuditEventKind.WRITE_BACK,
            f"acknowledgement/{document_id}",
            target_system=System.BILLING,
            posting_ack={"document_id": document_id, "erp_transaction_id": erp_transaction_id},
        )

    @activity.defn
    async def read_metered_usage(self, usage_line: UsageLine, start: date, end: date) -> MeteredUsage:
        with classified_adapter_errors():
            return await self._billing.metered_usage(usage_line, start, end)


class ErpDocumentMappingActivities:
    def __init__(self, rules: MappingRules, store: OperationalStorePort | None = None) -> None:
        self._rules = rules
        self._records = SagaRecords(store)

    @activity.defn
    async def map_document_to_erp_posting(self, document: BillingDocument) -> ErpDocumentMapping:
        mapping = self._mapping(document)
        await self._records.audit(
            AuditEventKind.TRANSFORMED,
            f"erp-posting/{document.document_id}",
            source_system=System.BILLING,
            target_system=System.ERP,
            mapping_version=mapping.mapping_version,
            transformation=snapshot(mapping),
            note=f"{len(mapping.problems)} problem(s)" if mapping.problems else None,
        )
        return mapping

    def _mapping(self, document: BillingDocument) -> ErpDocumentMapping:
        version = self._rules.version
        try:
            posting = erp_posting_for(document, self._rules)
        except InvalidRecordError as error:
            return ErpDocumentMapping(mapping_version=version, problems=error.problems)
        if isinstance(posting, CreditMemoPosting):
            return ErpDocumentMapping(mapping_version=version, credit_memo=posting)
        return ErpDocumentMapping(mapping_version=version, invoice=posting)


class GeneralLedgerActivities:
    def __init__(self, erp: GeneralLedgerPort, store: OperationalStorePort | None = None) -> None:
        self._erp = erp
        self._records = SagaRecords(store)

    @activity.defn
    async def find_accounting_period(self, on: date) -> AccountingPeriod:
        with classified_adapter_errors():
            return await self._erp.accounting_period_for(on)

    @activity.defn
    async def find_accounting_period_by_id(
        self, period_id: str, decision: PeriodDecision | None = None
    ) -> AccountingPeriod:
        """`decision`: controllership's choice of this period, which lands in the audit trail here."""
        with classified_adapter_errors():
            period = await self._erp.accounting_period(period_id)
        if decision is not None:
            what = f"posting period {period.name} ({period_id})"
            await self._records.approval(decision.decided_by, True, what, decision.note)
        return period

    @activity.defn
    async def next_open_accounting_period(self, after: AccountingPeriod) -> AccountingPeriod:
        with classified_adapter_errors():
            return await self._erp.next_open_period(after)

    @activity.defn
    async def post_document_to_erp(
        self, mapping: ErpDocumentMapping, period_id: str, applies_to: str | None
    ) -> PostedTransaction:
        """The AR invoice or credit memo, at line level, in `period_id`; a credit memo is applied to the ERP
        invoice of the billing invoice it credits (`applies_to`) when that is posted."""
        with classified_adapter_errors():
            posted = await self._post_document(mapping, period_id, applies_to)
        posting: InvoicePosting | CreditMemoPosting | None = mapping.invoice or mapping.credit_memo
        assert posting is not None
        await self._record_posting(_posted_entity(posted), posting.external_id, posted)
        return posted

    async def _post_document(
        self, mapping: ErpDocumentMapping, period_id: str, applies_to: str | None
    ) -> PostedTransaction:
        if mapping.invoice is not None:
            return await self._erp.post_invoice(mapping.invoice.model_copy(update={"posting_period_id": period_id}))
        assert mapping.credit_memo is not None, "a mapping without problems has a posting"
        update: dict[str, str] = {"posting_period_id": period_id}
        if applies_to is not None:
            invoice = await self._erp.posted_transaction("invoice", applies_to)
            if invoice is not None:
                update["applies_to_invoice_id"] = invoice.internal_id
        return await self._erp.post_credit_memo(mapping.credit_memo.model_copy(update=update))

    async def _record_posting(self, kind: EntityKind, canonical_id: str, posted: PostedTransaction) -> None:
        await self._records.reference(kind, canonical_id, System.ERP, posted.internal_id)
        await self._records.posted(System.ERP, f"{kind.value}/{canonical_id}", posted)

    @activity.defn
    async def post_journal_to_erp(self, entry: JournalEntryPosting) -> PostedTransaction:
        with classified_adapter_errors():
            posted = await self._erp.post_journal_entry(entry)
        await self._record_posting(EntityKind.JOURNAL, entry.external_id, posted)
        return posted

    @activity.defn
    async def apply_payment_in_erp(self, payment: BillingPayment, period_id: str) -> PostedTransaction:
        """A customer payment applied to the invoice's ERP posting. The invoice's own saga may not have posted
        it yet (events arrive out of order): that is transient, so Temporal retries until it is there."""
        with classified_adapter_errors():
            invoice = await self._erp.posted_transaction("invoice", payment.invoice_id)
            if invoice is None:
                raise TransientAdapterError(System.ERP, f"invoice {payment.invoice_id} is not posted in the ERP yet")
            if payment.erp_customer_id is None:
                raise TransientAdapterError(System.ERP, f"payment {payment.payment_id} names no ERP customer")
            amount = payment.amount.amount
            posted = await self._erp.post_customer_payment(
                CustomerPaymentPosting(
                    external_id=erp_payment_id(payment.invoice_id),
                    customer_id=payment.erp_customer_id,
                    tran_date=payment.paid_on,
                    amount=amount,
                    currency=payment.amount.currency,
                    applications=(PaymentApplication(invoice_id=invoice.internal_id, amount=amount),),
                    posting_period_id=period_id,
                    memo=f"payment {payment.payment_id} for {payment.invoice_id}",
                )
            )
        await self._record_posting(EntityKind.PAYMENT, erp_payment_id(payment.invoice_id), posted)
        return posted

    @activity.defn
    async def customer_open_receivable(self, customer_id: str, currency: str) -> Money:
        with classified_adapter_errors():
            return Money.of(await self._erp.customer_open_balance(customer_id), currency)


class RevenueLedgerActivities:
    def __init__(self, revenue: RevenueLedgerPort, store: OperationalStorePort | None = None) -> None:
        self._revenue = revenue
        self._records = SagaRecords(store)

    @activity.defn
    async def record_billing_in_revenue_engine(
        self, document: BillingDocument, period: AccountingPeriod, idempotency_key: str
    ) -> JournalEntryPosting | None:
        with classified_adapter_errors():
            journal = await self._revenue.record_billing(document, period, idempotency_key)
        kind = document_entity(document.kind)
        await self._records.reference(kind, document.document_id, System.REVENUE, document.document_id)
        ack = {"document_id": document.document_id, "period": period.name, "journal": snapshot(journal)}
        await self._records.posted(System.REVENUE, f"{kind.value}/{document.document_id}", ack)
        return journal

    @activity.defn
    async def record_payment_in_revenue_engine(self, payment: BillingPayment, idempotency_key: str) -> None:
        with classified_adapter_errors():
            await self._revenue.record_payment(payment, idempotency_key)
        canonical_id = erp_payment_id(payment.invoice_id)
        await self._records.reference(EntityKind.PAYMENT, canonical_id, System.REVENUE, payment.payment_id)
        await self._records.posted(System.REVENUE, f"payment/{payment.invoice_id}", {"payment": snapshot(payment)})

    @activity.defn
    async def usage_lines_for_period(self, period: AccountingPeriod) -> tuple[UsageLine, ...]:
        with classified_adapter_errors():
            return await self._revenue.usage_lines(period.start, period.end)

    @activity.defn
    async def recognise_revenue_for_period(
        self, period: AccountingPeriod, usage: tuple[MeteredUsage, ...], idempotency_key: str
    ) -> tuple[JournalEntryPosting, ...]:
        with classified_adapter_errors():
            journals = await self._revenue.recognise_period(period, usage, idempotency_key)
        ack = {"period": period.name, "journals": [snapshot(journal) for journal in journals]}
        await self._records.posted(System.REVENUE, f"recognition/{period.name}", ack)
        return journals

    @activity.defn
    async def lock_revenue_period(self, period: AccountingPeriod, idempotency_key: str) -> None:
        with classified_adapter_errors():
            await self._revenue.lock_period(period, idempotency_key)
        await self._records.posted(System.REVENUE, f"lock/{period.name}", {"period": period.name, "locked": True})


class CrmAccountActivities:
    def __init__(self, crm: CrmAccountPort, store: OperationalStorePort | None = None) -> None:
        self._crm = crm
        self._records = SagaRecords(store)

    @activity.defn
    async def record_account_payment_in_crm(
        self, crm_account_id: str, update: AccountPaymentUpdate, idempotency_key: str
    ) -> None:
        with classified_adapter_errors():
            await self._crm.record_account_payment(crm_account_id, update, idempotency_key)
        await self._records.audit(
            AuditEventKind.WRITE_BACK, f"account/{crm_account_id}", target_system=System.CRM, posting_ack=update
        )
