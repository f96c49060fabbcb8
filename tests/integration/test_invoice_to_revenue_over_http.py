"""Invoice → revenue, payment-settled and period-close sagas end to end over real HTTP, on a real dev server.

The reference deal closes in the Salesforce emulator and its saga subscribes Northwind in the Stripe emulator
on a test clock frozen at the contract start. From there Stripe's own webhooks reach the receiver, which starts
one saga per invoice, credit note and payment; the worker's adapters post to the NetSuite emulator and record
in the revenue engine (SQLite). Each test checks what the systems hold afterwards, not what the sagas say.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from canonical.erp_documents import erp_posting_for
from canonical.general_ledger import InvoicePosting
from canonical.invoice_saga import PeriodCloseState, PeriodDecision
from canonical.problems import ExceptionCategory
from canonical.saga import Resubmission, SagaStatus
from canonical.saga_policy import ClosedPeriodPolicy
from cli.billing_year import advance, invoices_of
from sandbox.netsuite import close_period
from tests.integration.invoicing_stack import (
    Stack,
    completed,
    erp_transactions,
    record_history,
    saga_state,
    subscribed,
    suiteql,
)
from workflows.invoice_client import (
    choose_period,
    invoice_workflow_id,
    payment_workflow_id,
    retry_parked,
    start_invoice_to_revenue,
    start_period_close,
)


async def test_an_invoice_reaches_the_erp_and_the_engine_once_despite_duplicates_and_a_worker_restart(
    stack: Stack,
) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    state = await completed(stack, invoice_workflow_id(january.id))

    assert state["status"] == "completed" and state["erp_posting"]["total"] == "24000.00"
    again = await start_invoice_to_revenue(stack.client, january.id, stack.policy["current"], stack.task_queue)
    assert not again.started  # a redelivered invoice.finalized starts nothing
    acknowledged = await stack.stripe.v1.invoices.retrieve_async(january.id)
    assert acknowledged.metadata["q2c_erp_transaction_id"] == state["erp_posting"]["internal_id"]
    [posted] = await erp_transactions(stack, january.id)
    gl = await suiteql(
        stack, f"SELECT account, credit FROM transactionaccountingline WHERE transaction = {posted['id']}"
    )
    credits = sorted(Decimal(str(line["credit"])) for line in gl if line.get("credit"))
    assert credits == [Decimal("9000.00"), Decimal("15000.00")]  # one per billed line, to deferred revenue

    # The worker goes down; February's invoice is issued meanwhile and, as if a worker had crashed right after
    # writing it, is already in the ERP. A new worker finishes the saga without a second posting.
    await stack.restart_worker()
    await advance(stack.stripe, stack.clock, datetime(2027, 2, 1, 2, tzinfo=UTC))
    february = next(i for i in await invoices_of(stack.stripe, customer) if i.id != january.id)
    document = await stack.systems.invoicing.billing.fetch_document(february.id)  # type: ignore[union-attr]
    posting = erp_posting_for(document, stack.rules)
    assert isinstance(posting, InvoicePosting)
    before = await stack.erp.post_invoice(posting)
    await stack.restart_worker()
    state = await completed(stack, invoice_workflow_id(february.id))

    assert state["erp_posting"]["internal_id"] == before.internal_id
    await record_history(stack, invoice_workflow_id(february.id), "invoice_to_revenue_after_a_worker_restart")
    assert len(await erp_transactions(stack, february.id)) == 1
    billed = (await stack.revenue.total_balances("USD")).billed
    assert str(billed) == "33000.00 USD"  # 24,000 + 9,000 (January's usage is within the allowance)


async def test_a_payment_is_applied_in_the_erp_the_revenue_engine_and_the_crm(stack: Stack) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    await completed(stack, invoice_workflow_id(january.id))
    await advance(stack.stripe, stack.clock, datetime(2027, 1, 21, tzinfo=UTC))

    await stack.stripe.v1.invoices.pay_async(january.id, params={"paid_out_of_band": True})
    state = await completed(stack, payment_workflow_id(january.id))

    assert state["amount"] == {"amount": "24000.00", "currency": "USD"}
    await record_history(stack, payment_workflow_id(january.id), "payment_settled")
    assert await stack.erp.invoice_amount_remaining(january.id) == Decimal(0)
    assert len(await erp_transactions(stack, f"PAY-{january.id}")) == 1
    assert str((await stack.revenue.total_balances("USD")).cash) == "24000.00 USD"
    [account] = await stack.systems.crm._client.query_all(  # type: ignore[attr-defined]
        "SELECT Q2C_Payment_Status__c, Q2C_Open_Receivable__c, Q2C_Last_Invoice_Paid__c FROM Account "
        "WHERE Id = '001NW0000000001'",
        "read the account's payment status",
    )
    assert (account["Q2C_Payment_Status__c"], account["Q2C_Last_Invoice_Paid__c"]) == ("current", january.id)


async def test_a_credit_note_in_a_closed_period_posts_in_the_next_one_or_waits_for_controllership(
    stack: Stack,
) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    await completed(stack, invoice_workflow_id(january.id))
    await close_period(stack.sandbox.urls["netsuite"], "2027-01")
    seats = next(line for line in january.lines.data if line.amount == 900000)

    async def credit(amount: int) -> str:
        line = {"type": "invoice_line_item", "invoice_line_item": seats.id, "amount": amount}
        note = await stack.stripe.v1.credit_notes.create_async(params={"invoice": january.id, "lines": [line]})
        return note.id

    # Policy: the next open period.
    first = await credit(10000)
    state = await completed(stack, invoice_workflow_id(first))
    assert (state["closed_period"]["name"], state["period"]["name"]) == ("Jan 2027", "Feb 2027")
    [memo] = await erp_transactions(stack, first)
    assert str(memo["postingperiod"]) == state["period"]["period_id"]

    # Policy: wait for controllership, who chooses the period through an Update.
    stack.policy["current"] = stack.policy["current"].model_copy(
        update={"closed_period": ClosedPeriodPolicy.AWAIT_DECISION}
    )
    second = await credit(20000)
    waiting = await saga_state(stack, invoice_workflow_id(second), SagaStatus.AWAITING_APPROVAL)
    assert waiting.exception is not None and waiting.exception.category is ExceptionCategory.CLOSED_PERIOD
    assert await erp_transactions(stack, second) == []
    march = await stack.erp.accounting_period_for(datetime(2027, 3, 1).date())
    with pytest.raises(WorkflowUpdateFailedError):  # the deal owner is no controller
        await stack.client.get_workflow_handle(invoice_workflow_id(second)).execute_update(
            "decide_period", PeriodDecision(decided_by="sam.seller", period_id=march.period_id)
        )
    controller = PeriodDecision(decided_by="carl.controller", period_id=march.period_id)
    await choose_period(stack.client, invoice_workflow_id(second), controller)
    state = await completed(stack, invoice_workflow_id(second))
    assert state["period"]["name"] == "Mar 2027"
    await record_history(stack, invoice_workflow_id(second), "credit_note_period_chosen_by_controllership")
    [memo] = await erp_transactions(stack, second)
    assert str(memo["postingperiod"]) == march.period_id
    assert str((await stack.revenue.total_balances("USD")).billed) == "23700.00 USD"  # 24,000 − 100 − 200


async def test_closing_a_period_posts_one_journal_and_running_it_again_changes_nothing(stack: Stack) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    await completed(stack, invoice_workflow_id(january.id))
    await advance(stack.stripe, stack.clock, datetime(2027, 1, 31, 23, tzinfo=UTC))

    runs = []
    for _ in range(2):
        started = await start_period_close(
            stack.client, datetime(2027, 1, 1).date(), stack.policy["current"], stack.task_queue
        )
        runs.append(PeriodCloseState.model_validate(await started.handle.result()))

    first, second = runs
    assert [j.external_id for j in first.journals] == ["q2c-close-2027-01-US01-USD"]
    assert first.journals == second.journals  # the same journal, found again, not a second one
    assert len(await erp_transactions(stack, "q2c-close-2027-01-US01-USD")) == 1
    await record_history(stack, "period-close/2027-01", "period_close")
    # January: 31/365 of the platform's allocation (106,956.52), and no usage over the allowance.
    assert str((await stack.revenue.total_balances("USD")).recognised) == "9083.98 USD"
    january_period = await stack.erp.accounting_period_for(datetime(2027, 1, 31).date())
    erp = await stack.erp.cumulative_trial_balance(january_period)
    engine = await stack.revenue.balances_by_account()
    assert {a: v for a, v in erp.items() if v} == {a: v for a, v in engine.items() if v}


async def test_bad_master_data_parks_the_saga_with_nothing_posted_until_someone_fixes_it_and_retries(
    stack: Stack,
) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    await completed(stack, invoice_workflow_id(january.id))
    erp_customer = (await stack.stripe.v1.customers.retrieve_async(customer)).metadata["erp_customer_id"]
    await stack.stripe.v1.customers.update_async(customer, params={"metadata": {"erp_customer_id": ""}})

    await advance(stack.stripe, stack.clock, datetime(2027, 2, 1, 2, tzinfo=UTC))
    february = next(i for i in await invoices_of(stack.stripe, customer) if i.id != january.id)
    parked = await saga_state(stack, invoice_workflow_id(february.id), SagaStatus.NEEDS_ATTENTION)

    assert parked.exception is not None and parked.exception.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "erp_customer_id" in parked.exception.message and february.id in parked.exception.message
    assert await erp_transactions(stack, february.id) == []
    await stack.stripe.v1.customers.update_async(customer, params={"metadata": {"erp_customer_id": erp_customer}})
    await retry_parked(stack.client, invoice_workflow_id(february.id), Resubmission(requested_by="olga.ops"))
    state = await completed(stack, invoice_workflow_id(february.id))
    assert state["erp_posting"]["total"] == "9000.00"
    await record_history(stack, invoice_workflow_id(february.id), "invoice_to_revenue_parked_and_retried")
    assert len(await erp_transactions(stack, february.id)) == 1
