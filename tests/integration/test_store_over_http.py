"""The operational store as the sagas write it, end to end over real HTTP on a real dev server: cross-references
and audit records from closed-won, invoice → revenue, payment-settled and period-close; `q2c trace` and
`q2c audit verify` reading them from the database; and an exception case opened by a parked saga, resolved
through `resolve_exception_case`, which resumes the saga to completion.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters.store.records import (
    AuditEventKind,
    CaseAction,
    CaseStatus,
    CrossReference,
    EntityKind,
    ExceptionCase,
)
from adapters.store.store import OperationalStore
from canonical.problems import ExceptionCategory
from canonical.references import System
from canonical.saga import SagaStatus
from cli.billing_year import advance, invoices_of
from tests.cli.helpers import q2c
from tests.integration.invoicing_stack import REFERENCE, Stack, completed, saga_state, subscribed
from workers.exception_resolution import resolve_exception_case
from workflows.closed_won import workflow_id_for
from workflows.invoice_client import invoice_workflow_id, payment_workflow_id, start_period_close

ACCOUNT = "001NW0000000001"


def _store(stack: Stack) -> OperationalStore:
    assert isinstance(stack.systems.store, OperationalStore)
    return stack.systems.store


async def test_every_saga_records_its_references_and_audit_trail_and_trace_prints_the_chain(stack: Stack) -> None:
    store = _store(stack)
    customer = await subscribed(stack)
    won = await completed(stack, workflow_id_for(REFERENCE))
    contract_id = won["contract_id"]
    [january] = await invoices_of(stack.stripe, customer)
    posted = (await completed(stack, invoice_workflow_id(january.id)))["erp_posting"]
    await advance(stack.stripe, stack.clock, datetime(2027, 1, 21, tzinfo=UTC))
    await stack.stripe.v1.invoices.pay_async(january.id, params={"paid_out_of_band": True})
    payment = (await completed(stack, payment_workflow_id(january.id)))["erp_payment"]
    await advance(stack.stripe, stack.clock, datetime(2027, 1, 31, 23, tzinfo=UTC))
    close = await start_period_close(
        stack.client, datetime(2027, 1, 1).date(), stack.policy["current"], stack.task_queue
    )
    [journal] = (await close.handle.result())["journals"]

    refs = won["references"]
    assert _ids(await store.references_of(EntityKind.CUSTOMER, ACCOUNT)) == {
        System.ERP: refs["erp_customer_id"],
        System.BILLING: customer,
    }
    assert _ids(await store.references_of(EntityKind.CONTRACT, contract_id, version=1)) == {
        System.CRM: REFERENCE,
        System.BILLING: refs["subscription_id"],
        System.REVENUE: refs["revenue_contract_id"],
    }
    assert _ids(await store.references_of(EntityKind.SUBSCRIPTION, contract_id)) == {
        System.BILLING: refs["subscription_id"]
    }
    assert _ids(await store.references_of(EntityKind.INVOICE, january.id)) == {
        System.BILLING: january.id,
        System.ERP: posted["internal_id"],
        System.REVENUE: january.id,
    }
    assert (
        _ids(await store.references_of(EntityKind.PAYMENT, f"PAY-{january.id}"))[System.ERP] == payment["internal_id"]
    )
    assert _ids(await store.references_of(EntityKind.JOURNAL, journal["external_id"])) == {
        System.ERP: journal["internal_id"]
    }
    assert (await store.canonical_for(System.ERP, posted["internal_id"], kind=EntityKind.INVOICE))[0].saga_id == (
        invoice_workflow_id(january.id)
    )

    closed_won = await store.audit_records(workflow_id=workflow_id_for(REFERENCE))
    assert [r.kind for r in closed_won] == [
        AuditEventKind.SOURCE_READ,
        AuditEventKind.TRANSFORMED,
        AuditEventKind.POSTED,  # ERP customer
        AuditEventKind.POSTED,  # billing customer
        AuditEventKind.POSTED,  # subscription
        AuditEventKind.POSTED,  # revenue contract
        AuditEventKind.WRITE_BACK,
    ]
    read, mapped = closed_won[0], closed_won[1]
    assert read.source_system is System.CRM and read.source_payload is not None
    assert read.source_payload["opportunity"]["opportunity_id"] == REFERENCE
    assert mapped.mapping_version == stack.rules.version and mapped.transformation is not None
    assert mapped.transformation["contract"]["contract_id"] == contract_id
    assert {r.correlation_id for r in closed_won} == {workflow_id_for(REFERENCE)}
    assert all(r.run_id for r in closed_won)
    assert closed_won[2].posting_ack == {"system": "erp", "customer_id": refs["erp_customer_id"], "created": True}

    invoice = await store.audit_records(workflow_id=invoice_workflow_id(january.id))
    assert [(r.kind, r.target_system or r.source_system) for r in invoice] == [
        (AuditEventKind.SOURCE_READ, System.BILLING),
        (AuditEventKind.TRANSFORMED, System.ERP),
        (AuditEventKind.POSTED, System.ERP),
        (AuditEventKind.POSTED, System.REVENUE),
        (AuditEventKind.WRITE_BACK, System.BILLING),
    ]
    assert invoice[2].posting_ack is not None and invoice[2].posting_ack["internal_id"] == posted["internal_id"]
    assert await store.verify_audit_chain() is None

    database = store.engine.url.render_as_string(hide_password=False)
    traced = q2c("trace", contract_id, "--database", database)
    assert traced.returncode == 0, traced.stderr
    for shown in (
        f"opportunity {REFERENCE}",
        f"crm {REFERENCE}",
        refs["subscription_id"],
        refs["revenue_contract_id"],
        f"erp {refs['erp_customer_id']}",
        f"{january.id}  invoice",
        f"ERP invoice {posted['internal_id']}",
        "paid 2027-01-21  24000.00 USD",
        f"ERP customerPayment {payment['internal_id']}",
        journal["external_id"],
        f"mapped under mapping rules {stack.rules.version}",
        "recognised",
        "9083.98 USD",
    ):
        assert shown in traced.stdout, f"{shown!r} missing from:\n{traced.stdout}"
    only = q2c("trace", january.id, "--database", database)
    assert only.returncode == 0 and f"Trace of contract {contract_id}, {january.id} only" in only.stdout


async def test_a_parked_saga_opens_a_case_and_resolving_it_resumes_the_saga(stack: Stack) -> None:
    store = _store(stack)
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    await completed(stack, invoice_workflow_id(january.id))
    erp_customer = (await stack.stripe.v1.customers.retrieve_async(customer)).metadata["erp_customer_id"]
    await stack.stripe.v1.customers.update_async(customer, params={"metadata": {"erp_customer_id": ""}})
    await advance(stack.stripe, stack.clock, datetime(2027, 2, 1, 2, tzinfo=UTC))
    february = next(i for i in await invoices_of(stack.stripe, customer) if i.id != january.id)
    saga = invoice_workflow_id(february.id)
    await saga_state(stack, saga, SagaStatus.NEEDS_ATTENTION)

    [case] = await _open_cases_of(store, saga)
    assert case.category is ExceptionCategory.MASTER_DATA_MISMATCH and "erp_customer_id" in case.description
    assert str(case.amount_at_risk) == "9000.00 USD" and case.owner.value == "sales_ops"

    await stack.stripe.v1.customers.update_async(customer, params={"metadata": {"erp_customer_id": erp_customer}})
    resolved = await resolve_exception_case(
        stack.client, store, case.id, CaseAction.RETRY, "olga.ops", "restored the customer's ERP ID in Stripe"
    )
    state = await completed(stack, saga)

    assert state["erp_posting"]["total"] == "9000.00"
    assert (resolved.status, resolved.resolution) == (CaseStatus.RESOLVED, CaseAction.RETRY)
    final = await store.case(case.id)
    assert [(h.what, h.by) for h in final.history] == [("opened", "system"), ("retry", "olga.ops")]
    assert final.history[-1].why == "restored the customer's ERP ID in Stripe"
    kinds = [r.kind for r in await store.audit_records(workflow_id=saga)]
    assert kinds.count(AuditEventKind.EXCEPTION_OPENED) == 1 and kinds.count(AuditEventKind.EXCEPTION_RESOLVED) == 1
    assert kinds[-1] is AuditEventKind.WRITE_BACK  # resumed from the parked step to the end
    assert await store.open_cases() == []


async def _open_cases_of(store: OperationalStore, workflow_id: str) -> list[ExceptionCase]:
    for _ in range(100):  # the case is opened by an activity right after the saga parks
        cases = [c for c in await store.open_cases() if c.workflow_id == workflow_id]
        if cases:
            return cases
        await asyncio.sleep(0.1)
    raise AssertionError(f"no case opened for {workflow_id}")


def _ids(refs: dict[System, CrossReference]) -> dict[System, str]:
    return {system: ref.external_id for system, ref in refs.items()}
