"""What the sagas' activities write to the operational store, on SQLite and PostgreSQL, and `q2c audit verify`
catching an audit record edited behind the store's back.

The activities run as Temporal runs them (`ActivityEnvironment`, with the saga's workflow and run IDs) against the
in-memory systems; the store is real.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.testing import ActivityEnvironment

from activities.closed_won import (
    BillingActivities,
    ContractMappingActivities,
    CrmActivities,
    ErpActivities,
    RevenueActivities,
)
from activities.exception_queue import CaseClosing, ExceptionQueueActivities, ParkedCase
from adapters.memory.reference_deals import INCOMPLETE_OPPORTUNITY, demo_deals
from adapters.memory.systems import InMemorySystems
from adapters.store import OperationalStore, sqlite_url
from adapters.store.records import AuditEventKind, CaseAction, CaseStatus, EntityKind, OwnerRole
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System, SystemReferences
from canonical.saga import ApprovalDecision, RecordedDecision, SagaOutcome, SagaStatus
from tests.cli.helpers import q2c
from tests.store.conftest import execute_sql
from workers.config_files import load_mapping_rules

R = TypeVar("R")
SAGA = "closed-won/006NW0000000001"
_activity_ids = itertools.count(1)


async def run(workflow_id: str, activity: Callable[..., Awaitable[R]], *args: Any) -> R:
    """Run one activity as the saga `workflow_id`'s next scheduled activity (each gets its own activity ID)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=workflow_id,
        workflow_run_id="run-1",
        activity_id=str(next(_activity_ids)),
        activity_type=getattr(activity, "__name__", "activity"),
    )
    return await env.run(activity, *args)


@pytest.fixture
def systems() -> InMemorySystems:
    seeded = InMemorySystems()
    for deal in demo_deals():
        seeded.crm.save_deal(deal)
    return seeded


@pytest.fixture(scope="module")
def rules() -> MappingRules:
    return load_mapping_rules()


async def test_closed_won_activities_record_each_systems_ids_and_what_happened(
    store: OperationalStore, systems: InMemorySystems, rules: MappingRules
) -> None:
    crm, mapping = CrmActivities(systems.crm, store), ContractMappingActivities(rules, store)
    erp, billing = ErpActivities(systems.erp, store), BillingActivities(systems.billing, store)
    revenue = RevenueActivities(systems.revenue, store)

    deal = await run(SAGA, crm.read_closed_won_deal, "006NW0000000001")
    contract = (await run(SAGA, mapping.map_deal_to_contract, deal)).contract
    assert contract is not None
    erp_customer = await run(SAGA, erp.match_or_create_erp_customer, contract.customer, f"{SAGA}/erp_customer")
    again = await run(SAGA, erp.match_or_create_erp_customer, contract.customer, f"{SAGA}/erp_customer")
    billing_customer = await run(
        SAGA, billing.match_or_create_billing_customer, contract.customer, erp_customer.customer_id, f"{SAGA}/bc"
    )
    subscription = await run(SAGA, billing.create_subscription, contract, billing_customer.customer_id, f"{SAGA}/s")
    registered = await run(SAGA, revenue.register_revenue_contract, contract, subscription.subscription_id, f"{SAGA}/r")
    decision = RecordedDecision(
        decision=ApprovalDecision(approver="fiona.finance", approved=True, note="ok for Q1"),
        decided_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    references = SystemReferences(crm_opportunity_id="006NW0000000001")
    outcome = SagaOutcome(
        workflow_id=SAGA, status=SagaStatus.COMPLETED, references=references, contract_id=contract.contract_id
    )
    await run(SAGA, crm.write_saga_outcome_to_crm, "006NW0000000001", outcome, f"{SAGA}/crm", decision)

    assert again == erp_customer
    customer = await store.references_of(EntityKind.CUSTOMER, contract.customer.crm_account_id)
    assert {s: r.external_id for s, r in customer.items()} == {
        System.ERP: erp_customer.customer_id,
        System.BILLING: billing_customer.customer_id,
    }
    versioned = await store.references_of(EntityKind.CONTRACT, contract.contract_id, version=1)
    assert {s: r.external_id for s, r in versioned.items()} == {
        System.CRM: "006NW0000000001",
        System.BILLING: subscription.subscription_id,
        System.REVENUE: registered.revenue_contract_id,
    }
    assert {r.saga_id for r in versioned.values()} == {SAGA}
    records = await store.audit_records(workflow_id=SAGA)
    assert [r.kind for r in records] == [
        AuditEventKind.SOURCE_READ,
        AuditEventKind.TRANSFORMED,
        AuditEventKind.POSTED,  # the ERP customer, created
        AuditEventKind.POSTED,  # ... and matched again: a second scheduled activity, so a second record
        AuditEventKind.POSTED,
        AuditEventKind.POSTED,
        AuditEventKind.POSTED,
        AuditEventKind.APPROVAL,
        AuditEventKind.WRITE_BACK,
    ]
    approval = records[-2]
    assert (approval.actor, approval.note) == ("fiona.finance", "approved deal 006NW0000000001: ok for Q1")
    assert records[1].mapping_version == rules.version
    assert {(r.correlation_id, r.run_id) for r in records} == {(SAGA, "run-1")}
    assert await store.verify_audit_chain() is None


async def test_a_retried_activity_appends_nothing_twice(store: OperationalStore, systems: InMemorySystems) -> None:
    crm = CrmActivities(systems.crm, store)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=SAGA, activity_type="read_closed_won_deal")

    for attempt in (1, 2):
        env.info = dataclasses.replace(env.info, attempt=attempt)
        await env.run(crm.read_closed_won_deal, "006NW0000000001")

    assert len(await store.audit_records(workflow_id=SAGA)) == 1


