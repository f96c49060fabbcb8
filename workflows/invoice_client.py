"""Starting the invoice → revenue, payment-settled, period-close and amendment sagas, for triggers, the CLI and
the demo.

Workflow IDs come from the billing platform's document IDs and the accounting period, so a redelivered or
out-of-order event finds the saga already there and starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from canonical.amendment_saga import AmendmentInput
from canonical.invoice_saga import InvoiceToRevenueInput, PaymentSettledInput, PeriodCloseInput, PeriodDecision
from canonical.saga import Resubmission, SagaType
from canonical.saga_policy import SagaPolicy
from workflows import search_attributes as sa
from workflows.closed_won_client import refusals_explained

INVOICE_TO_REVENUE = "InvoiceToRevenue"
PAYMENT_SETTLED = "PaymentSettled"
PERIOD_CLOSE = "PeriodClose"
AMENDMENT_TO_INVOICE = "AmendmentToInvoice"


def invoice_workflow_id(document_id: str) -> str:
    return f"invoice-to-revenue/{document_id}"


def payment_workflow_id(invoice_id: str) -> str:
    return f"payment-settled/{invoice_id}"


def period_close_workflow_id(period_start: date) -> str:
    return f"period-close/{period_start:%Y-%m}"


@dataclass(frozen=True)
class StartedWorkflow:
    handle: WorkflowHandle[object, object]
    started: bool  # False: the saga for this document or period already existed; nothing new started


async def start_invoice_to_revenue(
    client: Client, document_id: str, policy: SagaPolicy, task_queue: str
) -> StartedWorkflow:
    """The saga for a finalised invoice (`in_...`) or credit note (`cn_...`), started once per document."""
    payload = InvoiceToRevenueInput(document_id=document_id, policy=policy)
    attributes = sa.set_at_start(SagaType.INVOICE_TO_REVENUE.value, sa.DOCUMENT_ID, document_id)
    return await _start(client, INVOICE_TO_REVENUE, payload, invoice_workflow_id(document_id), task_queue, attributes)


async def start_payment_settled(
    client: Client, invoice_id: str, policy: SagaPolicy, task_queue: str
) -> StartedWorkflow:
    payload = PaymentSettledInput(invoice_id=invoice_id, policy=policy)
    attributes = sa.set_at_start(SagaType.PAYMENT_SETTLED.value, sa.DOCUMENT_ID, invoice_id)
    return await _start(client, PAYMENT_SETTLED, payload, payment_workflow_id(invoice_id), task_queue, attributes)


async def start_period_close(
    client: Client, period_start: date, policy: SagaPolicy, task_queue: str
) -> StartedWorkflow:
    """Close the accounting period containing `period_start`. A close that completed may be run again (it is
    idempotent), so a finished one is replaced by a new run; a running one is joined."""
    payload = PeriodCloseInput(period_on=period_start, policy=policy)
    workflow_id = period_close_workflow_id(period_start)
    handle = await client.start_workflow(
        PERIOD_CLOSE,
        payload,
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=sa.set_at_start(SagaType.PERIOD_CLOSE.value, sa.ACCOUNTING_PERIOD, f"{period_start:%Y-%m}"),
    )
    return StartedWorkflow(handle, started=True)


async def _start(
    client: Client,
    name: str,
    payload: BaseModel,
    workflow_id: str,
    task_queue: str,
    attributes: TypedSearchAttributes,
) -> StartedWorkflow:
    try:
        handle = await client.start_workflow(
            name,
            payload,
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=attributes,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        return StartedWorkflow(handle, started=True)
    except WorkflowAlreadyStartedError:
        return StartedWorkflow(client.get_workflow_handle(workflow_id), started=False)


async def retry_parked(client: Client, workflow_id: str, request: Resubmission) -> str:
    """Ask a parked invoice, payment or period-close saga to run its failed step again."""
    handle = client.get_workflow_handle(workflow_id)
    async with refusals_explained(handle):
        answer: str = await handle.execute_update("retry", request, result_type=str)
        return answer
    raise AssertionError("unreachable")  # for mypy: the context manager only re-raises


async def choose_period(client: Client, workflow_id: str, decision: PeriodDecision) -> str:
    """Controllership's choice of an open period for a document dated in a closed one."""
    handle = client.get_workflow_handle(workflow_id)
    async with refusals_explained(handle):
        answer: str = await handle.execute_update("decide_period", decision, result_type=str)
        return answer
    raise AssertionError("unreachable")


async def start_amendment(client: Client, amendment_id: str, policy: SagaPolicy, task_queue: str) -> StartedWorkflow:
    """The amendment → invoice saga for a CRM amendment, started once per amendment."""
    payload = AmendmentInput(amendment_id=amendment_id, policy=policy)
    attributes = sa.set_at_start(SagaType.AMENDMENT_TO_INVOICE.value, sa.OPPORTUNITY_ID, amendment_id)
    workflow_id = amendment_workflow_id(amendment_id)
    return await _start(client, AMENDMENT_TO_INVOICE, payload, workflow_id, task_queue, attributes)


def amendment_workflow_id(amendment_id: str) -> str:
    return f"amendment/{amendment_id}"
