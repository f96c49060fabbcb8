"""What q2c posts to, and reads from, the general ledger, in its own terms: ERP item codes, GL account numbers,
legal entity codes, exact Decimal amounts. Each ERP adapter maps them to its own IDs (NetSuite: internal IDs).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("amounts must be Decimal, int or a decimal string, not float")
    return value


Amount = Annotated[Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class InvoiceLine(BaseModel):
    model_config = _FROZEN

    item: str = Field(min_length=1, description="ERP item code, e.g. SUB-PLATFORM")
    quantity: Amount = Decimal(1)
    rate: Amount
    amount: Amount
    description: str = ""
    account: str | None = Field(
        None, description="GL account number to credit instead of the item's income account, e.g. 2400 (deferred)"
    )


class InvoicePosting(BaseModel):
    """A billing invoice as the ERP books it: one line per billed item; external ID = the billing invoice ID."""

    model_config = _FROZEN

    external_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1, description="The ERP customer's internal ID")
    tran_date: date
    currency: str = Field(min_length=3, max_length=3)
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    posting_period_id: str | None = Field(None, description="Default: the period containing tran_date")
    tax_code: str | None = Field(None, description="From the mapping rules' tax table by the customer's country")
    memo: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


class CreditMemoPosting(BaseModel):
    model_config = _FROZEN

    external_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    tran_date: date
    currency: str = Field(min_length=3, max_length=3)
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    applies_to_invoice_id: str | None = Field(None, description="Internal ID of the invoice it credits")
    posting_period_id: str | None = None
    tax_code: str | None = None
    memo: str = ""


class PaymentApplication(BaseModel):
    model_config = _FROZEN

    invoice_id: str = Field(min_length=1, description="Internal ID of the invoice paid")
    amount: Amount = Field(gt=0)


class CustomerPaymentPosting(BaseModel):
    model_config = _FROZEN

    external_id: str = Field(min_length=1, description="E.g. the payment processor's charge or payout ID")
    customer_id: str = Field(min_length=1)
    tran_date: date
    amount: Amount = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    applications: tuple[PaymentApplication, ...] = ()
    deposit_account: str | None = Field(None, description="GL account number; default: NetSuite's bank account")
    posting_period_id: str | None = None
    memo: str = ""

    @model_validator(mode="after")
    def _applied_within_payment(self) -> CustomerPaymentPosting:
        if sum((a.amount for a in self.applications), Decimal(0)) > self.amount:
            raise ValueError("the applications add up to more than the payment")
        return self


class JournalLine(BaseModel):
    model_config = _FROZEN

    account: str = Field(min_length=1, description="GL account number, e.g. 2400")
    debit: Amount | None = Field(None, gt=0)
    credit: Amount | None = Field(None, gt=0)
    memo: str = ""
    customer_id: str | None = Field(None, description="The customer, on receivables lines")

    @model_validator(mode="after")
    def _one_side(self) -> JournalLine:
        if (self.debit is None) == (self.credit is None):
            raise ValueError("a journal line has either a debit or a credit")
        return self


class JournalEntryPosting(BaseModel):
    model_config = _FROZEN

    external_id: str = Field(min_length=1)
    tran_date: date
    legal_entity: str = Field(min_length=1, description="Legal entity code, e.g. US01 (its ERP subsidiary)")
    lines: tuple[JournalLine, ...] = Field(min_length=2)
    currency: str | None = Field(None, min_length=3, max_length=3, description="Default: the entity's currency")
    posting_period_id: str | None = None
    memo: str = ""

    @model_validator(mode="after")
    def _balanced(self) -> JournalEntryPosting:
        debits = sum((line.debit or Decimal(0) for line in self.lines), Decimal(0))
        credits = sum((line.credit or Decimal(0) for line in self.lines), Decimal(0))
        if debits != credits:
            raise ValueError(f"debits {debits} and credits {credits} differ")
        return self


class PostedTransaction(BaseModel):
    model_config = _FROZEN

    record_type: str
    internal_id: str
    external_id: str
    posting_period_id: str
    total: Decimal


class AccountingPeriod(BaseModel):
    model_config = _FROZEN

    period_id: str
    name: str
    start: date
    end: date
    closed: bool


class TrialBalanceLine(BaseModel):
    model_config = _FROZEN

    account_id: str
    account_number: str
    account_name: str
    debit: Decimal
    credit: Decimal

    @property
    def net(self) -> Decimal:
        """Debit minus credit: positive for a debit balance."""
        return self.debit - self.credit


class TrialBalance(BaseModel):
    """The GL activity posted in one period, per account."""

    model_config = _FROZEN

    period: AccountingPeriod
    lines: tuple[TrialBalanceLine, ...]

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal(0))

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal(0))

    @property
    def is_balanced(self) -> bool:
        return self.total_debit == self.total_credit

    def line(self, account_number: str) -> TrialBalanceLine | None:
        return next((line for line in self.lines if line.account_number == account_number), None)
