"""What the operational store holds, as immutable values: cross-references, audit records and exception cases.

These are the types activities pass to the store (through `OperationalStorePort`) and get back from it. They are
plain pydantic models, so they cross Temporal's pydantic data converter like every other payload: amounts stay
`Decimal` strings, JSON snapshots stay JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System

JsonObject = dict[str, JsonValue]


class EntityKind(StrEnum):
    """The canonical business objects whose IDs the store cross-references across systems."""

    CUSTOMER = "customer"
    CONTRACT = "contract"  # versioned: each contract version has its own references
    SUBSCRIPTION = "subscription"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    REVENUE_CONTRACT = "revenue_contract"
    JOURNAL = "journal"

    @property
    def versioned(self) -> bool:
        return self is EntityKind.CONTRACT


class CrossReference(BaseModel):
    """One canonical entity's ID in one system, and the saga that first recorded it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EntityKind
    canonical_id: str
    version: int | None = Field(default=None, description="Contract version; None for every other kind.")
    system: System
    external_id: str
    saga_id: str
    recorded_at: datetime


class AuditEventKind(StrEnum):
    """What happened. One record may carry a source snapshot, a transformation and a posting together."""

    SOURCE_READ = "source_read"  # a snapshot of what a source system said
    TRANSFORMED = "transformed"  # source → canonical (or the problems found), under a mapping version
    APPROVAL = "approval"  # a person approved or rejected something
    POSTED = "posted"  # a write to a target system and its acknowledgement
    COMPENSATED = "compensated"  # an undo of an earlier posting
    WRITE_BACK = "write_back"  # references and status written back to the CRM
    EXCEPTION_OPENED = "exception_opened"
    EXCEPTION_RESOLVED = "exception_resolved"


def _json_object(value: Any) -> Any:
    """Accept a pydantic model as a JSON snapshot: `Decimal`s become strings, dates ISO 8601, as on the wire."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


class AuditEntry(BaseModel):
    """What a caller appends to the audit trail; the store adds the position, timestamp and hashes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AuditEventKind
    workflow_id: str = Field(min_length=1)
    run_id: str | None = None
    correlation_id: str = Field(min_length=1)
    actor: str = Field(default="system", min_length=1, description="Who did or approved this: a user, or `system`.")
    source_system: System | None = None
    target_system: System | None = None
    source_payload: JsonObject | None = Field(default=None, description="The source record exactly as read.")
    mapping_version: str | None = Field(default=None, description="The mapping rules' version, with a transformation.")
    transformation: JsonObject | None = Field(
        default=None, description="The transformation's outcome: the canonical result or the problems found."
    )
    posting_ack: JsonObject | None = Field(default=None, description="The target system's acknowledgement.")
    note: str | None = None
    idempotency_key: str | None = Field(
        default=None, description="Appending the same key again returns the first record instead of a second one."
    )

    @field_validator("source_payload", "transformation", "posting_ack", mode="before")
    @classmethod
    def _models_as_json(cls, value: Any) -> Any:
        return _json_object(value)

    @model_validator(mode="after")
    def _transformation_has_mapping_version(self) -> AuditEntry:
        if self.transformation is not None and not self.mapping_version:
            raise ValueError("a transformation outcome needs the mapping_version it was produced under")
        return self


class AuditRecord(AuditEntry):
    """An appended audit record: `hash = sha256(previous_hash + canonical JSON of the content)`."""

    id: int = Field(description="Position in the chain, from 1, without gaps.")
    recorded_at: datetime
    previous_hash: str
    hash: str


class ChainBreakKind(StrEnum):
    MISSING_RECORD = "missing_record"  # a gap in the positions: a record was deleted
    PREVIOUS_HASH = "previous_hash"  # the record does not point at its predecessor's hash
    CONTENT_HASH = "content_hash"  # the record's content no longer matches its hash: it was edited
    CHAIN_HEAD = "chain_head"  # the last record is not the one the chain head names: records were cut off


class AuditChainBreak(BaseModel):
    """The first place the audit chain does not hold, and what did not match there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: int
    kind: ChainBreakKind
    expected: str
    found: str
    message: str

    def __str__(self) -> str:
        return self.message


class OwnerRole(StrEnum):
    SALES_OPS = "sales_ops"
    BILLING_OPS = "billing_ops"
    CONTROLLERSHIP = "controllership"


# Who fixes what by default: deal and account data is sales ops', catalogue, tax and vendor rejections billing
# ops', the books controllership's. `open_case(owner=...)` overrides it.
DEFAULT_OWNERS: Mapping[ExceptionCategory, OwnerRole] = MappingProxyType(
    {
        ExceptionCategory.MASTER_DATA_MISMATCH: OwnerRole.SALES_OPS,
        ExceptionCategory.MAPPING_MISSING: OwnerRole.BILLING_OPS,
        ExceptionCategory.TAX_FAILURE: OwnerRole.BILLING_OPS,
        ExceptionCategory.CLOSED_PERIOD: OwnerRole.CONTROLLERSHIP,
        ExceptionCategory.MISSING_AMENDMENT_REFERENCE: OwnerRole.SALES_OPS,
        ExceptionCategory.DUPLICATE_DETECTED: OwnerRole.BILLING_OPS,
        ExceptionCategory.APPROVAL_REJECTED: OwnerRole.SALES_OPS,
        ExceptionCategory.RECONCILIATION_BREAK: OwnerRole.CONTROLLERSHIP,
        ExceptionCategory.INVALID_DATA: OwnerRole.SALES_OPS,
        ExceptionCategory.SYSTEM_REJECTED: OwnerRole.BILLING_OPS,
    }
)


def default_owner(category: ExceptionCategory) -> OwnerRole:
    return DEFAULT_OWNERS[category]


class CaseStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class CaseAction(StrEnum):
    """How a case is closed. Resuming, retrying or compensating the saga itself is the Temporal side's job."""

    RESUME = "resume"
    RETRY = "retry"
    COMPENSATE = "compensate"
    DISMISS = "dismiss"

    @property
    def closes_as(self) -> CaseStatus:
        return CaseStatus.DISMISSED if self is CaseAction.DISMISS else CaseStatus.RESOLVED


class CaseHistoryEntry(BaseModel):
    """Who did what to a case, when and why; `what` is `opened`, `reassigned` or a `CaseAction`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    by: str
    what: str
    why: str
    status: CaseStatus = Field(description="The case's status after this entry.")


class ExceptionCase(BaseModel):
    """A parked saga waiting for a person: what is wrong, what is at stake, who owns it, what was done."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    workflow_id: str
    category: ExceptionCategory
    description: str
    amount_at_risk: Money | None = Field(description="Business impact; None when not known yet (no contract).")
    owner: OwnerRole
    status: CaseStatus
    resolution: CaseAction | None = None
    opened_at: datetime
    closed_at: datetime | None = None
    history: tuple[CaseHistoryEntry, ...] = ()
