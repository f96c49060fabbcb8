"""The activities of the amendment → invoice saga: one class per system, as in `activities.closed_won`.

`ContractTurnActivities` is the one that talks to Temporal itself: a workflow cannot signal-with-start another,
so asking the contract's sequencer for a turn (starting it if it is not running) is an activity.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from activities.temporal_errors import classified_adapter_errors
from adapters.ports import BillingAmendmentPort, CrmAmendmentPort, RevenueModificationPort
from canonical.amendment import (
    Amendment,
    AppliedBillingChange,
    BillingPreview,
    ContractOnRecord,
    CrmAmendmentOutcome,
    ModificationOutcome,
    amend_contract,
)
from canonical.amendment_mapping import build_amendment
from canonical.amendment_saga import AmendmentMapping, TurnRequest
from canonical.contract import Contract
from canonical.crm_amendment import CrmAmendment
from canonical.mapping_rules import MappingRules
from canonical.problems import InvalidRecordError


class CrmAmendmentActivities:
    def __init__(self, crm: CrmAmendmentPort) -> None:
        self._crm = crm

    @activity.defn
    async def read_amendment(self, opportunity_id: str) -> CrmAmendment:
        with classified_adapter_errors():
            return await self._crm.fetch_amendment(opportunity_id)

    @activity.defn
    async def write_amendment_outcome_to_crm(
        self, opportunity_id: str, outcome: CrmAmendmentOutcome, idempotency_key: str
    ) -> None:
        with classified_adapter_errors():
            await self._crm.record_amendment_outcome(opportunity_id, outcome, idempotency_key)


class AmendmentMappingActivities:
    def __init__(self, rules: MappingRules) -> None:
        self._rules = rules

    @activity.defn
    async def map_amendment(self, record: CrmAmendment, on_record: ContractOnRecord) -> AmendmentMapping:
        version = self._rules.version
        try:
            amendment = build_amendment(record, on_record.contract, self._rules)
            amended = amend_contract(on_record.contract, amendment)
        except InvalidRecordError as error:
            return AmendmentMapping(mapping_version=version, problems=error.problems)
        return AmendmentMapping(mapping_version=version, amendment=amendment, amended=amended)


class BillingAmendmentActivities:
    def __init__(self, billing: BillingAmendmentPort) -> None:
        self._billing = billing

    @activity.defn
    async def preview_amendment_in_billing(
        self, subscription_id: str, amended: Contract, amendment: Amendment
    ) -> BillingPreview:
        with classified_adapter_errors():
            return await self._billing.preview_amendment(subscription_id, amended, amendment)

    @activity.defn
    async def apply_amendment_in_billing(
        self, subscription_id: str, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> AppliedBillingChange:
        with classified_adapter_errors():
            return await self._billing.apply_amendment(subscription_id, amended, amendment, idempotency_key)

    @activity.defn
    async def reverse_amendment_in_billing(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            return await self._billing.reverse_amendment_applied_by(idempotency_key)


class RevenueModificationActivities:
    def __init__(self, revenue: RevenueModificationPort) -> None:
        self._revenue = revenue

    @activity.defn
    async def read_contract_on_record(self, contract_id: str) -> ContractOnRecord:
        with classified_adapter_errors():
            return await self._revenue.contract_on_record(contract_id)

    @activity.defn
    async def record_modification_in_revenue_engine(
        self, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> ModificationOutcome:
        with classified_adapter_errors():
            return await self._revenue.record_modification(amended, amendment, idempotency_key)

    @activity.defn
    async def withdraw_modification_from_revenue_engine(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            return await self._revenue.withdraw_modification_recorded_by(idempotency_key)


class ContractTurnActivities:
    def __init__(self, task_queue: str) -> None:
        self._task_queue = task_queue

    @activity.defn
    async def request_contract_turn(self, sequencer_workflow_id: str, request: TurnRequest) -> None:
        """Signal-with-start the contract's sequencer: joins the running one, or starts it with this request."""
        client: Client = activity.client()
        await client.start_workflow(
            "ContractSequencer",
            [],
            id=sequencer_workflow_id,
            task_queue=self._task_queue,
            start_signal="request_turn",
            start_signal_args=[request],
        )
