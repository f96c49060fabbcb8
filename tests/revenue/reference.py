"""The reference year (`scenarios/reference-year.toml`, a copy of the shared one) as revenue-engine inputs."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from canonical.contract import Contract, ContractLine, UsageTerms
from canonical.customer import BillingContact, Customer
from canonical.mapping_rules import MappingRules, parse_mapping_rules
from canonical.money import Money, sum_money
from canonical.product import LineKind
from revenue.allocation import allocate_transaction_price
from revenue.calendar import AccountingCalendar, Period, calendar_months
from revenue.journal import JournalEntry
from revenue.ledger import (
    BilledLine,
    ContractBalances,
    Invoice,
    Ledger,
    Payment,
    close_period,
    post_catch_ups,
    post_invoice,
    post_payment,
)
from revenue.modifications import ContractModification, ModificationFacts, ModificationResult, modify_contract
from revenue.obligations import PerformanceObligation, obligation_for_line, obligations_from_contract
from revenue.recognition import Schedule, plan_contract, schedule
from revenue.usage import price_month_of_usage

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "reference-year.toml"
RULES = ROOT / "config" / "mapping-rules.toml"


@cache
def scenario() -> dict[str, Any]:
    return tomllib.loads(SCENARIO.read_text(encoding="utf-8"))


@cache
def rules() -> MappingRules:
    return parse_mapping_rules(RULES.read_text(encoding="utf-8"), str(RULES))


def usd(amount: str | int) -> Money:
    return Money.of(amount, "USD")


def reference_contract() -> Contract:
    data = scenario()
    customer, opportunity = data["customer"], data["opportunity"]
    start, end = opportunity["contract_start"], opportunity["contract_end"]
    return Contract(
        contract_id=f"CTR-{opportunity['crm_opportunity_id']}",
        opportunity_id=opportunity["crm_opportunity_id"],
        owner=opportunity["owner"],
        closed_won_on=opportunity["closed_won_on"],
        customer=Customer(
            crm_account_id=customer["crm_account_id"],
            name=customer["name"],
            legal_entity=customer["legal_entity"],
            currency=customer["currency"],
            country=customer["country"],
            billing_contact=BillingContact(**customer["billing_contact"]),
            payment_terms_days=customer["payment_terms_days"],
        ),
        currency=customer["currency"],
        term_start=start,
        term_end=end,
        lines=tuple(_line(n, line, start, end) for n, line in enumerate(opportunity["lines"], start=1)),
        mapping_version=rules().version,
    )


def _line(line_no: int, line: dict[str, Any], start: date, end: date) -> ContractLine:
    mapping = rules().product(line["product_code"])
    assert mapping is not None
    fields: dict[str, Any] = {
        "line_no": line_no,
        "product_code": line["product_code"],
        "kind": LineKind(line["kind"]),
        "service_start": start,
        "service_end": end,
        "mapping": mapping,
        "quantity": Decimal(line.get("quantity", 1)),
    }
    if line["kind"] == "recurring":
        fields |= {
            "list_unit_price": usd(line["list_price_per_unit_month"]),
            "net_unit_price": usd(line["net_price_per_unit_month"]),
            "discount_percent": Decimal(line["discount_percent"]),
        }
    elif line["kind"] == "one_time":
        fields |= {"amount": usd(line["amount"]), "delivered_on": line["delivered_on"]}
    else:
        fields["usage"] = UsageTerms(
            unit=line["unit"],
            included_per_month=Decimal(line["included_per_month"]),
            unit_price_over_included=usd(line["price_per_unit_over_included"]),
        )
    return ContractLine(**fields)


def amendment_lines() -> tuple[ContractLine, ...]:
    """What the 15 July amendment adds: 50 more seats and the premium module, co-terminated with the contract."""
    data = scenario()
    effective: datetime = data["amendment"]["effective"]
    start, end = effective.date(), data["opportunity"]["contract_end"]
    seats, premium = data["amendment"]["changes"]
    seat_mapping, premium_mapping = rules().product(seats["product_code"]), rules().product(premium["product_code"])
    assert seat_mapping is not None and premium_mapping is not None
    return (
        ContractLine(
            line_no=4,
            product_code=seats["product_code"],
            kind=LineKind.RECURRING,
            quantity=Decimal(seats["to"] - seats["from"]),
            net_unit_price=usd(seats["net_price_per_unit_month"]),
            service_start=start,
            service_end=end,
            mapping=seat_mapping,
        ),
        ContractLine(
            line_no=5,
            product_code=premium["product_code"],
            kind=LineKind.RECURRING,
            quantity=Decimal(premium["quantity"]),
            net_unit_price=usd(premium["net_price_per_unit_month"]),
            service_start=start,
            service_end=end,
            mapping=premium_mapping,
        ),
    )


def usage_by_month() -> dict[date, int]:
    return {date.fromisoformat(f"{month}-01"): calls for month, calls in scenario()["usage"].items()}


@dataclass(frozen=True)
class ReferenceYear:
    """The reference year through the engine: invoices on the 1st, each paid 20 days later, a close every month."""

    ledger: Ledger
    entries: tuple[JournalEntry, ...]
    schedules: tuple[Schedule, ...]
    calendar: AccountingCalendar
    month_end_balances: dict[str, ContractBalances]
    modification: ModificationResult | None


FACTS = ("added_goods_distinct", "priced_at_ssp", "remaining_goods_distinct")


def reference_modification(obligations: tuple[PerformanceObligation, ...]) -> ContractModification:
    amendment = scenario()["amendment"]
    added = tuple(obligation_for_line(reference_contract(), line) for line in amendment_lines())
    facts = ModificationFacts(**{name: amendment[name] for name in FACTS})
    return ContractModification(amendment["effective"].date(), facts, added)


def run_reference_year(*, amended: bool) -> ReferenceYear:
    contract = reference_contract()
    obligations = obligations_from_contract(contract)
    platform, onboarding, api = obligations
    charges = [price_month_of_usage(api, month, calls) for month, calls in usage_by_month().items()]
    plans = plan_contract(allocate_transaction_price(obligations), usage=charges)
    calendar = calendar_months(contract.term_start, date(2028, 1, 31))
    months = calendar.periods[:12]
    usage_billed = {charge.occurred_on.replace(day=1): charge.amount for charge in charges}
    # (day, order within the day, event): invoices, then payments, then the month's close
    events: list[tuple[date, int, object]] = []
    monthly = {platform.obligation_id: usd("9000.00")}
    modification = None
    if amended:
        change = reference_modification(obligations)
        modification = modify_contract(obligations, plans, change)
        plans = modification.plans
        seats, premium = change.added
        events.append((change.effective, 0, modification))
        # Billing prorates the upgrade to the second: 17 of July's 31 days, each line rounded on its own.
        prorated = {seats.obligation_id: usd("2467.74"), premium.obligation_id: usd("1096.77")}
        events.append((change.effective, 1, _invoice(contract.contract_id, change.effective, prorated)))
    for month in months:
        lines = dict(monthly)
        if modification is not None and month.start > modification.obligations[0].start:
            lines |= {o.obligation_id: m for o, m in zip(change.added, (usd("4500.00"), usd("2000.00")), strict=True)}
        if month.start == contract.term_start:
            lines[onboarding.obligation_id] = usd("15000.00")
        previous = (month.start - timedelta(days=1)).replace(day=1)
        if previous in usage_billed:
            lines[api.obligation_id] = usage_billed[previous]
        events.append((month.start, 1, _invoice(contract.contract_id, month.start, lines)))
        events.append((month.end, 3, month))
    paid_after = timedelta(days=scenario()["payments"]["paid_days_after_invoice"])
    events += [
        (
            e.issued_on + paid_after,
            2,
            Payment(f"PAY-{e.document_id}", e.contract_id, e.issued_on + paid_after, _total(e)),
        )
        for _, _, e in list(events)
        if isinstance(e, Invoice)
    ]
    ledger = Ledger.open(obligations)
    schedules = tuple(schedule(plan, calendar) for plan in plans)
    entries: list[JournalEntry] = []
    balances: dict[str, ContractBalances] = {}
    for _, _, event in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(event, ModificationResult):
            ledger = ledger.with_obligations(event.obligations)
            ledger, posted = post_catch_ups(ledger, event.catch_ups)
        elif isinstance(event, Invoice):
            ledger, posted = post_invoice(ledger, event)
        elif isinstance(event, Payment):
            ledger, posted = post_payment(ledger, event)
        elif isinstance(event, Period) and event in months:
            ledger, posted = close_period(ledger, schedules, event.key)
            balances[event.key] = ledger.balances(contract.contract_id)
        else:
            continue
        entries += posted
    return ReferenceYear(ledger, tuple(entries), schedules, calendar, balances, modification)


def _invoice(contract_id: str, issued_on: date, lines: dict[str, Money]) -> Invoice:
    billed = tuple(BilledLine(oid, amount) for oid, amount in lines.items() if not amount.is_zero)
    return Invoice(f"INV-{issued_on:%Y%m%d}", contract_id, issued_on, billed)


def _total(invoice: Invoice) -> Money:
    return sum_money((line.amount for line in invoice.lines), "USD")
