"""The exception queue as sagas see it: a case opened when a saga parks for a person, closed when it resumes.

Both run only on the park path (`workflows.saga_steps.ExceptionCases`), so a saga that never parks pays nothing
for them. Opening is idempotent (one open case per saga and category); closing tolerates a case someone already
closed from the CLI or the console (`workers.exception_resolution`), whose who-and-why then stands.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from activities.saga_records import SagaRecords, saga_id
from adapters.store.errors import CaseClosed, CaseNotFound
from adapters.store.port import OperationalStorePort
from adapters.store.records import AuditEventKind, CaseAction
from canonical.money import Money
from canonical.problems import ExceptionCategory

__all__ = ["CaseAction", "CaseClosing", "ExceptionQueueActivities", "ParkedCase", "resolution_audit_key"]


class ParkedCase(BaseModel):
    """Why a saga parked and what is at stake, as the saga knows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: ExceptionCategory
    description: str = Field(min_length=1)
    amount_at_risk: Money | None = None


class CaseClosing(BaseModel):
    """How a parked saga moved on: `action` by `by`, because `reason`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: int
    action: CaseAction
    by: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class ExceptionQueueActivities:
    def __init__(self, store: OperationalStorePort | None) -> None:
        self._store = store
        self._records = SagaRecords(store)

    @activity.defn
    async def open_exception_case(self, case: ParkedCase) -> int | None:
        """The case's ID (None without a store)."""
        if self._store is None:
            return None
        opened = await self._store.open_case(saga_id(), case.category, case.description, case.amount_at_risk)
        await self._records.audit(
            AuditEventKind.EXCEPTION_OPENED,
            f"case/{opened.id}",
            note=f"case {opened.id} ({case.category.value}, {opened.owner.value}): {case.description}",
            idempotency_key=f"exception-case/{opened.id}/opened",  # one per case, however often the saga asks
        )
        return opened.id

    @activity.defn
    async def close_exception_case(self, closing: CaseClosing) -> None:
        if self._store is None:
            return
        try:
            await self._store.resolve_case(closing.case_id, closing.by, closing.action, closing.reason)
        except CaseClosed:
            return  # closed already, by whoever resolved it (their record stands)
        except CaseNotFound:
            activity.logger.warning("exception case %s is gone from the store", closing.case_id)
            return
        await self._records.audit(
            AuditEventKind.EXCEPTION_RESOLVED,
            f"case/{closing.case_id}",
            actor=closing.by,
            note=f"case {closing.case_id} {closing.action.value}: {closing.reason}",
            idempotency_key=resolution_audit_key(closing.case_id),
        )


def resolution_audit_key(case_id: int) -> str:
    """One resolution record per case, whether the saga or the person resolving it appends it first."""
    return f"exception-case/{case_id}/resolved"
