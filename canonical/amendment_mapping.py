"""Turn a CRM amendment into a canonical Amendment of a given contract version, or say everything wrong with it.

Pure, like `canonical.contract_mapping`: the same record, contract and rules always give the same Amendment, and
every problem is collected (not raised one at a time) so sales ops can fix the amendment in one pass. Each problem
names the CRM record (`Opportunity 006…`, or `OpportunityLineItem <change no> (<product>) of Opportunity 006…`)
and its field. Like a deal, an amendment maps once it is signed (Closed Won). Categories: a contract, version,
line or effective date the amendment cannot be placed on is `missing_amendment_reference`; a product without
mapping rules is `mapping_missing`; anything else is `invalid_data`.

An Amendment returned here always applies: `amend_contract(contract, amendment)` has been run on it, so the
saga never finds out later that the CRM sent something the contract cannot take.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from canonical.amendment import (
    Amendment,
    AmendmentChange,
    CancellationTiming,
    ChangeKind,
    CreditBehavior,
    amend_contract,
)
from canonical.contract import Contract, ContractLine
from canonical.contract_mapping import CLOSED_WON
from canonical.crm_amendment import CrmAmendment, CrmAmendmentChangeRecord
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory, FieldProblem, InvalidRecordError, problems_from_validation_error
from canonical.product import LineKind

AMENDMENT_TYPE = "Amendment"
FACTS = ("added_goods_distinct", "priced_at_ssp", "remaining_goods_distinct")
_LINE_CHANGES = {ChangeKind.QUANTITY, ChangeKind.PRICE, ChangeKind.REMOVE_PRODUCT}
_REFERENCE = ExceptionCategory.MISSING_AMENDMENT_REFERENCE
Model = TypeVar("Model", bound=BaseModel)


def build_amendment(record: CrmAmendment, contract: Contract, rules: MappingRules) -> Amendment:
    """The canonical amendment of `contract` (its current version); raises InvalidRecordError listing every
    problem with the amendment and its change records."""
    problems = _Problems(record.label)
    effective = _effective(record, contract, problems)
    _check_opportunity(record, contract, problems)
    # Line numbers only mean something on the contract the amendment names, and "in service" on a day of its term.
    lines = contract.lines if record.contract_id == contract.contract_id else None
    on = _day_in_term(effective, contract)
    changes = [_change(change, record, contract, lines, on, rules, problems) for change in record.changes]
    _check_combination(record, problems)
    if problems:
        raise InvalidRecordError(problems.found)
    amendment = problems.validated(
        record.label,
        Amendment,
        {
            "amendment_id": record.opportunity_id,
            "contract_id": record.contract_id,
            "references_version": record.contract_version,
            "effective": effective,
            "changes": tuple(changes),
            "facts": {name: getattr(record, name) for name in FACTS},
            "credit_behavior": record.credit_behavior or CreditBehavior.CREDIT_NOTE,
            "owner": record.owner,
        },
    )
    if amendment is None:
        raise InvalidRecordError(problems.found)
    _check_it_applies(amendment, contract, record.label)
    return amendment


class _Problems:
    """The problems found so far, each naming its record (the opportunity unless said otherwise)."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.found: tuple[FieldProblem, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.found)

    def add(
        self,
        field: str,
        message: str,
        category: ExceptionCategory = ExceptionCategory.INVALID_DATA,
        record: str | None = None,
    ) -> None:
        problem = FieldProblem(record=record or self.record, field=field, message=message, category=category)
        self.found = (*self.found, problem)

    def validated(self, record: str, model: type[Model], fields: dict[str, Any]) -> Model | None:
        """`model` validated from `fields`, or None with pydantic's problems added under `record`."""
        try:
            return model.model_validate(fields)
        except ValidationError as error:
            self.found = (*self.found, *problems_from_validation_error(record, error))
            return None


