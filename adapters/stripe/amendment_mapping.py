"""A contract amendment → changes to its Stripe subscription, and Stripe's prorations → canonical lines. Pure: no I/O.

How an amended contract (version n + 1, from `amend_contract`) maps onto the subscription of version n:

- A line that starts on the effective day and has no subscription item yet (a product added, the extra units of
  a quantity increase, the replacement of a changed line) becomes a new item with a price of its own, whose
  metadata names the contract line as the original prices do.
- An item whose contract line now ends before the effective day (a product removed, a line replaced by a price
  change or a decrease) is deleted at the effective moment.
- A later term end moves `cancel_at` to the day after it; a cancellation cancels at once or at the period end.

What the change replaces is recorded on the subscription first (metadata, Stripe's limits: 40-character keys,
500-character values), so the change can be reversed even when it stopped half-way: the items before it (price and
quantity), `cancel_at`, `cancel_at_period_end`, the effective moment and how credits are given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from adapters.errors import PermanentAdapterError
from adapters.stripe.document_mapping import service_days
from adapters.stripe.mapping import MONTHS, minor_units, unix, whole
from canonical.amendment import Amendment, CancellationTiming, ChangeKind, CreditBehavior, ProrationLine
from canonical.contract import Contract, ContractLine
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.product import LineKind
from canonical.references import System

AMENDED_BY = "q2c_amended_by"  # the key of the latest amendment applied (or being applied)
REVERSED_BY = "q2c_reversed_by"  # the key of the amendment last reversed
UNDO = "q2c_amendment_undo"
UNDO_ITEMS = "q2c_amendment_undo_items"
CONTRACT_VERSION = "contract_version"
ADDED_BY = "q2c_added_by"  # on subscription items an amendment added
MAX_METADATA_VALUE = 500


def applied_key(version: int) -> str:
    """`q2c_amendment_<n>`: the key that made contract version n, once every step of it is done."""
    return f"q2c_amendment_{version}"


def documents_key(version: int) -> str:
    return f"q2c_amendment_{version}_documents"


def refuse(message: str, category: ExceptionCategory = ExceptionCategory.INVALID_DATA) -> PermanentAdapterError:
    return PermanentAdapterError(System.BILLING, message, category)


@dataclass(frozen=True)
class CurrentItem:
    """A subscription item as the change sees it: the contract line its price names, if any."""

    item_id: str
    price_id: str
    quantity: int | None  # None: metered
    contract_id: str | None
    line_no: int | None
    product_code: str | None = None
    added_by: str | None = None  # the amendment key that added the item


@dataclass(frozen=True)
class SubscriptionChange:
    added: tuple[ContractLine, ...] = ()
    removed: tuple[CurrentItem, ...] = ()
    cancel_at: int | None = None  # the new `cancel_at` of a term extension
    cancellation: CancellationTiming | None = None

    @property
    def changes_items(self) -> bool:
        return bool(self.added or self.removed)


def subscription_change(amended: Contract, amendment: Amendment, items: Iterable[CurrentItem]) -> SubscriptionChange:
    """What to change on the subscription so it bills `amended` from `amendment.effective`. Computed from the
    subscription as it is, so a retry after a partial attempt asks only for what is still missing."""
    cancellation = next((c.cancellation for c in amendment.changes if c.kind is ChangeKind.CANCELLATION), None)
    if cancellation is not None:
        return SubscriptionChange(cancellation=cancellation)
    mine = {item.line_no: item for item in items if item.contract_id == amended.contract_id and item.line_no}
    lines = {line.line_no: line for line in amended.lines}
    removed = tuple(item for no, item in sorted(mine.items()) if no in lines and _ended_before(lines[no], amendment))
    added = tuple(line for line in amended.lines if line.line_no not in mine and _starts_with(line, amendment))
    extended = any(c.kind is ChangeKind.TERM_EXTENSION for c in amendment.changes)
    cancel_at = unix(amended.term_end + timedelta(days=1)) if extended else None
    return SubscriptionChange(added=added, removed=removed, cancel_at=cancel_at)


def _ended_before(line: ContractLine, amendment: Amendment) -> bool:
    return line.service_end < amendment.effective_on or (line.kind is LineKind.RECURRING and line.quantity == 0)


def _starts_with(line: ContractLine, amendment: Amendment) -> bool:
    """A billed line the amendment starts. One starting later would need a schedule: refused."""
    if line.kind is LineKind.ONE_TIME or line.service_end < amendment.effective_on:
        return False
    if line.service_start > amendment.effective_on:
        raise refuse(
            f"{amendment.amendment_id}: line {line.line_no} starts on {line.service_start}, after the effective day "
            f"{amendment.effective_on}; Stripe would need a schedule for it"
        )
    if line.service_start < amendment.effective_on:
        return False  # in service before the change (its item belongs to another contract version): left as it is
    if line.ramp_phases:
        raise refuse(f"{amendment.amendment_id}: line {line.line_no} has ramp phases; an amendment cannot add them")
    return line.kind is LineKind.USAGE or line.quantity > 0


def item_quantity(line: ContractLine) -> int | None:
    return None if line.kind is LineKind.USAGE else whole(line.quantity, f"line {line.line_no}'s quantity")


# --- what the change replaces ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Undo:
    """The subscription before an amendment: enough to put it back."""

    version: int  # the contract version the amendment makes
    amendment_id: str
    effective: int
    credit: CreditBehavior
    items: tuple[tuple[str, int | None], ...]  # (price ID, quantity; None for metered)
    cancel_at: int | None
    cancel_at_period_end: bool


def undo_metadata(undo: Undo, key: str) -> dict[str, str]:
    scalars = {
        "version": undo.version,
        "amendment": undo.amendment_id,
        "effective": undo.effective,
        "credit": undo.credit.value,
        "cancel_at": undo.cancel_at,
        "cancel_at_period_end": undo.cancel_at_period_end,
    }
    items = " ".join(price if quantity is None else f"{price}:{quantity}" for price, quantity in undo.items)
    values = {AMENDED_BY: key, UNDO: json.dumps(scalars, separators=(",", ":")), UNDO_ITEMS: items}
    too_long = [name for name, value in values.items() if len(value) > MAX_METADATA_VALUE]
    if too_long:
        raise refuse(
            f"the subscription's {', '.join(too_long)} would exceed Stripe's {MAX_METADATA_VALUE}-character "
            f"metadata values ({len(undo.items)} items): too many items to record for a reversal"
        )
    return values


def read_undo(metadata: Mapping[str, str]) -> Undo | None:
    raw, items = metadata.get(UNDO), metadata.get(UNDO_ITEMS)
    if not raw or items is None:
        return None
    scalars = json.loads(raw)
    return Undo(
        version=int(scalars["version"]),
        amendment_id=str(scalars["amendment"]),
        effective=int(scalars["effective"]),
        credit=CreditBehavior(scalars["credit"]),
        items=tuple(_item_of(text) for text in items.split()),
        cancel_at=None if scalars["cancel_at"] is None else int(scalars["cancel_at"]),
        cancel_at_period_end=bool(scalars["cancel_at_period_end"]),
    )


def _item_of(text: str) -> tuple[str, int | None]:
    price, _, quantity = text.partition(":")
    return price, int(quantity) if quantity else None


def cleared_undo() -> dict[str, str]:
    """Metadata that removes the record (Stripe unsets a key set to "")."""
    return {AMENDED_BY: "", UNDO: "", UNDO_ITEMS: ""}


# --- prorations → canonical lines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProrationFacts:
    """One line of a Stripe (preview) invoice, in plain values."""

    description: str
    amount_minor: int
    period: tuple[int, int]
    proration: bool
    price_id: str | None
    product_id: str | None
    unit_amount_decimal: str | None
    quantity: int | None
    subscription_item: str | None


def inline_price_key(line: ContractLine) -> tuple[str, Decimal, int | None]:
    """How a line priced inline (`price_data`) is recognised in a preview: product, unit amount, quantity."""
    assert line.net_unit_price is not None  # only recurring lines are priced inline
    unit = Decimal(minor_units(line.net_unit_price * MONTHS[line.billing_frequency]))
    return line.mapping.billing_price_key, unit, item_quantity(line)


def proration_lines(
    facts: Iterable[ProrationFacts],
    at: int,
    line_of_price: Mapping[str, int],
    priced_inline: Iterable[ContractLine],
    currency: str,
) -> tuple[ProrationLine, ...]:
    """The prorations the change makes (those from `at`; earlier pending ones are not its), each named by the
    contract line its price carries, or, for a line priced inline, the added line it was priced for."""
    inline = {inline_price_key(line): line.line_no for line in priced_inline}
    result = []
    for fact in facts:
        if not fact.proration or fact.period[0] != at:
            continue
        line_no = line_of_price.get(fact.price_id or "")
        if line_no is None:
            unit = Decimal(fact.unit_amount_decimal) if fact.unit_amount_decimal is not None else None
            line_no = inline.get((fact.product_id or "", unit or Decimal(-1), fact.quantity))
        if line_no is None:
            raise refuse(f"a proration of {fact.description!r} names no contract line (price {fact.price_id})")
        first, last = service_days(*fact.period)
        result.append(
            ProrationLine(
                description=fact.description,
                line_no=line_no,
                amount=Money.from_minor_units(fact.amount_minor, currency),
                period_start=first,
                period_end=last,
            )
        )
    return tuple(result)


# --- credits as credit notes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    """Unused time of one subscription item, given back (positive, minor units)."""

    item: CurrentItem
    amount: int
    invoice_id: str | None  # the invoice that billed the time, when Stripe names it (`credited_items`)
    invoice_lines: tuple[str, ...]
    description: str


def credit_note_lines(credit: Credit, line_amounts: Mapping[str, int]) -> list[dict[str, object]]:
    """The credit against the lines that billed the time (in order, each up to its amount); what no such line
    takes, as a custom line naming the contract line in its metadata (how documents.py maps it back)."""
    lines: list[dict[str, object]] = []
    rest = credit.amount
    for line_id in credit.invoice_lines:
        share = min(rest, line_amounts.get(line_id, 0))
        if share > 0:
            lines.append({"type": "invoice_line_item", "invoice_line_item": line_id, "amount": share})
            rest -= share
    if rest > 0:
        item = credit.item
        lines.append(
            {
                "type": "custom_line_item",
                "description": credit.description,
                "quantity": 1,
                "unit_amount": rest,
                "metadata": {
                    "contract_id": item.contract_id or "",
                    "line_no": str(item.line_no or ""),
                    "product_code": item.product_code or "",
                },
            }
        )
    return lines


def post_payment_part(total: int, invoice_status: str, amount_remaining: int) -> int:
    """What a credit note gives beyond what the invoice still asks for: Stripe needs it split into refund,
    customer balance credit and credit outside Stripe; q2c credits the customer's balance."""
    still_due = amount_remaining if invoice_status == "open" else 0
    return max(0, total - still_due)
