"""A running Stripe emulator over real HTTP (uvicorn on a free port), the official client, and our adapter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe
from fastapi import FastAPI

from adapters.memory.reference_deals import reference_deal
from adapters.stripe import StripeBilling, StripeSettings
from canonical.contract import Contract
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.servers import serve_apps
from sandbox.store import DocumentStore, sqlite_url
from sandbox.stripe import StripeEmulatorSettings, create_app, seed_stripe
from workers.config_files import load_mapping_rules
from workers.dev_server import free_port

API_KEY = "sk_test_q2c_sandbox"


@dataclass
class Emulator:
    url: str
    app: FastAPI
    store: DocumentStore
    faults: FaultInjector
    meter_id: str


def official_client(url: str, api_key: str = API_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key, base_addresses={"api": url}, http_client=stripe.HTTPXClient(timeout=5), max_network_retries=0
    )


@pytest.fixture(scope="session")
def rules() -> MappingRules:
    return load_mapping_rules()


async def start_emulator(
    path: Path, rules: MappingRules, settings: StripeEmulatorSettings | None = None
) -> AsyncIterator[Emulator]:
    store = await DocumentStore(sqlite_url(path)).open()
    faults = FaultInjector()
    app = create_app(store, faults, settings or StripeEmulatorSettings(rate_limit_per_second=500, rate_limit_burst=500))
    async with serve_apps({"stripe": (app, free_port())}) as urls:
        seeded = await seed_stripe(urls["stripe"], API_KEY, rules)
        yield Emulator(urls["stripe"], app, store, faults, seeded.meter_id)
    await store.close()


@pytest.fixture(scope="module")
async def emulator(tmp_path_factory: pytest.TempPathFactory, rules: MappingRules) -> AsyncIterator[Emulator]:
    async for running in start_emulator(tmp_path_factory.mktemp("stripe") / "stripe.sqlite", rules):
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> None:
    """Each test starts without injected faults (the emulator is shared by a module's tests)."""
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").faults.configure(FaultConfig())


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[stripe.StripeClient]:
    yield official_client(emulator.url)


@pytest.fixture
async def billing(emulator: Emulator) -> AsyncIterator[StripeBilling]:
    adapter = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url, timeout_seconds=2))
    yield adapter
    await adapter.aclose()


def unique_contract(rules: MappingRules) -> Contract:
    """The reference contract under a CRM account and contract ID of its own (tests share one emulator)."""
    contract = build_contract(reference_deal(), rules)
    suffix = uuid.uuid4().hex[:8]
    customer = contract.customer.model_copy(update={"crm_account_id": f"001T{suffix}"})
    return contract.model_copy(update={"customer": customer, "contract_id": f"CTR-{suffix}"})


def saga_key(step: str) -> str:
    return f"closed-won/{uuid.uuid4().hex[:12]}/{step}"
