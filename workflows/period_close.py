"""PeriodClose: one accounting period's revenue, recognised for every contract and posted to the ERP.

Steps: find the ERP period → read each usage line's metered usage for the period from billing (usage is
recognised in the month it occurs, before it is invoiced) → recognise revenue through the period's end in the
revenue engine, which returns one summarised journal per legal entity and currency and keeps the per-contract
detail as the drill-down → post those journals to the ERP (external IDs from the period) → lock the period in the
revenue engine. Every step is idempotent, so the close can be run again: it finds nothing new to recognise,
posts nothing twice, and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa  # "from workflows import" would re-run the module in each sandbox
    from activities.invoice_to_revenue import (
        BillingDocumentActivities,
        GeneralLedgerActivities,
        RevenueLedgerActivities,
    )
    from canonical.general_ledger import AccountingPeriod
    from canonical.invoice_saga import PeriodCloseInput, PeriodCloseState, PeriodCloseStep
    from canonical.saga import Resubmission, SagaStatus, SagaType
    from workflows.saga_details import describe_period_close
    from workflows.saga_steps import SagaSteps, SearchAttributes, step_key

R = TypeVar("R")


@workflow.defn(name="PeriodClose")
class PeriodClose:
    @workflow.init
    def __init__(self, saga_input: PeriodCloseInput) -> None:
        self._state = PeriodCloseState(period_on=saga_input.period_on)
        self._attributes = SearchAttributes(saga_input.policy.search_attribute_updates)
        self._steps = SagaSteps(saga_input.policy, self._state, self._publish)

    @workflow.run
    async def run(self, saga_input: PeriodCloseInput) -> PeriodCloseState:
        self._publish()
        period = await self._step(
            PeriodCloseStep.ACCOUNTING_PERIOD,
            GeneralLedgerActivities.find_accounting_period,
            saga_input.period_on,
            summary=f"Find the ERP period of {saga_input.period_on}",
        )
        self._state.period = period
        usage = await self._metered_usage(period)
        journals = await self._step(
            PeriodCloseStep.RECOGNISE,
            RevenueLedgerActivities.recognise_revenue_for_period,
            period,
            usage,
            step_key(PeriodCloseStep.RECOGNISE),
            summary=f"Recognise revenue through {period.end} for every contract",
        )
        posted = []
        for journal in journals:
            posted.append(
                await self._step(
                    PeriodCloseStep.ERP_JOURNALS,
                    GeneralLedgerActivities.post_journal_to_erp,
                    journal,
                    summary=f"Post {journal.external_id} ({journal.legal_entity}, {journal.currency})",
                )
            )
            self._state.journals = tuple(posted)
        await self._step(
            PeriodCloseStep.LOCK,
            RevenueLedgerActivities.lock_revenue_period,
            period,
            step_key(PeriodCloseStep.LOCK),
            summary=f"Lock {period.name} in the revenue engine",
        )
        self._steps.move_to(PeriodCloseStep.DONE, SagaStatus.COMPLETED, exception=None)
        return self._state

    @workflow.query
    def state(self) -> PeriodCloseState:
        return self._state

    @workflow.update
    def retry(self, request: Resubmission) -> str:
        self._steps.parking.request_retry(request)
        return f"retry requested by {request.requested_by}"

    @retry.validator
    def _validate_retry(self, request: Resubmission) -> None:
        self._steps.validate_retry()

    async def _metered_usage(self, period: AccountingPeriod) -> tuple[Any, ...]:
        lines = await self._step(
            PeriodCloseStep.METERED_USAGE,
            RevenueLedgerActivities.usage_lines_for_period,
            period,
            summary=f"List the usage lines active in {period.name}",
        )
        self._state.usage_lines = len(lines)
        readings = [
            self._step(
                PeriodCloseStep.METERED_USAGE,
                BillingDocumentActivities.read_metered_usage,
                line,
                period.start,
                period.end,
                summary=f"Read the metered usage of {line.contract_id} line {line.line_no}",
            )
            for line in lines
        ]
        return tuple(await asyncio.gather(*readings))

    async def _step(self, step: PeriodCloseStep, activity: Callable[..., Awaitable[R]], *args: Any, summary: str) -> R:
        return await self._steps.run(step, activity, *args, summary=summary)

    def _publish(self) -> None:
        state = self._state
        self._attributes.publish(
            {
                sa.SAGA_TYPE: SagaType.PERIOD_CLOSE.value,
                sa.SAGA_STATUS: state.status.value,
                sa.SAGA_STEP: state.step.value,
                sa.ACCOUNTING_PERIOD: f"{state.period_on:%Y-%m}",
                sa.EXCEPTION_CATEGORY: state.exception.category.value if state.exception else None,
            },
            describe_period_close(state),
        )
