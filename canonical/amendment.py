"""A mid-term change to a contract, in q2c's terms, and the contract version it makes.

An amendment comes from the CRM: it names the contract and the version it changes (so a stale amendment is
caught, never guessed at), an effective moment, and its changes — quantity up or down, a product added or
removed, a price change, a term extension (early renewal), a cancellation (immediate or at period end). It also
carries the facts the revenue engine needs to pick the ASC 606-10-25-12/13 treatment, and how billing should
handle a credit. `amend_contract` applies it: a pure function from version n to version n + 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from canonical.contract import Contract, ContractLine
from canonical.money import Money
from canonical.problems import ExceptionCategory, FieldProblem, InvalidRecordError
from canonical.product import LineKind, ProductMapping

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ChangeKind(StrEnum):
    QUANTITY = "quantity"  # an existing line's quantity, up or down
    ADD_PRODUCT = "add_product"
    REMOVE_PRODUCT = "remove_product"
    PRICE = "price"  # an existing line's net unit price
    TERM_EXTENSION = "term_extension"  # the term ends later (early renewal)
    CANCELLATION = "cancellation"  # the whole contract


class CancellationTiming(StrEnum):
    IMMEDIATE = "immediate"  # service ends at the effective moment; unused time is credited
    PERIOD_END = "period_end"  # service ends with the current billing period; nothing is credited


class CreditBehavior(StrEnum):
    """What billing does with a credit an amendment causes (a downgrade, a removal, a price cut)."""

    CREDIT_NOTE = "credit_note"  # issue a credit note against the last invoice
    CARRY_FORWARD = "carry_forward"  # leave it on the customer's balance for the next invoice


class ModificationFacts(BaseModel):
    """What the revenue engine needs to choose the treatment; the CRM (deal desk) states them."""

    model_config = _FROZEN

    added_goods_distinct: bool
    priced_at_ssp: bool
    remaining_goods_distinct: bool


class AmendmentChange(BaseModel):
    model_config = _FROZEN

    kind: ChangeKind
    line_no: int | None = Field(None, ge=1, description="The contract line changed (not for add_product)")
    product_code: str | None = None
    quantity: Decimal | None = Field(None, ge=0, description="The new quantity (quantity, add_product)")
    net_unit_price: Money | None = Field(None, description="The new net unit price per month (price, add_product)")
    mapping: ProductMapping | None = Field(None, description="The added product's mapping (add_product)")
    term_end: date | None = Field(None, description="The new last day of the term (term_extension)")
    cancellation: CancellationTiming | None = None

    @model_validator(mode="after")
    def _has_what_its_kind_needs(self) -> AmendmentChange:
        needs: dict[ChangeKind, tuple[str, ...]] = {
            ChangeKind.QUANTITY: ("line_no", "quantity"),
            ChangeKind.ADD_PRODUCT: ("product_code", "quantity", "net_unit_price", "mapping"),
            ChangeKind.REMOVE_PRODUCT: ("line_no",),
            ChangeKind.PRICE: ("line_no", "net_unit_price"),
            ChangeKind.TERM_EXTENSION: ("term_end",),
            ChangeKind.CANCELLATION: ("cancellation",),
        }
        missing = [name for name in needs[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind.value} change needs {', '.join(missing)}")
        return self


class Amendment(BaseModel):
    model_config = _FROZEN

    amendment_id: str = Field(min_length=1, description="The CRM record of the amendment (an opportunity)")
    contract_id: str = Field(min_length=1)
    references_version: int = Field(ge=1, description="The contract version the amendment was made against")
    effective: datetime = Field(description="When the change takes effect (UTC)")
    changes: tuple[AmendmentChange, ...] = Field(min_length=1)
    facts: ModificationFacts
    credit_behavior: CreditBehavior = CreditBehavior.CREDIT_NOTE
    owner: str = Field(min_length=1)

    @field_validator("effective")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("the effective moment needs a time zone")
        return value.astimezone(UTC)

    @property
    def effective_on(self) -> date:
        return self.effective.date()


def amend_contract(contract: Contract, amendment: Amendment) -> Contract:
    """Version n + 1 of `contract` with `amendment` applied; InvalidRecordError (category
    missing_amendment_reference or invalid_data) naming the amendment and field when it cannot apply.

    A changed line ends the day before the effective date and a new line (next line number) takes over from it,
    so each version keeps the history of what was sold when: revenue and billing split at the same day.
    """
    _check_reference(contract, amendment)
    lines = list(contract.lines)
    term_end = contract.term_end
    for change in amendment.changes:
        if change.kind is ChangeKind.TERM_EXTENSION:
            assert change.term_end is not None
            term_end = change.term_end
            lines = [_extended(line, contract.term_end, term_end) for line in lines]
        else:
            lines = _apply(lines, change, amendment)
    amended = contract.model_copy(update={"version": contract.version + 1, "lines": tuple(lines), "term_end": term_end})
    return Contract.model_validate(amended.model_dump())  # the new version passes every contract rule


def _check_reference(contract: Contract, amendment: Amendment) -> None:
    record = f"amendment {amendment.amendment_id}"
    problems = []
    if amendment.contract_id != contract.contract_id:
        problems.append(("contract_id", f"names {amendment.contract_id}, not {contract.contract_id}"))
    elif amendment.references_version != contract.version:
        problems.append(
            (
                "references_version",
                f"was made against version {amendment.references_version}; {contract.contract_id} is at "
                f"version {contract.version}",
            )
        )
    if not contract.term_start <= amendment.effective_on <= contract.term_end:
        problems.append(
            ("effective", f"{amendment.effective_on} is outside the term {contract.term_start}..{contract.term_end}")
        )
    if problems:
        raise InvalidRecordError(
            tuple(
                FieldProblem(
                    record=record, field=field, message=message, category=ExceptionCategory.MISSING_AMENDMENT_REFERENCE
                )
                for field, message in problems
            )
        )


def _apply(lines: list[ContractLine], change: AmendmentChange, amendment: Amendment) -> list[ContractLine]:
    effective = amendment.effective_on
    next_no = max(line.line_no for line in lines) + 1
    if change.kind is ChangeKind.ADD_PRODUCT:
        assert change.mapping is not None and change.product_code is not None
        term_end = max(line.service_end for line in lines)
        added = ContractLine(
            line_no=next_no,
            product_code=change.product_code,
            kind=change.mapping.kind,
            quantity=change.quantity or Decimal(0),
            net_unit_price=change.net_unit_price,
            service_start=effective,
            service_end=term_end,
            mapping=change.mapping,
        )
        return [*lines, added]
    if change.kind is ChangeKind.CANCELLATION:
        ends = effective if change.cancellation is CancellationTiming.IMMEDIATE else _next_month(effective)
        return [ended for line in lines if (ended := _ended(line, ends)) is not None]
    line = _line(lines, change, amendment)
    rest = [other for other in lines if other.line_no != line.line_no]
    ended = _ended(line, effective)
    kept = [*rest, ended] if ended is not None else rest
    if change.kind is ChangeKind.REMOVE_PRODUCT:
        return kept
    if change.kind is ChangeKind.QUANTITY and change.quantity is not None and change.quantity > line.quantity:
        # An increase adds the extra units as a line of their own at the line's price, from the effective date:
        # billing prorates only what was added, and revenue sees added goods (ASC 606-10-25-12).
        added = line.model_copy(
            update={"line_no": next_no, "quantity": change.quantity - line.quantity, "service_start": effective}
        )
        return [*lines, added]
    replacement = line.model_copy(
        update={
            "line_no": next_no,
            "service_start": effective,
            "quantity": change.quantity if change.quantity is not None else line.quantity,
            "net_unit_price": change.net_unit_price or line.net_unit_price,
            "list_unit_price": None if change.net_unit_price else line.list_unit_price,
            "discount_percent": Decimal(0) if change.net_unit_price else line.discount_percent,
            "ramp_phases": (),
        }
    )
    return [*kept, replacement]


def _line(lines: list[ContractLine], change: AmendmentChange, amendment: Amendment) -> ContractLine:
    line = next((candidate for candidate in lines if candidate.line_no == change.line_no), None)
    if line is None or line.service_end < amendment.effective_on:
        raise InvalidRecordError(
            (
                FieldProblem(
                    record=f"amendment {amendment.amendment_id}",
                    field="changes.line_no",
                    message=f"{amendment.contract_id} has no line {change.line_no} in service on "
                    f"{amendment.effective_on}",
                    category=ExceptionCategory.MISSING_AMENDMENT_REFERENCE,
                ),
            )
        )
    if change.kind is not ChangeKind.REMOVE_PRODUCT and line.kind is not LineKind.RECURRING:
        raise InvalidRecordError(
            (
                FieldProblem(
                    record=f"amendment {amendment.amendment_id}",
                    field="changes.kind",
                    message=f"line {line.line_no} is {line.kind.value}; only recurring lines change quantity or price",
                ),
            )
        )
    return line


def _ended(line: ContractLine, effective: date) -> ContractLine | None:
    """The line as it was, serving up to the day before `effective`; None when it never served (it started on or
    after `effective`): it leaves the contract."""
    if line.service_start >= effective:
        return None
    return line.model_copy(update={"service_end": min(line.service_end, effective - timedelta(days=1))})


def _extended(line: ContractLine, old_end: date, new_end: date) -> ContractLine:
    return line.model_copy(update={"service_end": new_end}) if line.service_end == old_end else line


def _next_month(day: date) -> date:
    """The first day of the month after `day`: when a monthly billing period that contains `day` ends."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


