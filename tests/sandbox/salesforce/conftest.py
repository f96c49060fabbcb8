"""Fixtures: a Salesforce emulator served over real HTTP on a SQLite file, seeded with the demo's deals, and the
adapter pointed at it. `running_org` can restart an org on the same file to test persistence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from adapters.memory.reference_deals import demo_deals
from adapters.salesforce import SalesforceCrm, SalesforceSettings
from sandbox.faults import FaultConfig, FaultInjector, FaultRule
from sandbox.salesforce import SalesforceEmulatorSettings, create_app
from sandbox.salesforce.seed import get_token, seed_salesforce
from sandbox.servers import serve_apps
from sandbox.store import DocumentStore, sqlite_url
from workers.dev_server import free_port

API = "/services/data/v61.0"
INTEGRATION_USER = "integration@q2c.example"


@dataclass(frozen=True)
class KeyPair:
    private_key_pem: str
    certificate_pem: str


def make_key_pair(common_name: str = "q2c-connected-app") -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(private_pem.decode(), certificate.public_bytes(serialization.Encoding.PEM).decode())


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    return make_key_pair()


@dataclass
class RunningOrg:
    url: str
    settings: SalesforceEmulatorSettings
    faults: FaultInjector
    store: DocumentStore

    def adapter_settings(self, **overrides: Any) -> SalesforceSettings:
        values: dict[str, Any] = {
            "base_url": self.url,
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
            "timeout_seconds": 5,
        }
        return SalesforceSettings.model_validate(values | overrides)

    def adapter(self, **overrides: Any) -> SalesforceCrm:
        return SalesforceCrm(self.adapter_settings(**overrides))

    async def token(self) -> str:
        return await get_token(self.url, self.settings.client_id, self.settings.client_secret)

    async def seed(self) -> None:
        await seed_salesforce(self.url, self.settings.client_id, self.settings.client_secret, demo_deals())

    async def rest(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {await self.token()}"})

    def fault(self, *rules: FaultRule, seed: int = 0) -> None:
        self.faults.configure(FaultConfig(seed=seed, rules=list(rules)))


def emulator_settings(key_pair: KeyPair | None = None, **overrides: Any) -> SalesforceEmulatorSettings:
    values: dict[str, Any] = {
        "query_batch_size": 2,  # small, so the demo's three-line deal already takes two batches
        "outbound_poll_seconds": 0.05,
        "outbound_retry_initial_seconds": 0.05,
        "outbound_retry_max_seconds": 0.2,
    }
    if key_pair is not None:
        values["jwt_certificate_pem"] = key_pair.certificate_pem
    return SalesforceEmulatorSettings.model_validate(values | overrides)


@contextlib.asynccontextmanager
async def running_org(
    path: Path, settings: SalesforceEmulatorSettings | None = None, store: DocumentStore | None = None
) -> AsyncIterator[RunningOrg]:
    settings = settings or emulator_settings()
    owned = store is None
    store = store or DocumentStore(sqlite_url(path))
    faults = FaultInjector()
    app = create_app(store, faults, settings)
    try:
        async with serve_apps({"salesforce": (app, free_port())}) as urls:
            yield RunningOrg(urls["salesforce"], settings, faults, store)
    finally:
        if owned:
            await store.close()


@pytest.fixture
async def org(tmp_path: Path, key_pair: KeyPair) -> AsyncIterator[RunningOrg]:
    async with running_org(tmp_path / "salesforce.sqlite", emulator_settings(key_pair)) as running:
        yield running


@pytest.fixture(scope="session")
async def seeded_file(tmp_path_factory: pytest.TempPathFactory, key_pair: KeyPair) -> Path:
    """An org's SQLite file with the demo seeded, made once; each test runs on its own copy."""
    path = tmp_path_factory.mktemp("salesforce-template") / "seeded.sqlite"
    async with running_org(path, emulator_settings(key_pair)) as template:
        await template.seed()
    return path


@pytest.fixture
async def seeded(tmp_path: Path, key_pair: KeyPair, seeded_file: Path) -> AsyncIterator[RunningOrg]:
    path = tmp_path / "salesforce.sqlite"
    shutil.copyfile(seeded_file, path)
    async with running_org(path, emulator_settings(key_pair)) as running:
        yield running
