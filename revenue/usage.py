"""Usage: variable consideration priced month by month, recognised in the month the usage occurs.

The right to invoice arises as the usage occurs, so the charge is revenue of that month (an unbilled
receivable until the invoice in arrears); see the ledger for the receivable side.
"""

from __future__ import annotations

import calendar as gregorian
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from canonical.money import Money
from revenue.obligations import PerformanceObligation

__all__ = ["UsageCharge", "price_month_of_usage"]


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """What one stretch of usage earned; recognised on `occurred_on`."""

    obligation_id: str
    occurred_on: date
    quantity: Decimal
    amount: Money


def price_month_of_usage(obligation: PerformanceObligation, month: date, quantity: Decimal | int) -> UsageCharge:
    """The charge for a calendar month's usage: units above the monthly allowance at the unit price, to the cent.

    `month` is any day of the month. The charge is dated on the month's last day (or the obligation's end, if
    earlier), so it lands in the period that contains the usage under any calendar whose periods end on month
    ends, and in the period containing the month end under a 4-4-5 calendar.
    """
    terms = obligation.usage
    if terms is None:
        raise ValueError(f"{obligation.obligation_id} is not a usage obligation")
    first = month.replace(day=1)
    last = month.replace(day=gregorian.monthrange(month.year, month.month)[1])
    if last < obligation.start or first > obligation.end:
        raise ValueError(f"usage in {first:%Y-%m} lies outside {obligation.obligation_id}'s service period")
    billable = max(Decimal(quantity) - terms.included_per_month, Decimal(0))
    return UsageCharge(
        obligation_id=obligation.obligation_id,
        occurred_on=min(last, obligation.end),
        quantity=Decimal(quantity),
        amount=(terms.unit_price_over_included * billable).rounded(),
    )
