"""The NetSuite adapter against the running emulator over real HTTP: the ERP port, idempotency, undo, every
error class, faults, concurrency governance and persistence."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from adapters.errors import NotFoundError, PermanentAdapterError, RateLimitedError, TransientAdapterError
from adapters.netsuite import NetSuiteRecordError, NetSuiteSettings
from canonical.general_ledger import InvoiceLine, InvoicePosting
from canonical.mapping_rules import MappingRules
from canonical.problems import ExceptionCategory
from canonical.references import System
from sandbox.faults import FaultRule
from sandbox.netsuite import SeededIds
from sandbox.store import DocumentStore, sqlite_url
from tests.sandbox.netsuite.conftest import Emulator, KeyPair, customer, running_emulator


async def _customers_with_external_id(emulator: Emulator, external_id: str) -> list[dict[str, object]]:
    return await emulator.suiteql(f"SELECT id, isinactive FROM customer WHERE externalid = '{external_id}'")


@pytest.mark.parametrize("auth", ["PS256", "ES256", "tba"])
async def test_creates_a_customer_then_matches_it(emulator: Emulator, auth: str) -> None:
    async with emulator.erp(auth) as erp:
        created = await erp.match_or_create_customer(customer(), "saga-1/erp_customer")
        again = await erp.match_or_create_customer(customer(), "saga-1/erp_customer")
        other_saga = await erp.match_or_create_customer(customer(), "saga-2/erp_customer")

    assert created.system is System.ERP and created.created
    assert again == created  # the same key replays: still "created by this key"
    assert other_saga.customer_id == created.customer_id and not other_saga.created
    assert len(await _customers_with_external_id(emulator, "001NW000000ACME")) == 1
    async with emulator.admin() as http:
        record = (await http.get(f"/record/v1/customer/{created.customer_id}")).json()
    assert record["companyName"] == "Acme Analytics Inc." and record["email"] == "ap@acme.example"
    assert record["subsidiary"]["id"] == "1"  # US01 → erp_subsidiary 1
    assert record["currency"]["id"] == emulator.ids.currencies["USD"]
    assert record["terms"]["id"] == emulator.ids.terms["Net 30"]
    assert record["custentity_q2c_created_by"] == "saga-1/erp_customer"
    assert record["custentity_q2c_crm_account_id"] == "001NW000000ACME"


async def test_legal_entity_routes_to_its_subsidiary(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        match = await erp.match_or_create_customer(
            customer("001NW000000UK", legal_entity="UK01", currency="GBP", country="GB", payment_terms_days=45), "k"
        )
    async with emulator.admin() as http:
        record = (await http.get(f"/record/v1/customer/{match.customer_id}")).json()
    assert record["subsidiary"]["id"] == "2"
    assert record["currency"]["id"] == emulator.ids.currencies["GBP"]
    assert record["terms"]["id"] == emulator.ids.terms["Net 45"]


async def test_undo_deactivates_only_what_the_key_created_and_is_idempotent(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        created = await erp.match_or_create_customer(customer(), "saga-1/erp_customer")
        await erp.match_or_create_customer(customer("001NW000000MATCHED"), "saga-x/erp_customer")
        assert await erp.deactivate_customer_created_by("saga-nobody/erp_customer") is None
        assert await erp.deactivate_customer_created_by("saga-1/erp_customer") == created.customer_id
        assert await erp.deactivate_customer_created_by("saga-1/erp_customer") == created.customer_id
        rows = await _customers_with_external_id(emulator, "001NW000000ACME")
        assert rows == [{"links": [], "id": created.customer_id, "isinactive": "T"}]
        assert (await _customers_with_external_id(emulator, "001NW000000MATCHED"))[0]["isinactive"] == "F"

        # A later saga finds the inactive customer (NetSuite keeps external IDs unique): it reactivates and claims
        # it, so that its own compensation returns it to inactive.
        resubmitted = await erp.match_or_create_customer(customer(), "saga-3/erp_customer")
        assert resubmitted.customer_id == created.customer_id and resubmitted.created
        assert (await _customers_with_external_id(emulator, "001NW000000ACME"))[0]["isinactive"] == "F"
        assert await erp.deactivate_customer_created_by("saga-1/erp_customer") is None
        assert await erp.deactivate_customer_created_by("saga-3/erp_customer") == created.customer_id


async def test_keys_with_quotes_are_escaped_in_suiteql(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        created = await erp.match_or_create_customer(customer(), "o'brien' OR 'x' = 'x")
        await erp.match_or_create_customer(customer("001NW000000OTHER"), "plain")
        assert await erp.deactivate_customer_created_by("o'brien' OR 'x' = 'x") == created.customer_id
    assert (await _customers_with_external_id(emulator, "001NW000000OTHER"))[0]["isinactive"] == "F"


async def test_unmapped_legal_entity_or_terms_is_a_mapping_problem(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        with pytest.raises(PermanentAdapterError) as entity:
            await erp.match_or_create_customer(customer(legal_entity="XX99"), "k")
        with pytest.raises(PermanentAdapterError) as terms:
            await erp.match_or_create_customer(customer(payment_terms_days=17), "k")
    assert entity.value.category is terms.value.category is ExceptionCategory.MAPPING_MISSING
    assert await _customers_with_external_id(emulator, "001NW000000ACME") == []


async def test_validation_error_is_permanent_and_names_the_field(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        with pytest.raises(NetSuiteRecordError) as error:
            await erp.post_invoice(
                InvoicePosting(
                    external_id="in_nobody",
                    customer_id="999",
                    tran_date=date(2027, 1, 15),
                    currency="USD",
                    lines=(
                        InvoiceLine(item="SUB-PLATFORM", quantity=Decimal(1), rate=Decimal(10), amount=Decimal(10)),
                    ),
                )
            )
    assert error.value.category is ExceptionCategory.INVALID_DATA
    assert error.value.error_code == "INVALID_CONTENT" and error.value.error_path == "entity"
    assert "entity" in str(error.value)


async def test_unknown_master_data_and_missing_records(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        with pytest.raises(PermanentAdapterError) as currency:
            await erp.match_or_create_customer(customer(currency="JPY"), "k")
        with pytest.raises(NotFoundError):
            await erp.invoice_amount_remaining("in_never_posted")
        with pytest.raises(NotFoundError):
            await erp.accounting_period_for(date(2031, 1, 1))
    assert currency.value.category is ExceptionCategory.MASTER_DATA_MISMATCH


async def test_wrong_credentials_are_a_permanent_auth_failure(emulator: Emulator) -> None:
    async with emulator.erp("tba", token_secret="not-the-secret") as erp:
        with pytest.raises(PermanentAdapterError) as tba:
            await erp.match_or_create_customer(customer(), "k")
    assert not isinstance(tba.value, NotFoundError) and "INVALID_LOGIN" in str(tba.value)
    async with emulator.erp("PS256", certificate_id="cert-revoked") as erp:
        with pytest.raises(PermanentAdapterError) as m2m:
            await erp.match_or_create_customer(customer(), "k")
    assert "invalid_client" in str(m2m.value)


async def test_a_401_refreshes_the_token_once_then_gives_up(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        await erp.match_or_create_customer(customer(), "k")
        credentials = erp.client.credentials
        assert credentials.fetched == 1  # type: ignore[attr-defined]
        credentials._token = "expired.or.revoked"  # type: ignore[attr-defined]
        await erp.match_or_create_customer(customer(), "k")
        assert credentials.fetched == 2  # type: ignore[attr-defined]

    async def corrupt(request: httpx.Request) -> None:
        if request.headers.get("authorization", "").startswith("Bearer "):
            request.headers["Authorization"] = "Bearer not-a-token"

    async with httpx.AsyncClient(event_hooks={"request": [corrupt]}) as http, emulator.erp(http=http) as erp:
        with pytest.raises(PermanentAdapterError) as error:
            await erp.match_or_create_customer(customer(), "k")
        assert erp.client.credentials.fetched == 2  # type: ignore[attr-defined]
    assert "INVALID_LOGIN" in str(error.value)


async def test_server_errors_are_transient(emulator: Emulator) -> None:
    await emulator.set_faults(FaultRule(kind="error", rate=1, status=503, path=".*/record/v1/customer/.*"))
    async with emulator.erp() as erp:
        with pytest.raises(TransientAdapterError) as error:
            await erp.match_or_create_customer(customer(), "k")
    assert "UNEXPECTED_ERROR" in str(error.value)


async def test_rate_limit_carries_the_hinted_delay(emulator: Emulator) -> None:
    await emulator.set_faults(FaultRule(kind="rate_limit", rate=1, retry_after_seconds=7, path=".*/suiteql"))
    async with emulator.erp() as erp:
        with pytest.raises(RateLimitedError) as error:
            await erp.deactivate_customer_created_by("k")
    assert error.value.retry_after == timedelta(seconds=7)


async def test_timeouts_and_dropped_connections_are_transient(emulator: Emulator) -> None:
    await emulator.set_faults(FaultRule(kind="slow", rate=1, delay_seconds=0.4, path=".*/suiteql"))
    async with emulator.erp(timeout_seconds=0.1) as erp:
        with pytest.raises(TransientAdapterError, match="timed out"):
            await erp.deactivate_customer_created_by("k")
    await emulator.set_faults(FaultRule(kind="drop", rate=1, path=".*/suiteql"))
    async with emulator.erp() as erp:
        with pytest.raises(TransientAdapterError):
            await erp.deactivate_customer_created_by("k")


async def test_concurrency_limit_answers_429(
    sqlite_store: DocumentStore,
    seeded_template: tuple[Path, SeededIds],
    keys: dict[str, KeyPair],
    mapping_rules: MappingRules,
) -> None:
    seeded = seeded_template[1]
    slow_reads = FaultRule(kind="slow", rate=1, delay_seconds=0.5, method="GET", path=".*/customer/.*")
    async with (
        running_emulator(sqlite_store, keys, mapping_rules, seeded=seeded, concurrency_limit=2) as emulator,
        emulator.erp() as erp,
    ):
        match = await erp.match_or_create_customer(customer(), "k")
        await emulator.set_faults(slow_reads)
        results = await asyncio.gather(
            *(erp.customer_open_balance(match.customer_id) for _ in range(4)), return_exceptions=True
        )
    limited = [r for r in results if isinstance(r, RateLimitedError)]
    assert len(limited) == 2 and [r for r in results if r == Decimal(0)] == [Decimal(0)] * 2
    assert limited[0].retry_after == timedelta(seconds=1)  # no Retry-After: the adapter's default
    assert "CONCURRENCY_LIMIT_EXCEEDED" in str(limited[0])


async def test_retrying_through_faults_succeeds_without_duplicates(emulator: Emulator) -> None:
    await emulator.set_faults(
        FaultRule(kind="error", rate=0.5, status=500, path="/services/rest/(record|query)/.*"),
        FaultRule(kind="rate_limit", rate=0.2, retry_after_seconds=0, path="/services/rest/(record|query)/.*"),
        FaultRule(kind="drop", rate=0.2, method="PUT", path=".*/customer/.*"),
        seed=7,
    )
    failures = 0
    async with emulator.erp() as erp:
        for _ in range(50):
            try:
                match = await erp.match_or_create_customer(customer(), "saga-faulty/erp_customer")
                break
            except (TransientAdapterError, RateLimitedError):
                failures += 1
        else:
            pytest.fail("never succeeded")
    assert failures > 0
    assert emulator.faults.injected
    await emulator.set_faults()
    rows = await _customers_with_external_id(emulator, "001NW000000ACME")
    assert [r["id"] for r in rows] == [match.customer_id] and match.created


async def test_records_survive_a_restart(tmp_path, keys: dict[str, KeyPair], mapping_rules: MappingRules) -> None:
    path = tmp_path / "restart.sqlite"
    invoice = InvoicePosting(
        external_id="in_restart",
        customer_id="1",
        tran_date=date(2027, 2, 1),
        currency="USD",
        lines=(InvoiceLine(item="SVC-ONBOARDING", rate=Decimal("18000.00"), amount=Decimal("18000.00")),),
    )
    store = await DocumentStore(sqlite_url(path)).open()
    async with running_emulator(store, keys, mapping_rules) as emulator:
        async with emulator.erp() as erp:
            first = await erp.match_or_create_customer(customer(), "saga-1/erp_customer")
            posted = await erp.post_invoice(invoice.model_copy(update={"customer_id": first.customer_id}))
        ids = emulator.ids
    await store.close()

    store = await DocumentStore(sqlite_url(path)).open()
    async with running_emulator(store, keys, mapping_rules) as emulator:
        assert emulator.ids == ids  # seeding again created nothing
        async with emulator.erp() as erp:
            again = await erp.match_or_create_customer(customer(), "saga-2/erp_customer")
            assert again.customer_id == first.customer_id and not again.created
            assert await erp.invoice_amount_remaining("in_restart") == Decimal("18000.00")
            balance = await erp.trial_balance(posted.posting_period_id)
    await store.close()
    assert balance.line("1100").debit == Decimal("18000.00")  # type: ignore[union-attr]


async def test_settings_from_environment(tmp_path, keys: dict[str, KeyPair]) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(keys["ES256"].private_pem)
    m2m = NetSuiteSettings.from_env(
        {
            "Q2C_NETSUITE_BASE_URL": "https://1234567-sb1.suitetalk.api.netsuite.com/",
            "Q2C_NETSUITE_ACCOUNT_ID": "1234567_SB1",
            "Q2C_NETSUITE_CLIENT_ID": "cid",
            "Q2C_NETSUITE_CERTIFICATE_ID": "kid",
            "Q2C_NETSUITE_PRIVATE_KEY_FILE": str(key_file),
            "Q2C_NETSUITE_JWT_ALGORITHM": "ES256",
        }
    )
    assert m2m.token_url == "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    assert m2m.private_key_pem is not None and "PRIVATE KEY" in m2m.private_key_pem.get_secret_value()
    tba = NetSuiteSettings.from_env(
        {
            "Q2C_NETSUITE_BASE_URL": "http://127.0.0.1:9000",
            "Q2C_NETSUITE_ACCOUNT_ID": "Q2C_DEMO",
            "Q2C_NETSUITE_AUTH": "tba",
            "Q2C_NETSUITE_CONSUMER_KEY": "ck",
            "Q2C_NETSUITE_CONSUMER_SECRET": "cs",
            "Q2C_NETSUITE_TOKEN_ID": "t",
            "Q2C_NETSUITE_TOKEN_SECRET": "ts",
            "Q2C_NETSUITE_TIMEOUT_SECONDS": "12.5",
        }
    )
    assert tba.timeout_seconds == 12.5
    with pytest.raises(ValueError, match="token_secret"):
        NetSuiteSettings.from_env(
            {
                "Q2C_NETSUITE_BASE_URL": "x",
                "Q2C_NETSUITE_ACCOUNT_ID": "a",
                "Q2C_NETSUITE_AUTH": "tba",
                "Q2C_NETSUITE_CONSUMER_KEY": "ck",
                "Q2C_NETSUITE_CONSUMER_SECRET": "cs",
                "Q2C_NETSUITE_TOKEN_ID": "t",
            }
        )
