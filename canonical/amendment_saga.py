"""What the amendment → invoice saga takes and shows, when policy asks finance to approve an amendment, and the
turn-taking that keeps everything touching one contract in contract order."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from canonical.amendment import Amendment, AppliedBillingChange, BillingPreview, ChangeKind, ModificationOutcome
from canonical.contract import Contract
from canonical.money import Money
from canonical.problems import FieldProblem
from canonical.saga import RecordedDecision, SagaException, SagaStatus
from canonical.saga_policy import AmendmentApprovalPolicy, ApprovalReason, SagaPolicy

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AmendmentStep(StrEnum):
    READ_AMENDMENT = "read_amendment"
    CONTRACT_TURN = "contract_turn"
    VALIDATE = "validate"
    PREVIEW = "preview"
    APPROVAL = "approval"
    REVENUE_MODIFICATION = "revenue_modification"
    BILLING_CHANGE = "billing_change"
    CRM_WRITE_BACK = "crm_write_back"
    DONE = "done"


class AmendmentInput(BaseModel):
    model_config = _FROZEN

    amendment_id: str = Field(min_length=1, description="The CRM's amendment opportunity")
    policy: SagaPolicy


class AmendmentState(BaseModel):
    model_config = ConfigDict(extra="forbid")  # updated in place by the saga

    amendment_id: str
    status: SagaStatus = SagaStatus.RUNNING
    step: AmendmentStep = AmendmentStep.READ_AMENDMENT
    contract_id: str | None = None
    from_version: int | None = None
    to_version: int | None = None
    amendment: Amendment | None = None
    preview: BillingPreview | None = None
    approval_reasons: tuple[ApprovalReason, ...] = ()
    decision: RecordedDecision | None = None
    modification: ModificationOutcome | None = None
    billing_change: AppliedBillingChange | None = None
    exception: SagaException | None = None
    compensated: list[str] = Field(default_factory=list)


class TurnRequest(BaseModel):
    """A saga asking for its turn on a contract. Amendments go in the order of the version they change, then of
    arrival: one made against version 3 waits for the one that makes version 3."""

    model_config = _FROZEN

    workflow_id: str
    references_version: int = Field(ge=1)


def amendment_approval_reasons(
    amendment: Amendment, preview: BillingPreview, policy: AmendmentApprovalPolicy
) -> tuple[ApprovalReason, ...]:
    """Why policy wants finance to approve this amendment; empty when it may go ahead."""
    reasons = []
    kinds = {change.kind for change in amendment.changes}
    if ChangeKind.CANCELLATION in kinds and policy.cancellations:
        reasons.append(ApprovalReason(rule="cancellation", message="the amendment cancels the contract"))
    # A downgrade takes something away mid-term: a product removed, a price changed, or units credited back.
    downgrade = bool(kinds & {ChangeKind.REMOVE_PRODUCT, ChangeKind.PRICE}) or any(
        line.amount.is_negative for line in preview.lines
    )
    if downgrade and policy.mid_term_downgrades:
        reasons.append(ApprovalReason(rule="downgrade", message="a mid-term downgrade or price change"))
    threshold = policy.threshold_for(preview.total.currency)
    credit = -preview.total if preview.total.is_negative else Money.zero(preview.total.currency)
    if threshold is not None and credit > threshold:
        reasons.append(ApprovalReason(rule="credit", message=f"a credit of {credit} exceeds {threshold}"))
    return tuple(reasons)


class AmendmentMapping(BaseModel):
    """The amendment validated against the contract on record, and the version it makes; or what is wrong."""

    model_config = _FROZEN

    mapping_version: str
    amendment: Amendment | None = None
    amended: Contract | None = None
    problems: tuple[FieldProblem, ...] = ()
