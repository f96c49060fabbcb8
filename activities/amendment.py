"""The activities of the amendment → invoice saga: one class per system, as in `activities.closed_won`.

`ContractTurnActivities` is the one that talks to Temporal itself: a workflow cannot signal-with-start another,
so asking the contract's sequencer for a turn (starting it if it is not running) is an activity. The others
record in the operational store what they read, mapped or wrote, and each new contract version's IDs.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from activities.saga_records import SagaRecords, snapshot
from activities.temporal_errors import classified_adapter_errors
from adapters.ports import BillingAmendmentPort, CrmAmendmentPort, RevenueModificationPort
from adapters.store.port import OperationalStorePort
from adapters.store.records import AuditEventKind, EntityKind
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
from canonical.references import System
from canonical.saga import RecordedDecision


class CrmAmendmentActivities:
    def __init__(self, crm: CrmAmendmentPort, store: OperationalStorePort | None = None) -> None:
        self._crm = crm
        self._records = SagaRecords(store)

    @activity.defn
    async def read_amendment(self, opportunity_id: str) -> CrmAmendment:
        with classified_adapter_errors():
            record = await self._crm.fetch_amendment(opportunity_id)
        await self._records.audit(
            AuditEventKind.SOURCE_READ, f"amendment/{opportunity_id}", source_system=System.CRM, source_payload=record
        )
        return record

    @activity.defn
    async def write_amendment_outcome_to_crm(
        self,
        opportunity_id: str,
        outcome: CrmAmendmentOutcome,
        idempotency_key: str,
        decision: RecordedDecision | None = None,
    ) -> None:
        """`decision`: finance's approval or rejection, if policy asked for one; it lands in the audit trail here."""
        with classified_adapter_errors():
            await self._crm.record_amendment_outcome(opportunity_id, outcome, idempotency_key)
        if decision is not None:
            verdict = decision.decision
            await self._records.approval(
                verdict.approver, verdict.approved, f"amendment {opportunity_id}", verdict.note
            )
        if outcome.status == "completed" and outcome.contract_version is not None:
            await self._records.reference(
                EntityKind.CONTRACT, outcome.contract_id, System.CRM, opportunity_id, version=outcome.contract_version
            )
        await self._records.audit(
            AuditEventKind.WRITE_BACK,
            f"outcome/{outcome.status}",
            target_system=System.CRM,
            posting_ack=outcome,
            note=outcome.message or None,
        )


class AmendmentMappingActivities:
    def __init__(self, rules: MappingRules, store: OperationalStorePort | None = None) -> None:
        self._rules = rules
        self._records = SagaRecords(store)

    @activity.defn
    async def map_amendment(self, record: CrmAmendment, on_record: ContractOnRecord) -> AmendmentMapping:
        mapping = self._mapping(record, on_record)
        await self._records.audit(
            AuditEventKind.TRANSFORMED,
            f"amendment/{record.opportunity_id}",
            source_system=System.CRM,
            mapping_version=mapping.mapping_version,
            transformation=snapshot(mapping),
            note=f"{len(mapping.problems)} problem(s)" if mapping.problems else None,
        )
        return mapping

    def _mapping(self, record: CrmAmendment, on_record: ContractOnRecord) -> AmendmentMapping:
        version = self._rules.version
        try:
            amendment = build_amendment(record, on_record.contract, self._rules)
            amended = amend_contract(on_record.contract, amendment)
        except InvalidRecordError as error:
            return AmendmentMapping(mapping_version=version, problems=error.problems)
        return AmendmentMapping(mapping_version=version, amendment=amendment, amended=amended)


class BillingAmendmentActivities:
    def __init__(self, billing: BillingAmendmentPort, store: OperationalStorePort | None = None) -> None:
        self._billing = billing
        self._records = SagaRecords(store)

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
            change = await self._billing.apply_amendment(subscription_id, amended, amendment, idempotency_key)
        contract_id, version = amended.contract_id, amended.version
        await self._records.reference(
            EntityKind.CONTRACT, contract_id, System.BILLING, change.subscription_id, version=version
        )
        for invoice_id in change.invoice_ids:
            await self._records.reference(EntityKind.INVOICE, invoice_id, System.BILLING, invoice_id)
        for credit_note_id in change.credit_note_ids:
            await self._records.reference(EntityKind.CREDIT_NOTE, credit_note_id, System.BILLING, credit_note_id)
        await self._records.posted(System.BILLING, f"contract/{contract_id}/v{version}", change)
        return change

    @activity.defn
    async def reverse_amendment_in_billing(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            undone = await self._billing.reverse_amendment_applied_by(idempotency_key)
        await self._records.compensated(System.BILLING, "amendment", undone)
        return undone


class RevenueModificationActivities:
    def __init__(self, revenue: RevenueModificationPort, store: OperationalStorePort | None = None) -> None:
        self._revenue = revenue
        self._records = SagaRecords(store)

    @activity.defn
    async def read_contract_on_record(self, contract_id: str) -> ContractOnRecord:
        with classified_adapter_errors():
            return await self._revenue.contract_on_record(contract_id)

    @activity.defn
    async def record_modification_in_revenue_engine(
        self, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> ModificationOutcome:
        with classified_adapter_errors():
            outcome = await self._revenue.record_modification(amended, amendment, idempotency_key)
        contract_id, version = amended.contract_id, amended.version
        await self._records.reference(
            EntityKind.CONTRACT, contract_id, System.REVENUE, outcome.revenue_contract_id, version=version
        )
        await self._records.posted(
            System.REVENUE, f"contract/{contract_id}/v{version}", outcome, note=f"treatment {outcome.treatment}"
        )
        return outcome

    @activity.defn
    async def withdraw_modification_from_revenue_engine(self, idempotency_key: str) -> str | None:
        with classified_adapter_errors():
            undone = await self._revenue.withdraw_modification_recorded_by(idempotency_key)
        await self._records.compensated(System.REVENUE, "modification", undone)
        return undone


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
