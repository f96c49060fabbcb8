"""The campaign's deals: many distinct standard deals that close without approval, and fuzzed deals that must
never post anything. Both come from a seeded random generator, so a failing campaign can be run again exactly."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from adapters.memory.reference_deals import reference_deal
from canonical.crm_deal import CrmAccountRecord, CrmDeal, CrmQuoteLineRecord

# Salesforce IDs of the campaign's own pods ("CH" chaos, "FZ" fuzz): never the demo's "NW" or generated "Dn".
STANDARD_POD = "CH"
FUZZ_POD = "FZ"


def record_id(prefix: str, pod: str, number: int) -> str:
    return f"{prefix}{pod}{number:010d}"


def standard_deals(count: int, seed: int, first: int = 1) -> list[CrmDeal]:
    """`count` deals like the reference deal, each on its own account, with seat counts that keep every deal
    within the approval policy (no approval wait): they should all complete."""
    chooser = random.Random(seed)
    template = reference_deal()
    deals = []
    for number in range(first, first + count):
        account_id, opportunity_id = record_id("001", STANDARD_POD, number), record_id("006", STANDARD_POD, number)
        seats = Decimal(chooser.randint(5, 120))
        lines = tuple(
            line.model_copy(update={"quantity": seats}) if line.quantity is not None else line
            for line in template.lines
        )
        deals.append(
            CrmDeal(
                account=template.account.model_copy(
                    update={"account_id": account_id, "name": f"Chaos Customer {number:04d}"}
                ),
                opportunity=template.opportunity.model_copy(
                    update={
                        "opportunity_id": opportunity_id,
                        "account_id": account_id,
                        "name": f"Chaos deal {number:04d}",
                    }
                ),
                lines=lines,
            )
        )
    return deals


Mutation = Callable[[CrmDeal, random.Random], CrmDeal]


def _account(deal: CrmDeal, **update: object) -> CrmDeal:
    return deal.model_copy(update={"account": deal.account.model_copy(update=update)})


def _opportunity(deal: CrmDeal, **update: object) -> CrmDeal:
    return deal.model_copy(update={"opportunity": deal.opportunity.model_copy(update=update)})


def _first_line(deal: CrmDeal, **update: object) -> CrmDeal:
    if not deal.lines:
        return deal  # `no_lines` came first: nothing left to break
    first, *rest = deal.lines
    return deal.model_copy(update={"lines": (first.model_copy(update=update), *rest)})


def _garbage(chooser: random.Random) -> str:
    alphabet = "ABCxyz019 -_/'\"<>&;%$\u00e9\u4e2d\U0001f4a5\x7f"
    return "".join(chooser.choice(alphabet) for _ in range(chooser.randint(1, 24)))


# Each makes the deal invalid in one way sales ops meets (or a fuzzer finds); the saga must park, never post.
MUTATIONS: dict[str, Mutation] = {
    "no_tax_id": lambda deal, _: _account(deal, tax_id=None),
    "no_billing_contact": lambda deal, _: _account(deal, billing_contact_name=None, billing_contact_email=None),
    "unknown_product": lambda deal, r: _first_line(deal, product_code=f"ZZ-{_garbage(r)}"),
    "negative_quantity": lambda deal, r: _first_line(deal, quantity=Decimal(-r.randint(1, 10**6))),
    "end_before_start": lambda deal, _: _opportunity(
        deal, contract_start=date(2027, 12, 31), contract_end=date(2027, 1, 1)
    ),
    "unknown_currency": lambda deal, r: _opportunity(_account(deal, currency="XQZ"), currency="XQZ"),
    "currency_mismatch": lambda deal, _: _opportunity(deal, currency="JPY"),
    "unknown_country": lambda deal, _: _account(deal, billing_country="ZZ"),
    "no_lines": lambda deal, _: deal.model_copy(update={"lines": ()}),
    "no_contract_dates": lambda deal, _: _opportunity(deal, contract_start=None, contract_end=None),
    "garbage_email": lambda deal, r: _account(deal, billing_contact_email=_garbage(r), tax_id=None),
    "line_without_product": lambda deal, _: deal.model_copy(
        update={"lines": (*deal.lines, CrmQuoteLineRecord(line_no=len(deal.lines) + 1, quantity=Decimal(1)))}
    ),
}


def fuzzed_deals(count: int, seed: int) -> list[tuple[CrmDeal, tuple[str, ...]]]:
    """`count` deals, each with one to three mutations (named), a garbage name and its own account."""
    chooser = random.Random(seed)
    fuzzed = []
    for index, deal in enumerate(standard_deals(count, seed), start=1):
        account_id, opportunity_id = record_id("001", FUZZ_POD, index), record_id("006", FUZZ_POD, index)
        deal = deal.model_copy(
            update={
                "account": CrmAccountRecord(**(deal.account.model_dump() | {"account_id": account_id})),
                "opportunity": deal.opportunity.model_copy(
                    update={"opportunity_id": opportunity_id, "account_id": account_id, "name": _garbage(chooser)}
                ),
            }
        )
        names = tuple(chooser.sample(sorted(MUTATIONS), chooser.randint(1, 3)))
        for name in names:
            deal = MUTATIONS[name](deal, chooser)
        fuzzed.append((deal, names))
    return fuzzed
