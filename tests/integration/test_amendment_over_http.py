"""The reference year's mid-July expansion end to end over HTTP: the amendment closes in Salesforce, whose
Outbound Message (Type Amendment) starts AmendmentToInvoice; it takes the contract's turn, validates against
the contract on record, previews and applies the change in Stripe (prorated to the second), tells the revenue
engine, and writes the new version back; the prorated invoice then goes through invoice → revenue once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from adapters.memory.reference_deals import AMENDMENT_OPPORTUNITY, demo_deals, reference_amendment
from adapters.store.records import AuditEventKind, EntityKind
from adapters.store.store import OperationalStore
from canonical.amendment import amend_contract
from canonical.amendment_mapping import build_amendment
from canonical.amendment_saga import AmendmentState
from canonical.crm_amendment import CrmAmendment, CrmAmendmentChangeRecord
from canonical.problems import ExceptionCategory
from canonical.references import System
from canonical.saga import ApprovalDecision, Resubmission, SagaStatus
from cli.billing_year import advance, invoices_of
from sandbox.faults import FaultConfig, FaultRule
from sandbox.salesforce.seed import close_opportunity, get_token, seed_salesforce
from tests.integration.invoicing_stack import Stack, completed, record_history, subscribed
from workflows.invoice_client import amendment_workflow_id, invoice_workflow_id, retry_parked, start_amendment


async def months_until(stack: Stack, moment: datetime) -> None:
    """Move the test clock a month at a time (Stripe's limit), up to `moment`."""
    month = 2
    while datetime(2027, month, 1, tzinfo=UTC) < moment:
        await advance(stack.stripe, stack.clock, datetime(2027, month, 1, 2, tzinfo=UTC))
        month += 1
    await advance(stack.stripe, stack.clock, moment)


async def test_the_july_expansion_is_invoiced_prorated_recorded_and_written_back(stack: Stack) -> None:
    customer = await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    salesforce = stack.sandbox.urls["salesforce"]
    token = await get_token(salesforce, stack.sandbox.salesforce.client_id, stack.sandbox.salesforce.client_secret)

    await close_opportunity(salesforce, token, AMENDMENT_OPPORTUNITY)
    state = await completed(stack, amendment_workflow_id(AMENDMENT_OPPORTUNITY))

    assert state["status"] == "completed"
    assert (state["from_version"], state["to_version"]) == (1, 2)
    assert state["modification"]["treatment"] == "prospective"
    assert state["preview"]["total"] == {"amount": "3564.51", "currency": "USD"}  # 2,467.74 + 1,096.77
    [invoice_id] = state["billing_change"]["invoice_ids"]
    prorated = next(i for i in await invoices_of(stack.stripe, customer) if i.id == invoice_id)
    assert sorted(line.amount for line in prorated.lines.data) == [109677, 246774]
    posted = await completed(stack, invoice_workflow_id(invoice_id))
    assert posted["erp_posting"]["total"] == "3564.51"
    on_record = await stack.revenue.contract_on_record("CTR-006NW0000000001")
    assert on_record.contract.version == 2
    # The operational store: contract v2's IDs in the CRM and billing, the prorated invoice, and the saga's audit
    # trail from the CRM read to the write-back, under its own workflow and correlation ID.
    store = stack.systems.store
    assert isinstance(store, OperationalStore)
    version_2 = await store.references_of(EntityKind.CONTRACT, "CTR-006NW0000000001", version=2)
    assert {system: ref.external_id for system, ref in version_2.items()} == {
        System.CRM: AMENDMENT_OPPORTUNITY,
        System.BILLING: on_record.billing_subscription_id,
        System.REVENUE: state["modification"]["revenue_contract_id"],
    }
    assert System.BILLING in await store.references_of(EntityKind.INVOICE, invoice_id)
    saga = amendment_workflow_id(AMENDMENT_OPPORTUNITY)
    trail = await store.audit_records(workflow_id=saga)
    kinds = [record.kind for record in trail]
    assert kinds[0] is AuditEventKind.SOURCE_READ and kinds[-1] is AuditEventKind.WRITE_BACK
    assert {AuditEventKind.TRANSFORMED, AuditEventKind.POSTED} <= set(kinds)
    assert {record.correlation_id for record in trail} == {saga}
    assert await store.verify_audit_chain() is None
    again = await start_amendment(stack.client, AMENDMENT_OPPORTUNITY, stack.policy["current"], stack.task_queue)
    assert not again.started
    await record_history(stack, amendment_workflow_id(AMENDMENT_OPPORTUNITY), "amendment_reference_expansion")


def another_amendment(opportunity_id: str, version: int, line_no: int, product: str, quantity: int) -> CrmAmendment:
    """A second change to the reference contract, like the reference amendment but to one line only."""
    change = CrmAmendmentChangeRecord(
        change_no=1,
        change="quantity",
        product_code=product,
        line_no=line_no,
        quantity=Decimal(quantity),
        net_unit_price=Decimal("2000.00") if product == "PREM-MOD" else Decimal("90.00"),
    )
    return reference_amendment().model_copy(
        update={
            "opportunity_id": opportunity_id,
            "name": f"Northwind: {product} to {quantity}",
            "contract_version": version,
            "changes": (change,),
        }
    )


async def seed_and_sign(stack: Stack, *amendments: CrmAmendment) -> None:
    """Put the amendments in Salesforce (open), then close them all at the same moment."""
    sandbox = stack.sandbox
    salesforce, client_id = sandbox.urls["salesforce"], sandbox.salesforce.client_id
    secret = sandbox.salesforce.client_secret
    await seed_salesforce(salesforce, client_id, secret, demo_deals(), amendments=amendments)
    token = await get_token(salesforce, client_id, secret)
    await asyncio.gather(*(close_opportunity(salesforce, token, a.opportunity_id) for a in amendments))


async def test_two_amendments_signed_at_the_same_instant_apply_one_after_the_other_in_version_order(
    stack: Stack,
) -> None:
    await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    second = another_amendment("006NW0000000005", 2, 5, "PREM-MOD", 2)  # made against the version the first makes

    await seed_and_sign(stack, second, reference_amendment())
    first_state = await completed(stack, amendment_workflow_id(AMENDMENT_OPPORTUNITY))
    second_state = await completed(stack, amendment_workflow_id(second.opportunity_id))

    assert (first_state["from_version"], first_state["to_version"]) == (1, 2)
    assert (second_state["from_version"], second_state["to_version"]) == (2, 3)
    assert second_state["preview"]["total"] == {"amount": "1096.77", "currency": "USD"}  # one more module, 17/31
    on_record = await stack.revenue.contract_on_record("CTR-006NW0000000001")
    assert on_record.contract.version == 3
    subscription = await stack.stripe.v1.subscriptions.retrieve_async(on_record.billing_subscription_id)
    quantities = sorted((item.price.metadata["line_no"], item.quantity) for item in subscription["items"]["data"])
    assert quantities == [("1", 100), ("3", None), ("4", 50), ("5", 1), ("6", 1)]
    await record_history(stack, amendment_workflow_id(second.opportunity_id), "amendment_waiting_for_an_earlier_one")


async def test_a_stale_amendment_parks_as_missing_reference_until_fixed_in_the_crm_and_retried(stack: Stack) -> None:
    await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    await seed_and_sign(stack, reference_amendment())
    await completed(stack, amendment_workflow_id(AMENDMENT_OPPORTUNITY))
    stale = another_amendment("006NW0000000006", 1, 1, "PLAT-SEAT", 110)  # drafted before the expansion

    await seed_and_sign(stack, stale)
    workflow_id = amendment_workflow_id(stale.opportunity_id)
    parked = await state_when(stack, workflow_id, SagaStatus.NEEDS_ATTENTION)

    assert parked.exception is not None
    assert parked.exception.category is ExceptionCategory.MISSING_AMENDMENT_REFERENCE
    assert "references_version" in parked.exception.message or "contract_version" in parked.exception.message
    assert (await stack.revenue.contract_on_record("CTR-006NW0000000001")).contract.version == 2  # nothing guessed
    fixed = stale.model_copy(update={"contract_version": 2})
    sandbox = stack.sandbox
    await seed_salesforce(
        sandbox.urls["salesforce"],
        sandbox.salesforce.client_id,
        sandbox.salesforce.client_secret,
        demo_deals(),
        amendments=(fixed,),
    )
    await retry_parked(stack.client, workflow_id, Resubmission(requested_by="olga.ops", note="now against v2"))
    state = await completed(stack, workflow_id)
    assert (state["from_version"], state["to_version"]) == (2, 3)
    await record_history(stack, workflow_id, "amendment_stale_then_retried")


async def test_a_mid_term_downgrade_waits_for_finance_then_credits_the_unused_seats(stack: Stack) -> None:
    await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    fewer = another_amendment("006NW0000000007", 1, 1, "PLAT-SEAT", 80)

    await seed_and_sign(stack, fewer)
    workflow_id = amendment_workflow_id(fewer.opportunity_id)
    waiting = await state_when(stack, workflow_id, SagaStatus.AWAITING_APPROVAL)

    assert [reason.rule for reason in waiting.approval_reasons] == ["downgrade"]
    assert waiting.preview is not None and waiting.preview.total.is_negative  # 20 seats for 17/31 of July back
    assert (await stack.revenue.contract_on_record("CTR-006NW0000000001")).contract.version == 1  # nothing yet
    with pytest.raises(WorkflowUpdateFailedError):  # the deal owner may not approve their own amendment
        await stack.client.get_workflow_handle(workflow_id).execute_update(
            "decide", ApprovalDecision(approver="sam.seller", approved=True)
        )
    await stack.client.get_workflow_handle(workflow_id).execute_update(
        "decide", ApprovalDecision(approver="fiona.finance", approved=True, note="retention")
    )
    state = await completed(stack, workflow_id)

    assert (state["from_version"], state["to_version"]) == (1, 2)
    [credit_note] = state["billing_change"]["credit_note_ids"]
    posted = await completed(stack, invoice_workflow_id(credit_note))
    assert posted["kind"] == "credit_note" and posted["erp_posting"]["record_type"] == "creditMemo"


async def state_when(stack: Stack, workflow_id: str, wanted: SagaStatus | None) -> AmendmentState:
    """The saga's state once it has status `wanted` (None: once it exists)."""
    handle = stack.client.get_workflow_handle(workflow_id)
    for _ in range(300):
        try:
            state = AmendmentState.model_validate(await handle.query("state"))
            if wanted is None or state.status is wanted:
                return state
        except Exception as error:  # not started yet: the Outbound Message is on its way
            if "not found" not in str(error).lower():
                raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {wanted}")


CHANGES = {
    "term_extension": (CrmAmendmentChangeRecord(change_no=1, change="term_extension", term_end=date(2028, 6, 30)), []),
    "cancellation": (
        CrmAmendmentChangeRecord(change_no=1, change="cancellation", cancellation="period_end"),
        ["cancellation"],
    ),
    "remove_product": (
        CrmAmendmentChangeRecord(change_no=1, change="remove_product", product_code="API-OVG", line_no=3),
        ["downgrade"],
    ),
    "price": (
        CrmAmendmentChangeRecord(
            change_no=1, change="price", product_code="PLAT-SEAT", line_no=1, net_unit_price=Decimal("95.00")
        ),
        ["downgrade"],
    ),
}


@pytest.mark.parametrize("kind", sorted(CHANGES))
async def test_each_kind_of_change_reaches_billing_and_revenue(stack: Stack, kind: str) -> None:
    await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    change, approvals = CHANGES[kind]
    amendment = reference_amendment().model_copy(
        update={"opportunity_id": "006NW0000000008", "name": f"Northwind: {kind}", "changes": (change,)}
    )

    await seed_and_sign(stack, amendment)
    workflow_id = amendment_workflow_id(amendment.opportunity_id)
    if approvals:
        waiting = await state_when(stack, workflow_id, SagaStatus.AWAITING_APPROVAL)
        assert [reason.rule for reason in waiting.approval_reasons] == approvals
        decision = ApprovalDecision(approver="fiona.finance", approved=True)
        await stack.client.get_workflow_handle(workflow_id).execute_update("decide", decision)
    state = await completed(stack, workflow_id)

    assert (state["status"], state["to_version"]) == ("completed", 2)
    on_record = await stack.revenue.contract_on_record("CTR-006NW0000000001")
    assert on_record.contract.version == 2
    subscription = await stack.stripe.v1.subscriptions.retrieve_async(on_record.billing_subscription_id)
    if kind == "term_extension":
        assert subscription.cancel_at == int(datetime(2028, 7, 1, tzinfo=UTC).timestamp())
        assert on_record.contract.term_end == date(2028, 6, 30)
    elif kind == "cancellation":
        assert subscription.cancel_at_period_end or subscription.cancel_at == int(
            datetime(2027, 8, 1, tzinfo=UTC).timestamp()
        )
    elif kind == "remove_product":
        lines = {item.price.metadata["line_no"] for item in subscription["items"]["data"]}
        assert lines == {"1"}  # the usage line is gone from billing
    else:
        prices = {item.price.metadata["line_no"]: item.price.unit_amount for item in subscription["items"]["data"]}
        assert prices["4"] == 9500 and "1" not in prices  # the old price ended, the new one billed from 15 July


async def test_when_the_crm_refuses_the_write_back_billing_and_revenue_are_reversed(stack: Stack) -> None:
    customer = await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    await seed_and_sign(stack, reference_amendment())
    # From now on Salesforce refuses q2c's write-back onto the amendment, for good (the saga is still validating).
    refuse = FaultRule(kind="error", rate=1.0, method="PATCH", path=f".*/{AMENDMENT_OPPORTUNITY}$", status=400)
    stack.sandbox.faults["salesforce"].configure(FaultConfig(rules=[refuse]))
    handle = stack.client.get_workflow_handle(amendment_workflow_id(AMENDMENT_OPPORTUNITY))
    await state_when(stack, handle.id, None)  # started by the Outbound Message
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), timeout=60)
    stack.sandbox.faults["salesforce"].configure(FaultConfig())

    state = AmendmentState.model_validate(await handle.query("state"))
    assert state.status is SagaStatus.COMPENSATED
    assert any(undone.startswith("reversed billing change") for undone in state.compensated)
    on_record = await stack.revenue.contract_on_record("CTR-006NW0000000001")
    subscription = await stack.stripe.v1.subscriptions.retrieve_async(on_record.billing_subscription_id)
    assert {item.price.metadata["line_no"] for item in subscription["items"]["data"]} == {"1", "3"}
    invoices = await invoices_of(stack.stripe, customer)
    credits = await stack.stripe.v1.credit_notes.list_async(params={"customer": customer})
    charged = sum(i.total for i in invoices if i.created >= int(datetime(2027, 7, 15, tzinfo=UTC).timestamp()))
    assert charged - sum(note.total for note in credits.data) == 0  # the prorated charge was credited back
    # The reversing credit note went through invoice → revenue; then the modification could be withdrawn, so the
    # engine is back at the version the CRM knows, and what was billed on the amendment's terms nets to zero.
    assert any(undone.startswith("withdrew revenue modification") for undone in state.compensated)
    assert on_record.contract.version == 1
    export = await stack.revenue.year_export(date(2027, 1, 1), date(2027, 12, 31))
    recorded = {document["document_id"] for document in export["documents"]}
    assert credits.data and {note.id for note in credits.data} <= recorded


