"""The campaign's generated input: distinct standard deals that map without approval, fuzzed deals that never map,
and the same seed giving the same input (so a failing campaign can be replayed)."""

from __future__ import annotations

import pytest

from canonical.contract_mapping import build_contract
from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from canonical.problems import InvalidRecordError
from cli.chaos import fuzzing
from cli.chaos.deals import fuzzed_deals, standard_deals


def closed(deal: CrmDeal) -> CrmDeal:
    """As the saga reads it once the seller closed it."""
    return deal.model_copy(update={"opportunity": deal.opportunity.model_copy(update={"stage": "Closed Won"})})


def test_standard_deals_are_distinct_and_map(mapping_rules: MappingRules) -> None:
    deals = standard_deals(50, seed=3)

    contracts = [build_contract(closed(deal), mapping_rules) for deal in deals]

    assert len({deal.account.account_id for deal in deals}) == 50
    assert len({contract.contract_id for contract in contracts}) == 50


def test_every_fuzzed_deal_is_refused_by_the_mapping(mapping_rules: MappingRules) -> None:
    for deal, mutations in fuzzed_deals(300, seed=5):
        with pytest.raises(InvalidRecordError):
            build_contract(closed(deal), mapping_rules)
            pytest.fail(f"{deal.opportunity.opportunity_id} mapped despite {mutations}")


def test_the_same_seed_gives_the_same_input() -> None:
    assert fuzzed_deals(20, seed=9) == fuzzed_deals(20, seed=9)
    assert [d.body for d in fuzzing.deliveries(30, seed=9)] == [d.body for d in fuzzing.deliveries(30, seed=9)]
    assert {d.kind for d in fuzzing.deliveries(60, seed=9)} >= {"noise", "forged", "signed_unknown_invoice", "soap"}