def _effective(record: CrmAmendment, contract: Contract, problems: _Problems) -> datetime | None:
    if record.effective is None:
        problems.add("effective", "missing: when the change takes effect")
        return None
    if record.effective.tzinfo is None or record.effective.utcoffset() is None:
        problems.add("effective", f"{record.effective.isoformat()} has no time zone")
        return None
    try:
        effective = record.effective.astimezone(UTC)
    except OverflowError:
        problems.add("effective", f"{record.effective.isoformat()} is not a moment in the calendar")
        return None
    if not contract.term_start <= effective.date() <= contract.term_end:
        problems.add(
            "effective",
            f"{effective.date()} is outside the term of {contract.contract_id}, "
            f"{contract.term_start}..{contract.term_end}",
            _REFERENCE,
        )
    return effective


def _day_in_term(effective: datetime | None, contract: Contract) -> date | None:
    day = None if effective is None else effective.date()
    return day if day is not None and contract.term_start <= day <= contract.term_end else None


def _check_opportunity(record: CrmAmendment, contract: Contract, problems: _Problems) -> None:
    if record.opportunity_type and record.opportunity_type != AMENDMENT_TYPE:
        # A record with no type but a contract reference is still an amendment; one typed otherwise is not.
        problems.add("opportunity_type", f"is {record.opportunity_type!r}, not {AMENDMENT_TYPE!r}")
    if record.stage != CLOSED_WON:  # only a signed amendment changes the contract
        problems.add("stage", f"is {record.stage!r}, not {CLOSED_WON!r}")
    if record.contract_id is None:
        problems.add("contract_id", "missing: the amendment names no contract", _REFERENCE)
    elif record.contract_id != contract.contract_id:
        problems.add("contract_id", f"names {record.contract_id}, not {contract.contract_id}", _REFERENCE)
    if record.contract_version is None:
        problems.add("contract_version", "missing: the amendment names no contract version", _REFERENCE)
    elif record.contract_version != contract.version:
        problems.add(
            "contract_version",
            f"the amendment was made against version {record.contract_version}; {contract.contract_id} is at "
            f"version {contract.version}",
            _REFERENCE,
        )
    if record.account_id is not None and record.account_id != contract.customer.crm_account_id:
        problems.add(
            "account_id",
            f"is {record.account_id}, but {contract.contract_id} is {contract.customer.crm_account_id}'s",
        )
    if record.currency and record.currency.upper() != contract.currency:
        problems.add("currency", f"{record.currency} differs from the contract's {contract.currency}")
    if not record.owner:
        problems.add("owner", "missing: the amendment has no owner")
    if record.credit_behavior and record.credit_behavior not in set(CreditBehavior):
        problems.add("credit_behavior", f"{record.credit_behavior!r} is not one of {_choices(CreditBehavior)}")
    for name in FACTS:
        if getattr(record, name) is None:
            problems.add(name, "missing: the deal desk must state it for the revenue treatment")
    if not record.changes:
        problems.add("changes", "the amendment has no change lines")


def _check_combination(record: CrmAmendment, problems: _Problems) -> None:
    """Changes that each make sense but not together in one amendment."""
    kinds = [change.change for change in record.changes]
    if ChangeKind.CANCELLATION in kinds and len(kinds) > 1:
        problems.add("changes", "a cancellation ends the whole contract: it must be the amendment's only change")
    if kinds.count(ChangeKind.TERM_EXTENSION) > 1:
        problems.add("changes", "the term is extended more than once")
    changed_lines: set[int] = set()
    for change in record.changes:
        if change.change in _LINE_CHANGES and change.line_no is not None:
            if change.line_no in changed_lines:
                problems.add(
                    "line_no",
                    f"contract line {change.line_no} is changed by another change of this amendment already; "
                    "one amendment changes a line once",
                    record=_change_label(change, record),
                )
            changed_lines.add(change.line_no)


def _change_label(change: CrmAmendmentChangeRecord, record: CrmAmendment) -> str:
    return f"OpportunityLineItem {change.change_no} ({change.product_code or 'no product'}) of {record.label}"


