"""Fixtures: key pairs for M2M, a running NetSuite emulator (real HTTP on loopback), seeded, and adapters for it."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from adapters.netsuite import NetSuiteErp, NetSuiteSettings
from canonical.customer import BillingContact, Customer
from canonical.mapping_rules import MappingRules
from sandbox.faults import FaultInjector, FaultRule
from sandbox.netsuite import (
    M2MClient,
    NetSuiteEmulatorSettings,
    SeededIds,
    TbaCredential,
    close_period,
    create_app,
    reopen_period,
    seed_netsuite,
)
from sandbox.servers import serve_apps
from sandbox.store import DocumentStore, sqlite_url
from workers.dev_server import free_port

ACCOUNT = "Q2C_TEST"
TBA = TbaCredential(
    consumer_key="ck-test", consumer_secret="cs-test&secret", token_id="tk-test", token_secret="ts-test secret"
)


@dataclass(frozen=True)
class KeyPair:
    client_id: str
    certificate_id: str
    algorithm: str
    private_pem: str
    public_pem: str


def _pems(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def keys() -> dict[str, KeyPair]:
    rsa_private, rsa_public = _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_private, ec_public = _pems(ec.generate_private_key(ec.SECP256R1()))
    return {
        "PS256": KeyPair("client-ps256", "cert-ps256", "PS256", rsa_private, rsa_public),
        "ES256": KeyPair("client-es256", "cert-es256", "ES256", ec_private, ec_public),
    }


def emulator_settings(keys: dict[str, KeyPair], **overrides: Any) -> NetSuiteEmulatorSettings:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "m2m_clients": tuple(
            M2MClient(client_id=k.client_id, certificate_id=k.certificate_id, public_key_pem=k.public_pem)
            for k in keys.values()
        ),
        "tba_credentials": (TBA,),
        "concurrency_limit": 50,
    }
    return NetSuiteEmulatorSettings(**(values | overrides))


@dataclass
class Emulator:
    base_url: str
    app: FastAPI
    store: DocumentStore
    faults: FaultInjector
    settings: NetSuiteEmulatorSettings
    ids: SeededIds
    keys: dict[str, KeyPair]
    rules: MappingRules

    def adapter_settings(self, auth: str = "PS256", **overrides: Any) -> NetSuiteSettings:
        values: dict[str, Any] = {"base_url": self.base_url, "account_id": ACCOUNT, "timeout_seconds": 5}
        if auth == "tba":
            values |= {
                "auth": "tba",
                "consumer_key": TBA.consumer_key,
                "consumer_secret": TBA.consumer_secret,
                "token_id": TBA.token_id,
                "token_secret": TBA.token_secret,
            }
        else:
            pair = self.keys[auth]
            values |= {
                "auth": "m2m",
                "client_id": pair.client_id,
                "certificate_id": pair.certificate_id,
                "private_key_pem": pair.private_pem,
                "jwt_algorithm": pair.algorithm,
            }
        return NetSuiteSettings(**(values | overrides))

    def erp(self, auth: str = "PS256", http: httpx.AsyncClient | None = None, **overrides: Any) -> NetSuiteErp:
        return NetSuiteErp.from_rules(self.adapter_settings(auth, **overrides), self.rules, http=http)

    async def set_faults(self, *rules: FaultRule, seed: int = 0) -> None:
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            body = {"seed": seed, "rules": [r.model_dump() for r in rules]}
            (await http.put("/_sandbox/faults", json=body)).raise_for_status()

    @contextlib.asynccontextmanager
    async def admin(self) -> AsyncIterator[httpx.AsyncClient]:
        """A plain client with an access token from the sandbox's admin endpoint (for setup and inspection)."""
        async with httpx.AsyncClient(base_url=self.base_url + "/services/rest") as http:
            token = (await http.post(self.base_url + "/_sandbox/access-token")).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            yield http

    async def suiteql(self, query: str) -> list[dict[str, Any]]:
        async with self.admin() as http:
            response = await http.post("/query/v1/suiteql", json={"q": query}, headers={"Prefer": "transient"})
            response.raise_for_status()
            items: list[dict[str, Any]] = response.json()["items"]
            return items

    async def close_period(self, key: str, closed: bool = True) -> None:
        """Close (or reopen) a period the way the demo does: through the emulator's admin surface."""
        state = await (close_period(self.base_url, key) if closed else reopen_period(self.base_url, key))
        assert (state.internal_id, state.closed) == (self.ids.periods[key], closed)


@contextlib.asynccontextmanager
async def running_emulator(
    store: DocumentStore,
    keys: dict[str, KeyPair],
    rules: MappingRules,
    *,
    seeded: SeededIds | None = None,
    **overrides: Any,
) -> AsyncIterator[Emulator]:
    """Serve the emulator on `store`; seed it through its API unless `seeded` says the store already is."""
    settings = emulator_settings(keys, **overrides)
    faults = FaultInjector()
    app = create_app(store, faults, settings)
    async with serve_apps({"netsuite": (app, free_port())}) as urls:
        base = urls["netsuite"]
        ids = seeded if seeded is not None else await seed_netsuite(base, rules)
        yield Emulator(base, app, store, faults, settings, ids, keys, rules)


@pytest.fixture(scope="session")
async def seeded_template(
    tmp_path_factory: pytest.TempPathFactory, keys: dict[str, KeyPair], mapping_rules: MappingRules
) -> tuple[Path, SeededIds]:
    """One seeded SQLite file (with the emulator's token-signing key), copied for each test that needs one."""
    path = tmp_path_factory.mktemp("netsuite") / "seeded.sqlite"
    store = await DocumentStore(sqlite_url(path)).open()
    async with running_emulator(store, keys, mapping_rules) as emulator:
        ids = emulator.ids
    await store.close()
    return path, ids


@pytest.fixture
async def sqlite_store(tmp_path: Path, seeded_template: tuple[Path, SeededIds]) -> AsyncIterator[DocumentStore]:
    """A store holding the seeded reference data (see `seeded_template`)."""
    path = tmp_path / "netsuite.sqlite"
    shutil.copyfile(seeded_template[0], path)
    store = await DocumentStore(sqlite_url(path)).open()
    yield store
    await store.close()


@pytest.fixture
async def emulator(
    sqlite_store: DocumentStore,
    seeded_template: tuple[Path, SeededIds],
    keys: dict[str, KeyPair],
    mapping_rules: MappingRules,
) -> AsyncIterator[Emulator]:
    async with running_emulator(sqlite_store, keys, mapping_rules, seeded=seeded_template[1]) as running:
        yield running


def customer(account_id: str = "001NW000000ACME", **overrides: Any) -> Customer:
    values: dict[str, Any] = {
        "crm_account_id": account_id,
        "name": "Acme Analytics Inc.",
        "legal_entity": "US01",
        "currency": "USD",
        "country": "US",
        "billing_contact": BillingContact(name="Ada Payable", email="ap@acme.example"),
        "payment_terms_days": 30,
    }
    return Customer(**(values | overrides))
