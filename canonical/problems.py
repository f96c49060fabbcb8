"""What can be wrong with a deal, said in finance's words: which record, which field, which category.

A data problem never fails a saga; it parks it in *needs attention* with one of these categories so that the
owning team (sales ops, billing ops, controllership) can fix the source record and resubmit.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationError


class ExceptionCategory(StrEnum):
    MASTER_DATA_MISMATCH = "master_data_mismatch"
    MAPPING_MISSING = "mapping_missing"
    TAX_FAILURE = "tax_failure"
    CLOSED_PERIOD = "closed_period"
    MISSING_AMENDMENT_REFERENCE = "missing_amendment_reference"
    DUPLICATE_DETECTED = "duplicate_detected"
    APPROVAL_REJECTED = "approval_rejected"
    RECONCILIATION_BREAK = "reconciliation_break"
    INVALID_DATA = "invalid_data"
    SYSTEM_REJECTED = "system_rejected"


class FieldProblem(BaseModel):
    """One thing wrong with one field of one record, e.g. `Account 001NW… . billing_contact: missing`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record: str
    field: str
    message: str
    category: ExceptionCategory = ExceptionCategory.INVALID_DATA

    def __str__(self) -> str:
        return f"{self.record}, field {self.field}: {self.message}"


class InvalidRecordError(ValueError):
    """Raised when a record cannot become a canonical object; carries every problem found, not just the first."""

    def __init__(self, problems: tuple[FieldProblem, ...]) -> None:
        if not problems:
            raise ValueError("InvalidRecordError needs at least one problem")
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    @property
    def category(self) -> ExceptionCategory:
        """The category of the first problem: the one the owning team should look at first."""
        return self.problems[0].category


def problems_from_validation_error(
    record: str, error: ValidationError, category: ExceptionCategory = ExceptionCategory.INVALID_DATA
) -> tuple[FieldProblem, ...]:
    """Turn pydantic's error list into problems that name the record and the dotted field path."""
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "(record)"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(FieldProblem(record=record, field=field, message=message, category=category))
    return tuple(problems)
