"""Reconciliation end to end over real HTTP, on a real dev server: after the reference deal's first invoice went
through invoice → revenue, the Reconciliation workflow finds Stripe, NetSuite and the revenue engine in agreement;
after someone edits the invoice in NetSuite, it finds the break and files it as an exception case."""

from __future__ import annotations

from datetime import date

from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from adapters.store import OperationalStore
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.reconciliation import BreakKind
from cli.billing_year import invoices_of
from cli.reconciliation import reconcile
from cli.reconciliation_demo import EDIT, edit_latest_invoice
from tests.integration.invoicing_stack import Stack, completed, subscribed
from workflows.invoice_client import invoice_workflow_id
from workflows.reconciliation_client import SCHEDULE_ID, create_daily_schedule_if_missing, ensure_daily_schedule

FIRST_INVOICE_DAY = date(2027, 1, 1)


async def test_reconciliation_is_clean_then_finds_an_invoice_edited_in_the_erp(stack: Stack) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    await completed(stack, invoice_workflow_id(january.id))

    clean = await reconcile(stack.client, stack.task_queue, FIRST_INVOICE_DAY, FIRST_INVOICE_DAY)

    assert clean.clean, clean.breaks_by_kind
    assert (clean.billing_documents, clean.erp_postings) == (1, 1)
    assert clean.accounts > 0  # both ledgers' balances were compared

    assert await edit_latest_invoice(stack.erp) == january.id
    broken = await reconcile(stack.client, stack.task_queue, FIRST_INVOICE_DAY, FIRST_INVOICE_DAY)

    assert broken.run_id != clean.run_id
    assert broken.breaks_by_kind[BreakKind.AMOUNT_MISMATCH] == 1
    assert broken.breaks_by_kind[BreakKind.DAILY_TOTAL_MISMATCH] == 1
    assert isinstance(stack.systems.store, OperationalStore)
    cases = {
        c.workflow_id: c for c in await stack.systems.store.open_cases(category=ExceptionCategory.RECONCILIATION_BREAK)
    }
    case = cases[f"reconciliation/amount_mismatch/{january.id}"]
    assert case.amount_at_risk == Money.of(EDIT, "USD")
    assert case.owner.value == "controllership"


async def test_the_daily_schedule_is_created_once_and_then_updated(temporal_server: WorkflowEnvironment) -> None:
    client = temporal_server.client

    assert await ensure_daily_schedule(client, "q2c-recon-test", hour_utc=2)
    assert not await ensure_daily_schedule(client, "q2c-recon-test", hour_utc=5)  # already there: brought up to date

    described = await client.get_schedule_handle(SCHEDULE_ID).describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == ("Reconciliation", "q2c-recon-test")
    [calendar] = described.schedule.spec.calendars
    assert [r.start for r in calendar.hour] == [5]
    # A worker starting up leaves an existing schedule's hour alone.
    assert not await create_daily_schedule_if_missing(client, "q2c-recon-test")
    [calendar] = (await client.get_schedule_handle(SCHEDULE_ID).describe()).schedule.spec.calendars
    assert [r.start for r in calendar.hour] == [5]