async def test_a_parked_saga_opens_one_case_and_its_resumption_closes_it(store: OperationalStore) -> None:
    queue = ExceptionQueueActivities(store)
    saga = f"closed-won/{INCOMPLETE_OPPORTUNITY}"
    parked = ParkedCase(
        category=ExceptionCategory.MASTER_DATA_MISMATCH,
        description="Account.Tax_ID__c is missing",
        amount_at_risk=Money.of("1200.00", "USD"),
    )

    case_id = await run(saga, queue.open_exception_case, parked)
    assert await run(saga, queue.open_exception_case, parked) == case_id  # the same parking, retried
    assert case_id is not None
    closing = CaseClosing(case_id=case_id, action=CaseAction.RETRY, by="olga.ops", reason="added the tax ID")
    await run(saga, queue.close_exception_case, closing)
    await run(saga, queue.close_exception_case, closing)  # retried: nothing more

    case = await store.case(case_id)
    assert (case.status, case.owner, str(case.amount_at_risk)) == (
        CaseStatus.RESOLVED,
        OwnerRole.SALES_OPS,
        "1200.00 USD",
    )
    assert [(h.what, h.by, h.why) for h in case.history] == [
        ("opened", "system", "Account.Tax_ID__c is missing"),
        ("retry", "olga.ops", "added the tax ID"),
    ]
    kinds = [r.kind for r in await store.audit_records(workflow_id=saga)]
    assert kinds == [AuditEventKind.EXCEPTION_OPENED, AuditEventKind.EXCEPTION_RESOLVED]


async def test_without_a_store_the_activities_record_nothing_and_still_work(systems: InMemorySystems) -> None:
    deal = await run(SAGA, CrmActivities(systems.crm).read_closed_won_deal, "006NW0000000001")
    assert deal.opportunity.opportunity_id == "006NW0000000001"
    assert await run(SAGA, ExceptionQueueActivities(None).open_exception_case, _parked()) is None


async def test_audit_verify_exits_non_zero_naming_an_edited_record(tmp_path: Path, systems: InMemorySystems) -> None:
    url = sqlite_url(tmp_path / "q2c.sqlite")
    async with await OperationalStore.open(url) as store:
        crm = CrmActivities(systems.crm, store)
        for opportunity in ("006NW0000000001", "006NW0000000003", INCOMPLETE_OPPORTUNITY):
            await run(f"closed-won/{opportunity}", crm.read_closed_won_deal, opportunity)

        holds = q2c("audit", "verify", "--database", url)
        assert holds.returncode == 0, holds.stderr
        assert "The audit chain holds: 3 record(s)" in holds.stdout

        await execute_sql(store, "UPDATE audit_records SET actor = 'mallory' WHERE id = 2")
    broken = q2c("audit", "verify", "--database", url)

    assert broken.returncode == 1
    assert "audit chain is broken at record 2 (content_hash)" in broken.stderr
    assert "was changed after it was written" in broken.stderr
    assert "Traceback" not in broken.stderr


def _parked() -> ParkedCase:
    return ParkedCase(category=ExceptionCategory.SYSTEM_REJECTED, description="the ERP said no")


async def test_cases_lists_the_open_cases_and_resolve_dismiss_closes_one_with_who_and_why(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "q2c.sqlite")
    async with await OperationalStore.open(url) as store:
        queue = ExceptionQueueActivities(store)
        small = ParkedCase(
            category=ExceptionCategory.MAPPING_MISSING,
            description="no price for PREM-MOD",
            amount_at_risk=Money.of("90.00", "USD"),
        )
        large = small.model_copy(update={"amount_at_risk": Money.of("24000.00", "USD")})
        small_id = await run("invoice-to-revenue/in_small", queue.open_exception_case, small)
        large_id = await run("invoice-to-revenue/in_large", queue.open_exception_case, large)

        listed = q2c("cases", "--database", url)
        assert listed.returncode == 0, listed.stderr
        rows = [line for line in listed.stdout.splitlines() if "mapping_missing" in line]
        assert [row.split()[0] for row in rows] == [str(large_id), str(small_id)]  # largest amount at risk first
        assert "24,000.00 USD" in rows[0] and "billing_ops" in rows[0] and "invoice-to-revenue/in_large" in rows[0]

        dismissed = q2c(
            "cases", "resolve", str(small_id), "--action", "dismiss", "--as", "olga.ops", "--reason", "test invoice",
            "--database", url,
        )  # fmt: skip
        assert dismissed.returncode == 0, dismissed.stderr
        assert f"Case {small_id} dismissed (dismiss) by olga.ops: test invoice" in dismissed.stdout
        again = q2c(
            "cases", "resolve", str(small_id), "--action", "retry", "--as", "x", "--reason", "y", "--database", url
        )
        assert again.returncode == 1 and f"exception case {small_id} is already dismissed" in again.stderr

        assert [case.id for case in await store.open_cases()] == [large_id]
        history = (await store.case(small_id)).history
        assert (history[-1].by, history[-1].why) == ("olga.ops", "test invoice")
        resolved = [r for r in await store.audit_records() if r.kind is AuditEventKind.EXCEPTION_RESOLVED]
        assert [(r.workflow_id, r.actor) for r in resolved] == [("invoice-to-revenue/in_small", "olga.ops")]
