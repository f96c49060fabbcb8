"""The reference year's 15 July expansion (`scenarios/reference-year.toml`) as the amendment saga hands it to the
revenue engine adapter: the amendment, the contract version it makes, the prorated upgrade invoice and the
invoices after it, each with the IDs the direct run (`tests/revenue/reference.py`) gives its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

from adapters.revenue_engine import BuiltInRevenueEngine
from canonical.amendment import Amendment, AmendmentChange, ChangeKind, ModificationFacts, amend_contract
from canonical.billing_documents import BilledLine, BillingDocument, BillingPayment
from canonical.contract import Contract
from canonical.money import Money
from revenue.ledger import ContractBalances
from tests.adapters.revenue_reference import (
    MONTHS,
    SUBSCRIPTION,
    Step,
    accounting_period,
    invoice,
    metered,
    month_end,
    monthly_invoice,
    payment_of,
    reference_steps,
)
from tests.revenue.reference import reference_contract, rules, scenario, usd

SEATS, PREMIUM = 4, 5  # the lines the expansion adds: 50 more seats, the premium module
FACTS = ModificationFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=True)
EFFECTIVE: datetime = scenario()["amendment"]["effective"]
AMENDMENT_ID = scenario()["amendment"]["crm_opportunity_id"]
MODIFICATION_KEY = f"amendment/{AMENDMENT_ID}/revenue_modification"
# Billing prorates the upgrade to the second: 17 of July's 31 days, each line rounded on its own.
PRORATED = {SEATS: usd("2467.74"), PREMIUM: usd("1096.77")}
MONTHLY = {SEATS: usd("4500.00"), PREMIUM: usd("2000.00")}
PRODUCTS = {SEATS: "PLAT-SEAT", PREMIUM: "PREM-MOD"}


def expansion(facts: ModificationFacts = FACTS, *, amendment_id: str = AMENDMENT_ID, version: int = 1) -> Amendment:
    """The scenario's amendment: seats 100 → 150 on line 1 and the premium module at 2,000.00 a month."""
    premium = rules().product("PREM-MOD")
    assert premium is not None
    return Amendment(
        amendment_id=amendment_id,
        contract_id=reference_contract().contract_id,
        references_version=version,
        effective=EFFECTIVE,
        changes=(
            AmendmentChange(kind=ChangeKind.QUANTITY, line_no=1, quantity=Decimal(150)),
            AmendmentChange(
                kind=ChangeKind.ADD_PRODUCT,
                product_code="PREM-MOD",
                quantity=Decimal(1),
                net_unit_price=usd("2000.00"),
                mapping=premium,
            ),
        ),
        facts=facts,
        owner=scenario()["opportunity"]["owner"],
    )


def amended(amendment: Amendment, contract: Contract | None = None) -> Contract:
    return amend_contract(contract or reference_contract(), amendment)


def added_line(contract: Contract, line_no: int, amount: Money, start: date, end: date) -> BilledLine:
    return BilledLine(
        line_id=f"il_{line_no}_{start:%Y%m%d}",
        contract_id=contract.contract_id,
        line_no=line_no,
        product_code=PRODUCTS[line_no],
        quantity=None,
        amount=amount,
        period_start=start,
        period_end=end,
    )


def upgrade_invoice(contract: Contract) -> BillingDocument:
    """The invoice billing issues at once for the upgrade: 15..31 July of the new lines (`INV-20270715`)."""
    start = EFFECTIVE.date()
    lines = tuple(added_line(contract, no, amount, start, month_end(start)) for no, amount in PRORATED.items())
    return invoice(contract, start, lines)


def expanded_invoice(contract: Contract, month: date) -> BillingDocument:
    """The 1st-of-the-month invoice, with the new lines from August on."""
    document = monthly_invoice(contract, month)
    if month <= EFFECTIVE.date():
        return document
    extra = tuple(added_line(contract, no, amount, month, month_end(month)) for no, amount in MONTHLY.items())
    return invoice(contract, month, (*document.lines, *extra))


def expanded_steps(contract: Contract, through: date = date(2027, 12, 31)) -> Iterator[Step]:
    """The reference year with the expansion: on 15 July the modification (before anything else that day), the
    upgrade invoice and, 20 days later, its payment; the invoices from August on bill the new lines."""
    steps: list[Step] = []
    for step in reference_steps(contract, through):
        what = step.what
        if isinstance(what, BillingDocument) and what.issued_on in MONTHS:
            what = expanded_invoice(contract, what.issued_on)
        elif isinstance(what, BillingPayment) and what.invoice_id.startswith("INV-"):
            what = payment_of(expanded_invoice(contract, date.fromisoformat(_issued(what.invoice_id))))
        steps.append(Step(step.day, step.order, what))
    upgrade = upgrade_invoice(contract)
    steps.append(Step(upgrade.issued_on, 1, upgrade))
    steps.append(Step(payment_of(upgrade).paid_on, 2, payment_of(upgrade)))
    yield from (step for step in sorted(steps, key=lambda s: (s.day, s.order)) if step.day <= through)


def _issued(invoice_id: str) -> str:
    digits = invoice_id.removeprefix("INV-")
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


async def drive_expanded_year(
    engine: BuiltInRevenueEngine, amendment: Amendment | None = None, through: date = date(2027, 12, 31)
) -> dict[str, ContractBalances]:
    """Register the reference contract, run its year through the adapter with the expansion recorded on its
    effective day; the balances after each close."""
    contract = reference_contract()
    amendment = amendment or expansion()
    await engine.register_contract(contract, SUBSCRIPTION, f"closed-won/{contract.contract_id}/revenue_contract")
    balances: dict[str, ContractBalances] = {}
    modified = False
    for step in expanded_steps(contract, through):
        what = step.what
        if not modified and step.day >= EFFECTIVE.date():
            await engine.record_modification(amended(amendment), amendment, MODIFICATION_KEY)
            modified = True
        if isinstance(what, BillingDocument):
            await engine.record_billing(what, accounting_period(what.issued_on), f"invoice/{what.document_id}")
        elif isinstance(what, BillingPayment):
            await engine.record_payment(what, f"payment/{what.payment_id}")
        else:
            usage = (metered(contract, what.start),)
            await engine.recognise_period(what, usage, f"close/{what.start:%Y-%m}")
            balances[f"{what.start:%Y-%m}"] = await engine.balances(contract.contract_id)
    return balances


__all__ = [
    "AMENDMENT_ID",
    "EFFECTIVE",
    "FACTS",
    "MODIFICATION_KEY",
    "PREMIUM",
    "SEATS",
    "added_line",
    "amended",
    "drive_expanded_year",
    "expanded_invoice",
    "expanded_steps",
    "expansion",
    "upgrade_invoice",
]