async def test_an_invoice_for_the_new_terms_arriving_before_its_amendment_waits_for_it(stack: Stack) -> None:
    """Billing moved first (the change applied under the saga's own key, as a saga run cut off after billing would
    leave it): the prorated invoice's webhook starts invoice → revenue before the engine knows the amendment's lines.
    It waits for them instead of parking, and once the amendment saga records the modification it completes; the
    saga's billing step finds the change applied already, so nothing is billed twice."""
    customer = await subscribed(stack)
    await months_until(stack, datetime(2027, 7, 15, 0, 0, 1, tzinfo=UTC))
    on_record = await stack.revenue.contract_on_record("CTR-006NW0000000001")
    amendment = build_amendment(reference_amendment(), on_record.contract, stack.rules)
    amended = amend_contract(on_record.contract, amendment)
    assert stack.systems.amendments is not None
    applied = await stack.systems.amendments.billing.apply_amendment(
        on_record.billing_subscription_id,
        amended,
        amendment,
        f"{amendment_workflow_id(AMENDMENT_OPPORTUNITY)}/billing_change",
    )
    (prorated,) = applied.invoice_ids
    waiting = invoice_workflow_id(prorated)
    assert "waiting for the amendment that adds it" in await retrying_because(stack, waiting)

    await seed_and_sign(stack, reference_amendment())
    state = await completed(stack, amendment_workflow_id(AMENDMENT_OPPORTUNITY))
    assert state["status"] == SagaStatus.COMPLETED and state["billing_change"]["invoice_ids"] == [prorated]
    await completed(stack, waiting)
    export = await stack.revenue.year_export(date(2027, 1, 1), date(2027, 12, 31))
    assert prorated in {document["document_id"] for document in export["documents"]}
    july = [
        i
        for i in await invoices_of(stack.stripe, customer)
        if i.created >= int(datetime(2027, 7, 15, tzinfo=UTC).timestamp())
    ]
    assert [invoice.id for invoice in july] == [prorated]


async def retrying_because(stack: Stack, workflow_id: str, timeout: float = 30.0) -> str:
    """The last failure of the activity a running saga keeps retrying (waits for the saga and the failure)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            description = await stack.client.get_workflow_handle(workflow_id).describe()
        except RPCError:  # the webhook has not started it yet
            description = None
        if description is not None:
            assert description.status is WorkflowExecutionStatus.RUNNING
            for pending in description.raw_description.pending_activities:
                if pending.last_failure.message:
                    return pending.last_failure.message
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} retried nothing in {timeout} s")
