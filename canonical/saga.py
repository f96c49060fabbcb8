"""What an operator or finance user sees of a saga: its status, step, exception and decisions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from canonical.contract import Contract
from canonical.money import Money
from canonical.problems import ExceptionCategory, FieldProblem
from canonical.references import SystemReferences
from canonical.saga_policy import ApprovalReason, SagaPolicy


class SagaType(StrEnum):
    CLOSED_WON = "closed_won"
    INVOICE_TO_REVENUE = "invoice_to_revenue"
    PAYMENT_SETTLED = "payment_settled"
    PERIOD_CLOSE = "period_close"
    AMENDMENT_TO_INVOICE = "amendment_to_invoice"


class SagaStatus(StrEnum):
    RUNNING = "running"
    NEEDS_ATTENTION = "needs_attention"
    AWAITING_APPROVAL = "awaiting_approval"
    ESCALATED = "escalated"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    COMPENSATED = "compensated"

    @property
    def waits_for_people(self) -> bool:
        return self in {SagaStatus.NEEDS_ATTENTION, SagaStatus.AWAITING_APPROVAL, SagaStatus.ESCALATED}


class ClosedWonStep(StrEnum):
    READ_DEAL = "read_deal"
    MAP_CONTRACT = "map_contract"
    APPROVAL = "approval"
    ERP_CUSTOMER = "erp_customer"
    BILLING_CUSTOMER = "billing_customer"
    SUBSCRIPTION = "subscription"
    REVENUE_CONTRACT = "revenue_contract"
    CRM_WRITE_BACK = "crm_write_back"
    DONE = "done"


class SagaException(BaseModel):
    """Why a saga is parked or stopped, categorised for the team that owns the fix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: ExceptionCategory
    message: str
    problems: tuple[FieldProblem, ...] = ()


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    approver: str = Field(min_length=1)
    approved: bool
    note: str = ""


class RecordedDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: ApprovalDecision
    decided_at: datetime


class Resubmission(BaseModel):
    """Someone fixed the source data and asks the saga to read it again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requested_by: str = Field(min_length=1)
    note: str = ""


class ClosedWonInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opportunity_id: str = Field(min_length=1)
    policy: SagaPolicy


class ClosedWonState(BaseModel):
    """The saga's state as its query returns it, and its final result."""

    model_config = ConfigDict(extra="forbid")

    opportunity_id: str
    status: SagaStatus = SagaStatus.RUNNING
    step: ClosedWonStep = ClosedWonStep.READ_DEAL
    contract_id: str | None = None
    total_contract_value: Money | None = None
    mapping_version: str | None = None
    policy_version: str | None = None
    exception: SagaException | None = None
    approval_reasons: tuple[ApprovalReason, ...] = ()
    decision: RecordedDecision | None = None
    resubmissions: list[Resubmission] = Field(default_factory=list)
    references: SystemReferences
    compensated: list[str] = Field(default_factory=list)


class SagaOutcome(BaseModel):
    """What the CRM is told about a deal's saga: written to the opportunity for sales and finance to see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow_id: str
    status: SagaStatus
    references: SystemReferences
    contract_id: str | None = None
    message: str = ""


class ContractMappingResult(BaseModel):
    """A deal mapped to a contract, or the problems that stop it: a data problem is a result, not a failure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mapping_version: str
    contract: Contract | None = None
    problems: tuple[FieldProblem, ...] = ()
