"""What the invoice → revenue, payment-settled and period-close sagas take and show.

Each saga's state is one small record that the Temporal UI query and the CLI show as is: the step it is on, what it
has posted where, and the exception it is parked on, if any.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from canonical.billing_documents import DocumentKind
from canonical.general_ledger import AccountingPeriod, PostedTransaction
from canonical.money import Money
from canonical.saga import SagaException, SagaStatus
from canonical.saga_policy import SagaPolicy

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_STATE = ConfigDict(extra="forbid")  # a saga updates its state in place; queries read it


class InvoiceStep(StrEnum):
    FETCH_DOCUMENT = "fetch_document"
    ENRICH = "enrich"
    ACCOUNTING_PERIOD = "accounting_period"
    ERP_POSTING = "erp_posting"
    REVENUE_ENGINE = "revenue_engine"
    DEFERRED_REVENUE_JOURNAL = "deferred_revenue_journal"
    ACKNOWLEDGE = "acknowledge"
    DONE = "done"


class InvoiceToRevenueInput(BaseModel):
    model_config = _FROZEN

    document_id: str = Field(min_length=1)
    policy: SagaPolicy


class PeriodDecision(BaseModel):
    """Finance's answer to an invoice dated in a closed period: post it in this open period."""

    model_config = _FROZEN

    decided_by: str = Field(min_length=1)
    period_id: str = Field(min_length=1)
    note: str = ""


class InvoiceToRevenueState(BaseModel):
    model_config = _STATE

    document_id: str
    status: SagaStatus = SagaStatus.RUNNING
    step: InvoiceStep = InvoiceStep.FETCH_DOCUMENT
    kind: DocumentKind | None = None
    contract_id: str | None = None
    total: Money | None = None
    issued_on: date | None = None
    closed_period: AccountingPeriod | None = Field(None, description="The closed period the document was dated in")
    period: AccountingPeriod | None = Field(None, description="The period it is posted in")
    period_decision: PeriodDecision | None = None
    erp_posting: PostedTransaction | None = None
    deferred_revenue_journal: PostedTransaction | None = None
    exception: SagaException | None = None


class PaymentStep(StrEnum):
    FETCH_PAYMENT = "fetch_payment"
    ERP_PAYMENT = "erp_payment"
    REVENUE_ENGINE = "revenue_engine"
    CRM_ACCOUNT = "crm_account"
    DONE = "done"


class PaymentSettledInput(BaseModel):
    model_config = _FROZEN

    invoice_id: str = Field(min_length=1)
    policy: SagaPolicy


class PaymentSettledState(BaseModel):
    model_config = _STATE

    invoice_id: str
    status: SagaStatus = SagaStatus.RUNNING
    step: PaymentStep = PaymentStep.FETCH_PAYMENT
    amount: Money | None = None
    paid_on: date | None = None
    erp_payment: PostedTransaction | None = None
    exception: SagaException | None = None


class PeriodCloseStep(StrEnum):
    ACCOUNTING_PERIOD = "accounting_period"
    METERED_USAGE = "metered_usage"
    RECOGNISE = "recognise"
    ERP_JOURNALS = "erp_journals"
    LOCK = "lock"
    DONE = "done"


class PeriodCloseInput(BaseModel):
    model_config = _FROZEN

    period_on: date = Field(description="Any day of the period to close")
    policy: SagaPolicy


class PeriodCloseState(BaseModel):
    model_config = _STATE

    period_on: date
    status: SagaStatus = SagaStatus.RUNNING
    step: PeriodCloseStep = PeriodCloseStep.ACCOUNTING_PERIOD
    period: AccountingPeriod | None = None
    usage_lines: int = 0
    journals: tuple[PostedTransaction, ...] = ()
    exception: SagaException | None = None
