"""The emulators' shared pieces: the document store (SQLite and PostgreSQL), fault injection, the servers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.responses import Response

from sandbox.faults import FaultConfig, FaultInjector, FaultRule, install_faults
from sandbox.servers import EmulatorFailedToStart, serve_apps
from sandbox.store import DocumentStore
from workers.dev_server import free_port


async def test_documents_are_stored_found_and_updated_in_creation_order(document_store: DocumentStore) -> None:
    async with document_store.transaction() as tx:
        await tx.put("customers", "cus_1", {"name": "Northwind", "metadata": {"crm_account_id": "001"}})
        await tx.put("customers", "cus_2", {"name": "Contoso", "metadata": {"crm_account_id": "002"}})
        await tx.put("customers", "cus_1", {"name": "Northwind Analytics", "metadata": {"crm_account_id": "001"}})

    assert await document_store.get("customers", "cus_1") == {
        "name": "Northwind Analytics",
        "metadata": {"crm_account_id": "001"},
    }
    assert [d["name"] for d in await document_store.find("customers")] == ["Northwind Analytics", "Contoso"]
    assert await document_store.find("customers", name="Contoso") == [
        {"name": "Contoso", "metadata": {"crm_account_id": "002"}}
    ]
    assert await document_store.get("customers", "cus_3") is None


async def test_a_failed_transaction_writes_nothing(document_store: DocumentStore) -> None:
    with pytest.raises(RuntimeError):
        async with document_store.transaction() as tx:
            await tx.put("invoices", "in_1", {"total": "10.00"})
            raise RuntimeError("validation failed half-way")

    assert await document_store.get("invoices", "in_1") is None


def _app_with_faults(injector: FaultInjector) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/things")
    async def things() -> dict[str, str]:
        return {"object": "list"}

    def vendor_error(rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after_seconds)} if rule.kind == "rate_limit" else {}
        status = 429 if rule.kind == "rate_limit" else rule.status
        return JSONResponse({"error": {"type": "api_error", "kind": rule.kind}}, status_code=status, headers=headers)

    install_faults(app, injector, vendor_error)
    return app


async def test_faults_follow_their_rules_and_seed_and_can_be_replaced_over_http() -> None:
    injector = FaultInjector(FaultConfig(seed=7, rules=[FaultRule(kind="error", rate=0.5, path="/v1/.*")]))
    port = free_port()
    async with (
        serve_apps({"vendor": (_app_with_faults(injector), port)}) as urls,
        httpx.AsyncClient(base_url=urls["vendor"]) as http,
    ):
        statuses = [(await http.get("/v1/things")).status_code for _ in range(40)]
        replaced = await http.put("/_sandbox/faults", json={"seed": 1, "rules": [{"kind": "rate_limit", "rate": 1.0}]})
        limited = await http.get("/v1/things")
        dropped_rule = {"seed": 1, "rules": [{"kind": "drop", "rate": 1.0}]}
        await http.put("/_sandbox/faults", json=dropped_rule)
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/v1/things")

    assert set(statuses) == {200, 503} and 10 < statuses.count(503) < 30
    again = FaultInjector(FaultConfig(seed=7, rules=[FaultRule(kind="error", rate=0.5, path="/v1/.*")]))
    assert [503 if again.pick("GET", "/v1/things", ("error",)) else 200 for _ in range(40)] == statuses
    assert replaced.status_code == 200
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")


async def test_a_taken_port_is_reported_by_name() -> None:
    port = free_port()
    async with serve_apps({"first": (FastAPI(), port)}):
        with pytest.raises(EmulatorFailedToStart, match=f"second emulator did not start on port {port}"):
            async with serve_apps({"second": (FastAPI(), port)}):
                await asyncio.sleep(0)
