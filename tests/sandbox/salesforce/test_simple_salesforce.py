# mypy: disable-error-code="operator"
# (simple_salesforce types `sf.Account` as a union of its SObject, Bulk and Bulk 2.0 handlers.)
"""Fidelity: simple_salesforce, a client library no one here wrote, drives the emulator over HTTPS.

simple_salesforce always speaks https, so the emulator is served with a throwaway certificate for 127.0.0.1. The
library is synchronous; its calls run in a thread while the server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sandbox.faults import FaultInjector
from sandbox.salesforce import create_app
from sandbox.store import DocumentStore, sqlite_url
from tests.sandbox.salesforce.conftest import KeyPair, emulator_settings
from workers.dev_server import free_port


def _tls_files(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _session(cert_path: Path) -> requests.Session:
    """A requests session trusting the throwaway certificate (and ignoring REQUESTS_CA_BUNDLE, which would win)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(cert_path)
    return session


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture(scope="module")
async def https_org(tmp_path_factory: pytest.TempPathFactory, key_pair: KeyPair) -> AsyncIterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("https")
    key_path, cert_path = _tls_files(directory)
    settings = emulator_settings(key_pair)
    store = DocumentStore(sqlite_url(directory / "salesforce.sqlite"))
    port = free_port()
    config = uvicorn.Config(
        create_app(store, FaultInjector(), settings),
        host="127.0.0.1",
        port=port,
        ssl_keyfile=str(key_path),
        ssl_certfile=str(cert_path),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the HTTPS emulator did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}", cert_path
    finally:
        server.should_exit = True
        await task
        await store.close()


@pytest.fixture
async def sf(https_org: tuple[str, Path]) -> AsyncIterator[Salesforce]:
    url, cert_path = https_org
    settings = emulator_settings()
    with _session(cert_path) as session:  # closed, so the server's TLS shutdown need not wait for the client
        token = await asyncio.to_thread(_token_via_requests, url, session, settings.client_id, settings.client_secret)
        yield Salesforce(instance_url=url, session_id=token, session=session, version="61.0")


def _token_via_requests(url: str, session: requests.Session, client_id: str, client_secret: str) -> str:
    response = session.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def test_records_are_created_read_updated_upserted_and_deleted_through_simple_salesforce(sf: Salesforce):
    def exercise() -> dict[str, object]:
        created = sf.Account.create({"Name": "Globex Corporation", "BillingCountry": "US", "Payment_Terms_Days__c": 45})
        account_id = created["id"]
        read = sf.Account.get(account_id)
        status = sf.Account.update(account_id, {"Tax_Id__c": "US-99-0000001"})
        upserted = sf.Account.upsert("Q2C_External_Id__c/globex", {"Name": "Globex (by external ID)"})
        upserted_again = sf.Account.upsert("Q2C_External_Id__c/globex", {"BillingCity": "Springfield"})
        by_external_id = sf.Account.get_by_custom_id("Q2C_External_Id__c", "globex")
        deleted = sf.Account.delete(account_id)
        sf.query("SELECT Id FROM Account LIMIT 1")  # the library parses Sforce-Limit-Info into sf.api_usage
        return locals()

    seen = await asyncio.to_thread(exercise)

    assert seen["created"] == {"id": seen["account_id"], "success": True, "errors": []}
    read = seen["read"]
    assert isinstance(read, dict) and read["Name"] == "Globex Corporation" and read["attributes"]["type"] == "Account"
    assert read["Payment_Terms_Days__c"] == 45.0  # a double, as the library parses it by default
    assert seen["status"] == 204 and seen["deleted"] == 204
    assert (seen["upserted"], seen["upserted_again"]) == (201, 200)
    by_external_id = seen["by_external_id"]
    assert isinstance(by_external_id, dict)
    assert by_external_id["Name"] == "Globex (by external ID)" and by_external_id["BillingCity"] == "Springfield"
    assert sf.api_usage["api-usage"].used > 0 and sf.api_usage["api-usage"].total == 15000