class ProrationLine(BaseModel):
    """One line of an amendment's financial effect: a charge (positive) or a credit (negative)."""

    model_config = _FROZEN

    description: str
    line_no: int = Field(ge=1, description="The contract line (of the amended version) it bills or credits")
    amount: Money
    period_start: date
    period_end: date


class BillingPreview(BaseModel):
    """What billing would invoice or credit for an amendment, prorated to the second and co-terminated."""

    model_config = _FROZEN

    amendment_id: str
    lines: tuple[ProrationLine, ...]
    total: Money  # positive: the customer pays; negative: a credit


class AppliedBillingChange(BaseModel):
    """What billing did: the documents the change produced (they go through invoice → revenue)."""

    model_config = _FROZEN

    amendment_id: str
    subscription_id: str
    invoice_ids: tuple[str, ...] = ()
    credit_note_ids: tuple[str, ...] = ()


class CrmAmendmentOutcome(BaseModel):
    """What the amendment saga writes back to the CRM's amendment record."""

    model_config = _FROZEN

    workflow_id: str
    status: str
    contract_id: str
    contract_version: int | None = None
    total_contract_value: Money | None = None
    invoice_ids: tuple[str, ...] = ()
    credit_note_ids: tuple[str, ...] = ()
    message: str = ""


class ModificationOutcome(BaseModel):
    """The revenue engine's record of a modification: the treatment it chose and the catch-up, if any."""

    model_config = _FROZEN

    revenue_contract_id: str
    treatment: str = Field(description="separate_contract, prospective or cumulative_catch_up")
    catch_up: Money | None = Field(None, description="Revenue adjusted at the modification date (catch-up only)")


class ContractOnRecord(BaseModel):
    """A contract as q2c's revenue engine holds it now: its current version and the systems' references."""

    model_config = _FROZEN

    contract: Contract
    revenue_contract_id: str
    billing_subscription_id: str
