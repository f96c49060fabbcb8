"""The closed-won activities, run in Temporal's activity test environment (no server) over in-memory systems."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.closed_won import ContractMappingActivities, CrmActivities, ErpActivities
from activities.temporal_errors import RATE_LIMITED, TRANSIENT
from adapters.errors import PermanentAdapterError, RateLimitedError, TransientAdapterError
from adapters.memory.reference_deals import incomplete_deal, reference_deal
from adapters.memory.systems import InMemorySystems
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from canonical.problems import ExceptionCategory
from canonical.references import System


@pytest.fixture
def systems() -> InMemorySystems:
    seeded = InMemorySystems()
    seeded.crm.save_deal(reference_deal())
    return seeded


async def test_a_permanent_error_is_non_retryable_and_carries_its_category(systems: InMemorySystems) -> None:
    systems.faults.fail(
        "crm.fetch_deal", PermanentAdapterError(System.CRM, "no access", ExceptionCategory.MASTER_DATA_MISMATCH)
    )

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(CrmActivities(systems.crm).read_closed_won_deal, "006NW0000000001")

    assert raised.value.non_retryable
    assert raised.value.type == "master_data_mismatch"
    assert "crm: no access" in str(raised.value)


async def test_a_rate_limit_asks_temporal_to_wait_the_vendors_delay(systems: InMemorySystems) -> None:
    systems.faults.fail("crm.fetch_deal", RateLimitedError(System.CRM, "REQUEST_LIMIT_EXCEEDED", timedelta(seconds=7)))

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(CrmActivities(systems.crm).read_closed_won_deal, "006NW0000000001")

    assert (raised.value.type, raised.value.non_retryable) == (RATE_LIMITED, False)
    assert raised.value.next_retry_delay == timedelta(seconds=7)


async def test_a_transient_error_is_retryable(systems: InMemorySystems) -> None:
    systems.faults.fail("crm.fetch_deal", TransientAdapterError(System.CRM, "503"))

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(CrmActivities(systems.crm).read_closed_won_deal, "006NW0000000001")

    assert (raised.value.type, raised.value.non_retryable) == (TRANSIENT, False)


async def test_a_missing_opportunity_is_a_permanent_master_data_problem(systems: InMemorySystems) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(CrmActivities(systems.crm).read_closed_won_deal, "006DOESNOTEXIST")

    assert raised.value.non_retryable and raised.value.type == "master_data_mismatch"


async def test_mapping_returns_problems_as_a_result_not_a_failure(mapping_rules: MappingRules) -> None:
    result = await ActivityEnvironment().run(
        ContractMappingActivities(mapping_rules).map_deal_to_contract, incomplete_deal()
    )

    assert result.contract is None and result.mapping_version == mapping_rules.version
    assert {p.field for p in result.problems} == {"tax_id", "billing_contact"}


async def test_matching_the_erp_customer_twice_with_one_key_creates_one(
    systems: InMemorySystems, mapping_rules: MappingRules
) -> None:
    customer = build_contract(reference_deal(), mapping_rules).customer
    activities = ErpActivities(systems.erp)

    first = await ActivityEnvironment().run(
        activities.match_or_create_erp_customer, customer, "closed-won/x/erp_customer"
    )
    again = await ActivityEnvironment().run(
        activities.match_or_create_erp_customer, customer, "closed-won/x/erp_customer"
    )
    other_saga = await ActivityEnvironment().run(
        activities.match_or_create_erp_customer, customer, "closed-won/y/erp_customer"
    )

    assert first == again and first.created
    assert other_saga.customer_id == first.customer_id and not other_saga.created
    assert len(systems.erp.customers.customers) == 1