async def test_query_and_query_all_follow_next_records_url(sf: Salesforce):
    def exercise() -> tuple[dict[str, object], dict[str, object]]:
        for n in range(5):
            sf.Product2.create({"Name": f"Paged product {n}", "ProductCode": f"PAGE-{n}", "IsActive": n % 2 == 0})
        first = sf.query("SELECT Id, Name FROM Product2 WHERE ProductCode LIKE 'PAGE-%' ORDER BY Name")
        everything = sf.query_all(
            "SELECT Id, Name, IsActive FROM Product2 WHERE ProductCode LIKE 'PAGE-%' ORDER BY Name"
        )
        return first, everything

    first, everything = await asyncio.to_thread(exercise)

    assert first["totalSize"] == 5 and first["done"] is False and len(first["records"]) == 2  # type: ignore[arg-type]
    records = everything["records"]
    assert isinstance(records, list) and [r["Name"] for r in records] == [f"Paged product {n}" for n in range(5)]
    assert [r["IsActive"] for r in records] == [True, False, True, False, True]


async def test_the_library_can_read_amounts_as_exact_decimals(https_org: tuple[str, Path], sf: Salesforce):
    exact = Salesforce(instance_url=https_org[0], session_id=sf.session_id, session=sf.session, parse_float=Decimal)

    def exercise() -> dict[str, object]:
        opportunity = exact.Opportunity.create(
            {"Name": "Decimal deal", "StageName": "Prospecting", "CloseDate": "2027-01-31"}
        )
        exact.OpportunityLineItem.create(
            {"OpportunityId": opportunity["id"], "Overage_Unit_Price__c": 0.002, "UnitPrice": 90.1}
        )
        where = f"OpportunityId = '{opportunity['id']}'"
        return dict(exact.query(f"SELECT UnitPrice, Overage_Unit_Price__c FROM OpportunityLineItem WHERE {where}"))

    result = await asyncio.to_thread(exercise)
    records: list[dict[str, Any]] = result["records"]  # type: ignore[assignment]
    [line] = records
    assert line["UnitPrice"] == Decimal("90.1") and line["Overage_Unit_Price__c"] == Decimal("0.002")


async def test_the_library_raises_its_own_exceptions_from_the_emulators_error_bodies(sf: Salesforce):
    def not_found() -> None:
        sf.Account.get("001NW0000000999")

    def malformed() -> None:
        sf.query("SELECT Id, Nonexistent__c FROM Account")

    with pytest.raises(SalesforceResourceNotFound) as missing:
        await asyncio.to_thread(not_found)
    with pytest.raises(SalesforceMalformedRequest) as bad_query:
        await asyncio.to_thread(malformed)

    assert missing.value.status == 404 and missing.value.content[0]["errorCode"] == "NOT_FOUND"  # type: ignore[index]
    assert bad_query.value.status == 400
    assert bad_query.value.content[0]["errorCode"] == "INVALID_FIELD"  # type: ignore[index]
    assert "No such column 'Nonexistent__c' on entity 'Account'" in bad_query.value.content[0]["message"]  # type: ignore[index]


async def test_a_jwt_token_from_the_emulator_works_with_the_library(https_org: tuple[str, Path], key_pair: KeyPair):
    url, cert_path = https_org
    settings = emulator_settings()
    # The assertion simple_salesforce's own JWT login would build (that login only targets *.salesforce.com hosts).
    assertion = jwt.encode(
        {"iss": settings.client_id, "sub": settings.run_as_username, "aud": url, "exp": int(time.time()) + 120},
        key_pair.private_key_pem,
        algorithm="RS256",
    )

    def exercise() -> int:
        with _session(cert_path) as session:
            return _query_users(session)

    def _query_users(session: requests.Session) -> int:
        response = session.post(
            f"{url}/services/oauth2/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
        response.raise_for_status()
        sf = Salesforce(
            instance_url=response.json()["instance_url"], session_id=response.json()["access_token"], session=session
        )
        return int(sf.query("SELECT Id FROM User")["totalSize"])

    assert await asyncio.to_thread(exercise) >= 1