def _change(
    change: CrmAmendmentChangeRecord,
    record: CrmAmendment,
    contract: Contract,
    lines: tuple[ContractLine, ...] | None,
    effective_on: date | None,
    rules: MappingRules,
    problems: _Problems,
) -> AmendmentChange | None:
    label = _change_label(change, record)
    problems_before = len(problems.found)
    if change.change not in set(ChangeKind):
        message = f"missing: what the change does ({_choices(ChangeKind)})"
        if change.change is not None:
            message = f"{change.change!r} is not one of {_choices(ChangeKind)}"
        problems.add("change", message, record=label)
        return None
    kind = ChangeKind(change.change)
    if change.currency and change.currency.upper() != contract.currency:
        problems.add("currency", f"{change.currency} differs from the contract's {contract.currency}", record=label)
    fields: dict[str, Any] = {"kind": kind}
    if kind is ChangeKind.ADD_PRODUCT:
        fields |= _added_product(change, contract, rules, label, problems)
    elif kind in _LINE_CHANGES:
        fields |= _line_change(kind, change, contract, lines, effective_on, label, problems)
    elif kind is ChangeKind.TERM_EXTENSION:
        fields |= _term_extension(change, contract, label, problems)
    else:
        fields |= _cancellation(change, label, problems)
    if len(problems.found) > problems_before:
        return None
    return problems.validated(label, AmendmentChange, fields)


def _added_product(
    change: CrmAmendmentChangeRecord, contract: Contract, rules: MappingRules, label: str, problems: _Problems
) -> dict[str, Any]:
    mapping = None
    if change.product_code is None:
        problems.add("product_code", "missing: which product is added", record=label)
    else:
        mapping = rules.product(change.product_code)
        if mapping is None:
            problems.add(
                "product_code",
                f"{change.product_code!r} has no mapping in rules version {rules.version}",
                ExceptionCategory.MAPPING_MISSING,
                record=label,
            )
        elif mapping.kind is not LineKind.RECURRING:
            problems.add(
                "product_code",
                f"{change.product_code} is {mapping.kind.value}; an amendment adds recurring products only",
                record=label,
            )
    _check_positive(change.quantity, "quantity", "the quantity added", label, problems)
    price = _price(change, contract, label, problems)
    return {
        "product_code": change.product_code,
        "quantity": change.quantity,
        "net_unit_price": price,
        "mapping": mapping,
    }


def _line_change(
    kind: ChangeKind,
    change: CrmAmendmentChangeRecord,
    contract: Contract,
    lines: tuple[ContractLine, ...] | None,
    effective_on: date | None,
    label: str,
    problems: _Problems,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"line_no": change.line_no, "product_code": change.product_code}
    line = _changed_line(change, contract, lines, effective_on, label, problems)
    if kind is ChangeKind.QUANTITY:
        _check_positive(change.quantity, "quantity", "the new quantity (remove_product ends a line)", label, problems)
        fields["quantity"] = change.quantity
    if kind is ChangeKind.PRICE:
        fields["net_unit_price"] = _price(change, contract, label, problems)
    if line is None or kind is ChangeKind.REMOVE_PRODUCT:
        return fields
    fields["product_code"] = line.product_code
    if line.kind is not LineKind.RECURRING:
        problems.add(
            "change",
            f"contract line {line.line_no} is {line.kind.value}; only recurring lines change quantity or price",
            record=label,
        )
    elif line.ramp_phases:
        problems.add(
            "change",
            f"contract line {line.line_no} is ramped; end it (remove_product) and add the product again",
            record=label,
        )
    elif kind is ChangeKind.QUANTITY:
        _check_quantity_change(change, line, label, problems)
    else:
        _check_price_change(change, line, label, problems)
    return fields


def _changed_line(
    change: CrmAmendmentChangeRecord,
    contract: Contract,
    lines: tuple[ContractLine, ...] | None,
    effective_on: date | None,
    label: str,
    problems: _Problems,
) -> ContractLine | None:
    """The contract line the change names, if it is in service on the effective date."""
    if change.line_no is None:
        problems.add("line_no", "missing: which contract line the change applies to", _REFERENCE, record=label)
        return None
    if lines is None or effective_on is None:
        return None  # the contract or the date is reported already: the line cannot be placed
    line = next((candidate for candidate in lines if candidate.line_no == change.line_no), None)
    if line is None:
        problems.add(
            "line_no",
            f"{contract.contract_id} version {contract.version} has no line {change.line_no}",
            _REFERENCE,
            record=label,
        )
        return None
    if line.service_end < effective_on:
        problems.add(
            "line_no",
            f"contract line {line.line_no} ended on {line.service_end}, before the change takes effect",
            _REFERENCE,
            record=label,
        )
        return None
    if change.product_code is not None and change.product_code != line.product_code:
        problems.add(
            "product_code",
            f"is {change.product_code}, but contract line {line.line_no} is {line.product_code}",
            _REFERENCE,
            record=label,
        )
        return None
    return line


