"""What the billing platform issues, in q2c's terms: invoices and credit notes with their lines, and payments.

Every line says which contract line it bills (the billing price carries the contract ID and line number), so the
revenue engine can apply it to the right performance obligation and the ERP can book it on the right item. A
document whose lines do not add up to its total, or mix currencies, cannot be built.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from canonical.money import Money, sum_money

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class BilledLine(BaseModel):
    """One line of an invoice or credit note. Credit note lines carry positive amounts: what is credited back."""

    model_config = _FROZEN

    line_id: str = Field(min_length=1, description="The billing platform's line ID")
    contract_id: str = Field(min_length=1)
    line_no: int = Field(ge=1, description="The contract line it bills")
    product_code: str = Field(min_length=1)
    description: str = ""
    quantity: Decimal | None = None
    amount: Money
    period_start: date = Field(description="First day of service billed (UTC)")
    period_end: date = Field(description="Last day of service billed, inclusive (UTC)")
    proration: bool = False

    @property
    def obligation_id(self) -> str:
        """The revenue engine's performance obligation for this contract line."""
        return f"{self.contract_id}#{self.line_no}"


class BillingDocument(BaseModel):
    """A finalised invoice or credit note, as fetched from the billing platform."""

    model_config = _FROZEN

    document_id: str = Field(min_length=1, description="The billing platform's ID: the ERP external ID")
    kind: DocumentKind
    number: str | None = None
    contract_id: str = Field(min_length=1)
    subscription_id: str | None = None
    billing_customer_id: str = Field(min_length=1)
    erp_customer_id: str | None = Field(None, description="From the billing customer's metadata, when set")
    crm_account_id: str | None = None
    legal_entity: str | None = None
    customer_country: str | None = Field(None, description="ISO 3166-1 alpha-2, for the tax code")
    currency: str = Field(min_length=3, max_length=3)
    issued_on: date
    lines: tuple[BilledLine, ...] = Field(min_length=1)
    total: Money
    applies_to: str | None = Field(None, description="Credit notes: the invoice they credit")

    @model_validator(mode="after")
    def _adds_up(self) -> BillingDocument:
        currencies = {line.amount.currency for line in self.lines} | {self.total.currency}
        if currencies != {self.currency}:
            raise ValueError(f"{self.document_id}: lines and total must all be in {self.currency}, not {currencies}")
        if sum_money((line.amount for line in self.lines), self.currency) != self.total:
            raise ValueError(f"{self.document_id}: the lines do not add up to the total {self.total}")
        if {line.contract_id for line in self.lines} != {self.contract_id}:
            raise ValueError(f"{self.document_id}: every line must bill contract {self.contract_id}")
        return self


class BillingPayment(BaseModel):
    """Cash received against one invoice."""

    model_config = _FROZEN

    payment_id: str = Field(min_length=1, description="Deterministic from the billing platform's records")
    invoice_id: str = Field(min_length=1)
    contract_id: str = Field(min_length=1)
    billing_customer_id: str = Field(min_length=1)
    erp_customer_id: str | None = None
    crm_account_id: str | None = None
    amount: Money
    paid_on: date


class MeteredUsage(BaseModel):
    """What a usage line metered over a period, as the billing platform counted it."""

    model_config = _FROZEN

    contract_id: str
    line_no: int = Field(ge=1)
    period_start: date
    period_end: date
    quantity: Decimal = Field(ge=0)


class UsageLine(BaseModel):
    """A contract's usage line and the subscription that meters it."""

    model_config = _FROZEN

    contract_id: str
    line_no: int = Field(ge=1)
    subscription_id: str


class AccountPaymentStatus(StrEnum):
    CURRENT = "current"  # nothing owed: every invoice is paid (or the customer is in credit)
    OPEN = "open"  # invoices still await payment


class AccountPaymentUpdate(BaseModel):
    """A settled payment, as the CRM account shows it. `open_receivable` is what the customer still owes after
    this payment, in the same currency as `amount`."""

    model_config = _FROZEN

    invoice_id: str = Field(min_length=1, description="The billing invoice the payment settled, e.g. in_...")
    paid_on: date
    amount: Money
    open_receivable: Money

    @model_validator(mode="after")
    def _one_currency_and_a_payment(self) -> AccountPaymentUpdate:
        if self.amount.currency != self.open_receivable.currency:
            raise ValueError(
                f"the payment is in {self.amount.currency} but the open receivable in {self.open_receivable.currency}"
            )
        if self.amount.is_negative or self.amount.is_zero:
            raise ValueError(f"a payment is more than zero, not {self.amount}")
        return self

    @property
    def status(self) -> AccountPaymentStatus:
        """Current when nothing is owed any more (a credit balance owes nothing either), else open."""
        owing = not (self.open_receivable.is_zero or self.open_receivable.is_negative)
        return AccountPaymentStatus.OPEN if owing else AccountPaymentStatus.CURRENT
