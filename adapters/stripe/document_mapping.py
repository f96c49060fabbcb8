"""Stripe invoices, credit notes and their lines → canonical billing documents. Pure: no I/O.

- A line bills the contract line named by its price's metadata (`contract_id`, `line_no`, `product_code`, set by
  q2c when it created the price); a credit note line that credits an invoice line bills what that line billed.
- Amounts are Stripe's integer minor units. Credit note amounts are positive: what is credited back.
- Days are UTC. Stripe's periods end exclusively (`end` is the first second after the service), the canonical
  `period_end` is the last day of service, inclusive: one second before `end`, unless the period is an instant
  (a one-time item billed at creation has start == end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import stripe
from pydantic import ValidationError

from adapters.errors import PermanentAdapterError
from canonical.billing_documents import BilledLine, BillingDocument
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System

CONTRACT_KEYS = ("contract_id", "line_no", "product_code")


def utc_day(moment: int) -> date:
    return datetime.fromtimestamp(moment, UTC).date()


def service_days(start: int, end: int) -> tuple[date, date]:
    """Stripe's `[start, end)` period as first and last day of service (UTC)."""
    return utc_day(start), utc_day(max(start, end - 1))


def metadata_value(metadata: stripe.StripeObject | Mapping[str, str] | None, key: str) -> str | None:
    """A value of a Stripe metadata map; None when absent or empty (Stripe's way of unsetting a key)."""
    if metadata is None or key not in metadata:
        return None
    value = str(metadata[key])
    return value or None


def field_at(obj: Any, *path: str) -> Any:
    """A nested field of a Stripe object, None where any part is absent (older API versions lack some)."""
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def id_of(value: str | stripe.StripeObject) -> str:
    """An expandable field's ID, whether Stripe sent the ID or the expanded object."""
    return value if isinstance(value, str) else str(value["id"])


@dataclass(frozen=True)
class ContractLineRef:
    """The contract line a Stripe line bills, as its price's metadata names it."""

    contract_id: str
    line_no: int
    product_code: str


def contract_line_ref(
    metadata: stripe.StripeObject | Mapping[str, str] | None, document_id: str, line_id: str
) -> ContractLineRef:
    values = {key: metadata_value(metadata, key) for key in CONTRACT_KEYS}
    line_no = values["line_no"]
    if values["contract_id"] is None or values["product_code"] is None or line_no is None or not line_no.isdigit():
        missing = ", ".join(k for k, v in values.items() if v is None) or f"line_no {line_no!r} is not a number"
        raise PermanentAdapterError(
            System.BILLING,
            f"{document_id} line {line_id}: its price carries no q2c contract line ({missing}); "
            "only prices created by q2c for a contract can be mapped to a contract line",
            ExceptionCategory.MAPPING_MISSING,
        )
    return ContractLineRef(values["contract_id"], int(line_no), values["product_code"])


@dataclass(frozen=True)
class LineFacts:
    """What one Stripe line says, in plain values (invoice line or credit note line)."""

    line_id: str
    description: str
    quantity: Decimal | None
    amount_minor: int
    period: tuple[int, int]
    proration: bool


def billed_line(ref: ContractLineRef, facts: LineFacts, currency: str) -> BilledLine:
    first, last = service_days(*facts.period)
    return BilledLine(
        line_id=facts.line_id,
        contract_id=ref.contract_id,
        line_no=ref.line_no,
        product_code=ref.product_code,
        description=facts.description,
        quantity=facts.quantity,
        amount=Money.from_minor_units(facts.amount_minor, currency),
        period_start=first,
        period_end=last,
        proration=facts.proration,
    )


def invoice_line_facts(line: stripe.InvoiceLineItem) -> LineFacts:
    """An invoice line item (API 2025-03-31 and later: the proration flag under `parent`, quantity_decimal)."""
    details: Any = None
    if line.parent is not None:
        details = line.parent.subscription_item_details or line.parent.invoice_item_details
    quantity = line.quantity_decimal if line.quantity_decimal is not None else line.quantity
    return LineFacts(
        line_id=line.id,
        description=line.description or "",
        quantity=None if quantity is None else Decimal(str(quantity)),
        amount_minor=line.amount,
        period=(line.period.start, line.period.end),
        proration=bool(details is not None and details.proration),
    )


def credit_line_facts(line: stripe.CreditNoteLineItem, period: tuple[int, int], proration: bool) -> LineFacts:
    """A credit note line: its own amount (positive) and quantity, the period and proration of what it credits."""
    return LineFacts(
        line_id=line.id,
        description=line.description or "",
        quantity=None if line.quantity is None else Decimal(line.quantity),
        amount_minor=line.amount,
        period=period,
        proration=proration,
    )


def price_id_of(line: stripe.InvoiceLineItem, document_id: str) -> str:
    details = line.pricing.price_details if line.pricing is not None else None
    if details is None:
        raise PermanentAdapterError(
            System.BILLING,
            f"{document_id} line {line.id}: it is not billed from a price, so it names no contract line",
            ExceptionCategory.MAPPING_MISSING,
        )
    return id_of(details.price)


@dataclass(frozen=True)
class CustomerRefs:
    """The other systems' references q2c keeps on the Stripe customer (see mapping.customer_params)."""

    erp_customer_id: str | None = None
    crm_account_id: str | None = None
    legal_entity: str | None = None
    customer_country: str | None = None

    @classmethod
    def of(
        cls, metadata: stripe.StripeObject | Mapping[str, str] | None, address_country: str | None = None
    ) -> CustomerRefs:
        return cls(
            erp_customer_id=metadata_value(metadata, "erp_customer_id"),
            crm_account_id=metadata_value(metadata, "crm_account_id"),
            legal_entity=metadata_value(metadata, "legal_entity"),
            customer_country=metadata_value(metadata, "country") or address_country,
        )


def contract_of(
    document_id: str,
    subscription_metadata: stripe.StripeObject | Mapping[str, str] | None,
    lines: tuple[BilledLine, ...],
) -> str:
    """The subscription's contract, else the one contract every line bills."""
    named = metadata_value(subscription_metadata, "contract_id")
    if named is not None:
        return named
    billed = sorted({line.contract_id for line in lines})
    if len(billed) != 1:
        raise PermanentAdapterError(
            System.BILLING,
            f"{document_id}: its subscription names no contract and its lines bill {len(billed)} contracts "
            f"({', '.join(billed) or 'none'})",
            ExceptionCategory.MAPPING_MISSING,
        )
    return billed[0]


def build_document(fields: Mapping[str, Any]) -> BillingDocument:
    """The canonical document; one that does not add up (taxes or discounts q2c does not map, mixed contracts)
    is refused as data the billing team has to look at."""
    try:
        return BillingDocument.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(str(e.get("msg", e)) for e in error.errors())
        raise PermanentAdapterError(
            System.BILLING,
            f"{fields.get('document_id')} cannot be read as a billing document: {problems}",
            ExceptionCategory.INVALID_DATA,
        ) from error
