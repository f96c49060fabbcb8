"""The reference year (`tests/revenue/reference.py`) as the billing platform and the ERP would hand it to the
revenue engine adapter: canonical invoices, payments, metered usage and accounting periods.

The documents carry the IDs the direct run gives its invoices and payments (`INV-20270101`, `PAY-INV-20270101`), so
the adapter's journal entries can be compared with the direct run's one for one.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from adapters.revenue_engine import BuiltInRevenueEngine
from canonical.billing_documents import BilledLine, BillingDocument, BillingPayment, DocumentKind, MeteredUsage
from canonical.contract import Contract
from canonical.general_ledger import AccountingPeriod
from canonical.money import Money, sum_money
from revenue.ledger import ContractBalances
from revenue.obligations import obligations_from_contract
from revenue.usage import price_month_of_usage
from tests.revenue.reference import reference_contract, scenario, usage_by_month, usd

PLATFORM, ONBOARDING, API = 1, 2, 3  # the reference contract's line numbers
PRODUCTS = {PLATFORM: "PLAT-SEAT", ONBOARDING: "ONB-STD", API: "API-OVG"}
SUBSCRIPTION = "sub_NW1"
CUSTOMER = "cus_NW1"
MONTHS = tuple(date(2027, month, 1) for month in range(1, 13))


def month_end(day: date) -> date:
    return day.replace(day=gregorian.monthrange(day.year, day.month)[1])


def accounting_period(day: date) -> AccountingPeriod:
    """The ERP's period containing `day` (a calendar month)."""
    first = day.replace(day=1)
    return AccountingPeriod(
        period_id=f"AP{first:%Y%m}", name=f"{first:%b %Y}", start=first, end=month_end(first), closed=False
    )


def line(
    contract: Contract, line_no: int, amount: Money, start: date, end: date, quantity: int | None = None
) -> BilledLine:
    return BilledLine(
        line_id=f"il_{line_no}_{start:%Y%m}",
        contract_id=contract.contract_id,
        line_no=line_no,
        product_code=PRODUCTS[line_no],
        quantity=None if quantity is None else Decimal(quantity),
        amount=amount,
        period_start=start,
        period_end=end,
    )


def invoice(
    contract: Contract, issued_on: date, lines: tuple[BilledLine, ...], document_id: str | None = None
) -> BillingDocument:
    return BillingDocument(
        document_id=document_id or f"INV-{issued_on:%Y%m%d}",
        kind=DocumentKind.INVOICE,
        number=f"NW-{issued_on:%Y%m}",
        contract_id=contract.contract_id,
        subscription_id=SUBSCRIPTION,
        billing_customer_id=CUSTOMER,
        legal_entity=contract.customer.legal_entity,
        currency=contract.currency,
        issued_on=issued_on,
        lines=lines,
        total=sum_money((item.amount for item in lines), contract.currency),
    )


def usage_charge_for(contract: Contract, month: date) -> Money:
    """What the reference contract charges for the month's API calls over the allowance."""
    api = obligations_from_contract(contract)[API - 1]
    return price_month_of_usage(api, month, usage_by_month()[month]).amount


def usage_line(contract: Contract, month: date) -> BilledLine:
    """The invoice line in arrears for `month`'s usage, as billing prices it."""
    return line(contract, API, usage_charge_for(contract, month), month, month_end(month), usage_by_month()[month])


def monthly_invoice(contract: Contract, month: date) -> BillingDocument:
    """The 1st-of-the-month invoice of the reference run: seats in advance, onboarding with the first, last
    month's usage in arrears (a zero line is left out, as the direct run leaves it out)."""
    lines = [line(contract, PLATFORM, usd("9000.00"), month, month_end(month))]
    if month == contract.term_start:
        lines.append(line(contract, ONBOARDING, usd("15000.00"), month, month))
    previous = (month - timedelta(days=1)).replace(day=1)
    if previous in usage_by_month() and not usage_charge_for(contract, previous).is_zero:
        lines.append(usage_line(contract, previous))
    return invoice(contract, month, tuple(lines))


def payment_of(document: BillingDocument) -> BillingPayment:
    paid_after = timedelta(days=scenario()["payments"]["paid_days_after_invoice"])
    return BillingPayment(
        payment_id=f"PAY-{document.document_id}",
        invoice_id=document.document_id,
        contract_id=document.contract_id,
        billing_customer_id=document.billing_customer_id,
        amount=document.total,
        paid_on=document.issued_on + paid_after,
    )


def metered(contract: Contract, month: date, quantity: int | None = None) -> MeteredUsage:
    return MeteredUsage(
        contract_id=contract.contract_id,
        line_no=API,
        period_start=month,
        period_end=month_end(month),
        quantity=Decimal(usage_by_month()[month] if quantity is None else quantity),
    )


@dataclass(frozen=True)
class Step:
    """One thing that happens in the reference year: on `day`, invoices before payments before the close."""

    day: date
    order: int
    what: BillingDocument | BillingPayment | AccountingPeriod


def reference_steps(contract: Contract, through: date = date(2027, 12, 31)) -> Iterator[Step]:
    steps = []
    for month in MONTHS:
        document = monthly_invoice(contract, month)
        payment = payment_of(document)
        steps += [
            Step(month, 1, document),
            Step(payment.paid_on, 2, payment),
            Step(month_end(month), 3, accounting_period(month)),
        ]
    yield from (step for step in sorted(steps, key=lambda s: (s.day, s.order)) if step.day <= through)


async def drive_reference_year(
    engine: BuiltInRevenueEngine, through: date = date(2027, 12, 31), contract: Contract | None = None
) -> dict[str, ContractBalances]:
    """Register the reference contract and run its year through the adapter; the balances after each close."""
    contract = contract or reference_contract()
    await engine.register_contract(contract, SUBSCRIPTION, f"closed-won/{contract.contract_id}/revenue_contract")
    balances: dict[str, ContractBalances] = {}
    for step in reference_steps(contract, through):
        what = step.what
        if isinstance(what, BillingDocument):
            await engine.record_billing(what, accounting_period(what.issued_on), f"invoice/{what.document_id}")
        elif isinstance(what, BillingPayment):
            await engine.record_payment(what, f"payment/{what.payment_id}")
        else:
            usage = (metered(contract, what.start),)
            await engine.recognise_period(what, usage, f"close/{what.start:%Y-%m}")
            balances[f"{what.start:%Y-%m}"] = await engine.balances(contract.contract_id)
    return balances


def amounts(balances: Mapping[str, ContractBalances]) -> dict[str, tuple[Money, ...]]:
    """Balances as comparable figures, per key."""
    return {
        key: (
            b.billed,
            b.recognised,
            b.receivable,
            b.unbilled_receivable,
            b.contract_asset,
            b.contract_liability,
            b.cash,
        )
        for key, b in balances.items()
    }


__all__ = [
    "API",
    "CUSTOMER",
    "MONTHS",
    "ONBOARDING",
    "PLATFORM",
    "SUBSCRIPTION",
    "Step",
    "accounting_period",
    "amounts",
    "drive_reference_year",
    "invoice",
    "line",
    "metered",
    "month_end",
    "monthly_invoice",
    "payment_of",
    "reference_contract",
    "reference_steps",
    "usage_charge_for",
    "usage_line",
]
