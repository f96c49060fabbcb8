"""When a deal is non-standard and who may approve it; how long a saga waits for people.

Finance keeps these in `config/saga-policy.toml`. The policy travels in each saga's input, so the history
shows the thresholds a decision was made under and a later edit never changes a running saga.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from canonical.contract import Contract
from canonical.money import Money


class ApprovalReason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    message: str


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_discount_percent: Decimal = Field(ge=0, le=100)
    max_payment_terms_days: int = Field(ge=0)
    max_total_contract_value: tuple[Money, ...] = Field(min_length=1, description="One threshold per currency")
    approver_role: str = "finance"
    people: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="User → roles")
    escalate_after: timedelta = timedelta(days=2)
    expire_after: timedelta = timedelta(days=5)

    @model_validator(mode="after")
    def _expiry_after_escalation(self) -> ApprovalPolicy:
        if self.expire_after <= self.escalate_after:
            raise ValueError("expire_after must be longer than escalate_after")
        return self

    def threshold_for(self, currency: str) -> Money | None:
        return next((m for m in self.max_total_contract_value if m.currency == currency), None)


class AmendmentApprovalPolicy(BaseModel):
    """When an amendment waits for finance: credits above a threshold, mid-term downgrades, cancellations."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_credit: tuple[Money, ...] = Field(default=(), description="One threshold per currency")
    mid_term_downgrades: bool = True
    cancellations: bool = True

    def threshold_for(self, currency: str) -> Money | None:
        return next((m for m in self.max_credit if m.currency == currency), None)


class ClosedPeriodPolicy(StrEnum):
    """What an invoice → revenue saga does when the ERP period of the document's date is closed."""

    NEXT_OPEN_PERIOD = "next_open_period"  # post it in the first open period after
    AWAIT_DECISION = "await_decision"  # wait for finance (controllership) to choose, through an Update


class SearchAttributeUpdates(StrEnum):
    """When a saga upserts its search attributes. Each upsert is a history event, a billable Temporal Cloud Action
    and a visibility write, the largest share of the Temporal server's work per saga beyond the activities."""

    EVERY_STEP = "every_step"  # Q2cSagaStep follows a running saga live: one upsert per step
    STATUS_CHANGES = "status_changes"  # one upsert per status change, carrying whatever else changed meanwhile


class SagaPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    approval: ApprovalPolicy
    needs_attention_expire_after: timedelta = timedelta(days=14)
    retry_initial_interval: timedelta = timedelta(seconds=1)
    retry_maximum_interval: timedelta = timedelta(minutes=1)
    activity_timeout: timedelta = timedelta(seconds=30)
    amendment_approval: AmendmentApprovalPolicy = Field(default_factory=AmendmentApprovalPolicy)
    closed_period: ClosedPeriodPolicy = ClosedPeriodPolicy.NEXT_OPEN_PERIOD
    period_decision_role: str = "controllership"
    # The default is how sagas started before the setting existed behave, so their histories replay;
    # config/saga-policy.toml chooses status_changes for new sagas.
    search_attribute_updates: SearchAttributeUpdates = SearchAttributeUpdates.EVERY_STEP


def approval_reasons(contract: Contract, policy: ApprovalPolicy) -> tuple[ApprovalReason, ...]:
    """Why policy wants finance to approve this deal; empty for a standard deal."""
    reasons = []
    discount = contract.largest_discount_percent
    if discount > policy.max_discount_percent:
        reasons.append(
            ApprovalReason(rule="discount", message=f"discount {discount}% exceeds {policy.max_discount_percent}%")
        )
    terms = contract.customer.payment_terms_days
    if terms > policy.max_payment_terms_days:
        reasons.append(
            ApprovalReason(
                rule="payment_terms",
                message=f"payment terms of {terms} days exceed {policy.max_payment_terms_days}",
            )
        )
    value = contract.total_contract_value
    threshold = policy.threshold_for(value.currency)
    if threshold is None:
        reasons.append(
            ApprovalReason(
                rule="total_contract_value",
                message=f"no contract value threshold is set for {value.currency}",
            )
        )
    elif value > threshold:
        reasons.append(
            ApprovalReason(rule="total_contract_value", message=f"total contract value {value} exceeds {threshold}")
        )
    return tuple(reasons)


def approver_refusal(approver: str, deal_owner: str, policy: ApprovalPolicy) -> str | None:
    """Why `approver` may not decide on this deal, or None when they may."""
    if approver == deal_owner:
        return f"{approver} owns this deal and may not approve it"
    if policy.approver_role not in policy.people.get(approver, ()):
        return f"{approver} does not have the {policy.approver_role} role"
    return None
