"""Small constructors for obligations in the standard's examples, which have no CRM deal behind them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from canonical.contract import UsageTerms
from canonical.money import Money
from canonical.product import SspBasis
from revenue.obligations import PerformanceObligation, QuantityPhase, Satisfaction, StandalonePrice


def usd(amount: str | int) -> Money:
    return Money.of(amount, "USD")


def obligation(
    name: str,
    *,
    consideration: str | int = 0,
    ssp: str | int | None = None,
    quantity: int = 1,
    basis: SspBasis = SspBasis.EACH,
    ssp_range: tuple[str | int, str | int] | None = None,
    satisfaction: Satisfaction = Satisfaction.POINT_IN_TIME,
    start: date = date(2027, 1, 1),
    end: date = date(2027, 12, 31),
    milestone: date | None = date(2027, 1, 1),
    contract_id: str = "C1",
    revenue_account: str = "4000",
    product_code: str | None = None,
) -> PerformanceObligation:
    low, high = ssp_range if ssp_range else (None, None)
    return PerformanceObligation(
        obligation_id=f"{contract_id}#{name}",
        contract_id=contract_id,
        line_no=1,
        product_code=product_code or name,
        satisfaction=satisfaction,
        start=start,
        end=end,
        milestone=milestone if satisfaction is Satisfaction.POINT_IN_TIME else None,
        consideration=usd(consideration),
        quantities=(QuantityPhase(start, end, Decimal(quantity)),),
        standalone=StandalonePrice(
            usd(ssp) if ssp is not None else None,
            basis,
            usd(low) if low is not None else None,
            usd(high) if high is not None else None,
        ),
        revenue_account=revenue_account,
        contract_liability_account="2400",
    )


def usage_obligation(
    name: str = "usage", *, contract_id: str = "C1", start: date = date(2027, 1, 1)
) -> PerformanceObligation:
    """1,000 calls a month included, then 0.01 a call."""
    terms = UsageTerms(unit="call", included_per_month=Decimal(1000), unit_price_over_included=usd("0.01"))
    base = obligation(
        name, contract_id=contract_id, start=start, satisfaction=Satisfaction.USAGE, revenue_account="4200"
    )
    return replace(base, usage=terms)
