"""Performance obligations from a canonical contract."""

from __future__ import annotations

from datetime import date

from revenue.obligations import Satisfaction, obligation_for_line, obligations_from_contract
from tests.revenue.builders import usd
from tests.revenue.reference import reference_contract


def test_reference_contract_obligations() -> None:
    platform, onboarding, api = obligations_from_contract(reference_contract())

    assert platform.satisfaction is Satisfaction.OVER_TIME
    assert (platform.start, platform.end, platform.consideration) == (date(2027, 1, 1), date(2027, 12, 31), usd(108000))
    assert onboarding.satisfaction is Satisfaction.POINT_IN_TIME
    assert (onboarding.milestone, onboarding.consideration) == (date(2027, 2, 15), usd(15000))
    assert api.satisfaction is Satisfaction.USAGE and api.consideration == usd(0) and api.usage is not None
    accounts = [(o.revenue_account, o.contract_liability_account) for o in (platform, onboarding, api)]
    assert accounts == [("4000", "2400"), ("4100", "2400"), ("4200", "2400")]
    assert platform.obligation_id == "CTR-006NW0000000001#1"


def test_a_one_time_line_that_is_not_distinct_is_recognised_over_the_term() -> None:
    """ASC 606-10-25-22: a promise that is not distinct is combined with others; here, over the contract term."""
    contract = reference_contract()
    line = contract.lines[1]
    not_distinct = line.model_copy(update={"mapping": line.mapping.model_copy(update={"distinct": False})})

    onboarding = obligation_for_line(contract, not_distinct)

    assert onboarding.satisfaction is Satisfaction.OVER_TIME
    assert (onboarding.start, onboarding.end, onboarding.milestone) == (contract.term_start, contract.term_end, None)


def test_the_remaining_part_of_an_obligation() -> None:
    platform = obligations_from_contract(reference_contract())[0]

    rest = platform.remaining_from(date(2027, 7, 15), usd(100))

    assert (rest.start, rest.end, rest.consideration) == (date(2027, 7, 15), date(2027, 12, 31), usd(100))
    assert rest.quantities[0].start == date(2027, 7, 15)
