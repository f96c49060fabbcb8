"""A worker for q2c's sagas: the workflows and the activities bound to one set of systems.

Closed-won runs on every set of systems; invoice → revenue, payment-settled and period-close need the systems'
invoicing roles (`SystemPorts.invoicing`), and amendments their amendment roles (`SystemPorts.amendments`),
which the vendor adapters have and the in-memory systems do not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.amendment import (
    AmendmentMappingActivities,
    BillingAmendmentActivities,
    ContractTurnActivities,
    CrmAmendmentActivities,
    RevenueModificationActivities,
)
from activities.closed_won import (
    BillingActivities,
    ContractMappingActivities,
    CrmActivities,
    ErpActivities,
    RevenueActivities,
)
from activities.exception_queue import ExceptionQueueActivities
from activities.invoice_to_revenue import (
    BillingDocumentActivities,
    CrmAccountActivities,
    ErpDocumentMappingActivities,
    GeneralLedgerActivities,
    RevenueLedgerActivities,
)
from activities.reconciliation import ReconciliationActivities
from adapters.ports import AmendmentPorts, InvoicingPorts, SystemPorts
from adapters.reconciliation_ports import ReconciliationPorts
from adapters.store.port import OperationalStorePort
from canonical.mapping_rules import MappingRules
from workers.telemetry import worker_interceptors
from workflows.amendment_to_invoice import AmendmentToInvoice
from workflows.closed_won import ClosedWonToSubscription
from workflows.contract_sequencer import ContractSequencer
from workflows.invoice_to_revenue import InvoiceToRevenue
from workflows.payment_settled import PaymentSettled
from workflows.period_close import PeriodClose
from workflows.reconciliation import Reconciliation

WORKFLOWS: Sequence[type] = (ClosedWonToSubscription,)
INVOICING_WORKFLOWS: Sequence[type] = (InvoiceToRevenue, PaymentSettled, PeriodClose)
AMENDMENT_WORKFLOWS: Sequence[type] = (AmendmentToInvoice, ContractSequencer)


def closed_won_activities(systems: SystemPorts, rules: MappingRules) -> list[Callable[..., Any]]:
    store = systems.store  # each activity records in q2c's operational store what it did (none: nothing)
    crm, mapping = CrmActivities(systems.crm, store), ContractMappingActivities(rules, store)
    erp, billing, revenue = (
        ErpActivities(systems.erp, store),
        BillingActivities(systems.billing, store),
        RevenueActivities(systems.revenue, store),
    )
    cases = ExceptionQueueActivities(store)
    return [
        cases.open_exception_case,
        cases.close_exception_case,
        crm.read_closed_won_deal,
        crm.write_saga_outcome_to_crm,
        mapping.map_deal_to_contract,
        erp.match_or_create_erp_customer,
        erp.deactivate_erp_customer_created_by,
        billing.match_or_create_billing_customer,
        billing.deactivate_billing_customer_created_by,
        billing.create_subscription,
        billing.cancel_subscription_created_by,
        revenue.register_revenue_contract,
        revenue.withdraw_revenue_contract_registered_by,
    ]


def invoicing_activities(
    systems: InvoicingPorts, rules: MappingRules, store: OperationalStorePort | None = None
) -> list[Callable[..., Any]]:
    billing, mapping = BillingDocumentActivities(systems.billing, store), ErpDocumentMappingActivities(rules, store)
    ledger, revenue = GeneralLedgerActivities(systems.ledger, store), RevenueLedgerActivities(systems.revenue, store)
    crm = CrmAccountActivities(systems.crm, store)
    return [
        billing.fetch_billing_document,
        billing.fetch_billing_payment,
        billing.acknowledge_erp_posting,
        billing.read_metered_usage,
        mapping.map_document_to_erp_posting,
        ledger.find_accounting_period,
        ledger.find_accounting_period_by_id,
        ledger.next_open_accounting_period,
        ledger.post_document_to_erp,
        ledger.post_journal_to_erp,
        ledger.apply_payment_in_erp,
        ledger.customer_open_receivable,
        revenue.record_billing_in_revenue_engine,
        revenue.record_payment_in_revenue_engine,
        revenue.usage_lines_for_period,
        revenue.recognise_revenue_for_period,
        revenue.lock_revenue_period,
        crm.record_account_payment_in_crm,
    ]


def amendment_activities(
    systems: AmendmentPorts, rules: MappingRules, task_queue: str, store: OperationalStorePort | None = None
) -> list[Callable[..., Any]]:
    crm, mapping = CrmAmendmentActivities(systems.crm, store), AmendmentMappingActivities(rules, store)
    billing = BillingAmendmentActivities(systems.billing, store)
    revenue = RevenueModificationActivities(systems.revenue, store)
    turns = ContractTurnActivities(task_queue)
    return [
        crm.read_amendment,
        crm.write_amendment_outcome_to_crm,
        mapping.map_amendment,
        billing.preview_amendment_in_billing,
        billing.apply_amendment_in_billing,
        billing.reverse_amendment_in_billing,
        revenue.read_contract_on_record,
        revenue.record_modification_in_revenue_engine,
        revenue.withdraw_modification_from_revenue_engine,
        turns.request_contract_turn,
    ]


def reconciliation_activities(ports: ReconciliationPorts) -> list[Callable[..., Any]]:
    recon = ReconciliationActivities(ports)
    return [
        recon.start_reconciliation_run,
        recon.stage_billing_documents,
        recon.stage_erp_postings,
        recon.stage_ledger_balances,
        recon.match_and_file_breaks,
    ]


# Every activity is one vendor call. Beyond a few dozen in flight a vendor answers slower than the adapters'
# timeouts, the timed-out calls are retried on top of the ones still running, and a burst of sagas (a quarter-end
# batch of closed deals) collapses into retries: the fault campaign's burst of 200 deals did, against the
# Salesforce emulator, with the SDK's default of 100 in flight. Activities beyond this wait in the task queue,
# where waiting costs nothing. Salesforce also caps concurrent long-running API requests per org at 25.
MAX_CONCURRENT_VENDOR_CALLS = 20


def build_worker(client: Client, task_queue: str, systems: SystemPorts, rules: MappingRules) -> Worker:
    workflows, activities = list(WORKFLOWS), closed_won_activities(systems, rules)
    if systems.invoicing is not None:
        workflows += INVOICING_WORKFLOWS
        activities += invoicing_activities(systems.invoicing, rules, systems.store)
    if systems.amendments is not None:
        workflows += AMENDMENT_WORKFLOWS
        activities += amendment_activities(systems.amendments, rules, task_queue, systems.store)
    if systems.reconciliation is not None:
        workflows.append(Reconciliation)
        activities += reconciliation_activities(systems.reconciliation)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        interceptors=worker_interceptors(),
        max_concurrent_activities=MAX_CONCURRENT_VENDOR_CALLS,
    )