def _check_quantity_change(
    change: CrmAmendmentChangeRecord, line: ContractLine, label: str, problems: _Problems
) -> None:
    if change.quantity is not None and change.quantity == line.quantity:
        problems.add("quantity", f"is {line.quantity} already", record=label)
    # The CRM may repeat the line's price on a quantity change; a different one needs a price change of its own.
    price = line.net_unit_price
    if change.net_unit_price is not None and price is not None and change.net_unit_price != price.amount:
        problems.add(
            "net_unit_price",
            f"a quantity change keeps the line's price of {price}; change the price with a price change",
            record=label,
        )


def _check_price_change(change: CrmAmendmentChangeRecord, line: ContractLine, label: str, problems: _Problems) -> None:
    if line.net_unit_price is not None and change.net_unit_price == line.net_unit_price.amount:
        problems.add("net_unit_price", f"is {line.net_unit_price} already", record=label)
    if change.quantity is not None and change.quantity != line.quantity:
        problems.add(
            "quantity",
            f"a price change keeps the line's quantity of {line.quantity}; change it with a quantity change",
            record=label,
        )


def _term_extension(
    change: CrmAmendmentChangeRecord, contract: Contract, label: str, problems: _Problems
) -> dict[str, Any]:
    if change.term_end is None:
        problems.add("term_end", "missing: the new last day of the term", record=label)
    elif change.term_end <= contract.term_end:
        problems.add(
            "term_end",
            f"{change.term_end} does not extend the term, which ends on {contract.term_end}",
            record=label,
        )
    return {"term_end": change.term_end}


def _cancellation(change: CrmAmendmentChangeRecord, label: str, problems: _Problems) -> dict[str, Any]:
    if change.cancellation not in set(CancellationTiming):
        message = f"missing: when service ends ({_choices(CancellationTiming)})"
        if change.cancellation is not None:
            message = f"{change.cancellation!r} is not one of {_choices(CancellationTiming)}"
        problems.add("cancellation", message, record=label)
        return {}
    return {"cancellation": change.cancellation}


def _check_positive(value: Decimal | None, field: str, what: str, label: str, problems: _Problems) -> None:
    if value is None:
        problems.add(field, f"missing: {what}", record=label)
    elif value <= 0:
        problems.add(field, f"is {value}; it must be above zero", record=label)


def _price(change: CrmAmendmentChangeRecord, contract: Contract, label: str, problems: _Problems) -> Money | None:
    """The change's net unit price per month, in the contract's currency."""
    if change.net_unit_price is None:
        problems.add("net_unit_price", "missing: the net unit price per month", record=label)
        return None
    if change.net_unit_price < 0:
        problems.add("net_unit_price", f"is {change.net_unit_price}; a price cannot be negative", record=label)
        return None
    return Money(amount=change.net_unit_price, currency=contract.currency)


def _check_it_applies(amendment: Amendment, contract: Contract, record: str) -> None:
    """Apply the amendment once, so anything the checks above did not foresee is the CRM record's problem now,
    named on the opportunity, rather than a failure later in the saga."""
    try:
        amend_contract(contract, amendment)
    except InvalidRecordError as error:
        raise InvalidRecordError(
            tuple(problem.model_copy(update={"record": record}) for problem in error.problems)
        ) from error
    except ValidationError as error:
        raise InvalidRecordError(
            tuple(
                problem.model_copy(update={"message": f"the amended contract would be invalid: {problem.message}"})
                for problem in problems_from_validation_error(record, error)
            )
        ) from error
    except (ValueError, ArithmeticError) as error:  # e.g. a cancellation at period end past the calendar's end
        problem = FieldProblem(record=record, field="changes", message=f"cannot be applied: {error}")
        raise InvalidRecordError((problem,)) from error


def _choices(values: type[ChangeKind] | type[CancellationTiming] | type[CreditBehavior]) -> str:
    return ", ".join(value.value for value in values)
