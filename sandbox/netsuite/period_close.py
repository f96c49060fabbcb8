"""Closing and reopening accounting periods: an emulator-only admin surface, and the helpers that call it.

In NetSuite a controller closes a period in the UI, by completing the Period Close Checklist (Setup > Accounting
> Manage G/L > Manage Accounting Periods: lock A/R, A/P and payroll, then the Close task), and reopens it there.
SOAP web services offer the accounting period record for get and search only; REST exposes the record and its
`closed` checkbox, but Oracle documents no web-services way to close a period. So the emulator keeps `closed`
read-only over REST (see `sandbox.netsuite.ledger`) and closes periods here instead, standing in for the
checklist. Nothing under `/_sandbox` exists in NetSuite: an adapter must never call it, only demos and tests.

    POST /_sandbox/accounting-periods/{key}/close    → 200 {"id", "externalId", "periodName", "closed": true}
    POST /_sandbox/accounting-periods/{key}/reopen   → 200 {..., "closed": false}

`key` is the period's external ID (the seed gives each month `YYYY-MM`, e.g. `2027-01`) or else its internal
ID. Closing a closed period, or reopening an open one, changes nothing. NetSuite also wants earlier periods
closed first; the emulator does not insist, so a demo may close any month on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from sandbox.netsuite.books import Books
from sandbox.netsuite.errors import not_found
from sandbox.netsuite.recordtypes import RECORD_TYPES, Document
from sandbox.store import DocumentStore

ADMIN_PATH = "/_sandbox/accounting-periods"
_PERIOD = RECORD_TYPES["accountingPeriod"]


def period_close_router(store: DocumentStore) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PATH)

    async def set_closed(key: str, closed: bool) -> Response:
        async with store.transaction() as tx:
            books = Books(tx)
            period = await books.by_external_id(_PERIOD, key) or await books.get(_PERIOD, key)
            if period is None:
                raise not_found(f"There is no accounting period {key}.")
            if bool(period.get("closed")) != closed:
                period = {**period, "closed": closed}
                # Straight to the books, past the REST validation that keeps `closed` read-only.
                await books.put(_PERIOD, period)
        return JSONResponse(_summary(period))

    @router.post("/{key}/close")
    async def close(key: str) -> Response:
        return await set_closed(key, True)

    @router.post("/{key}/reopen")
    async def reopen(key: str) -> Response:
        return await set_closed(key, False)

    return router


def _summary(period: Document) -> dict[str, Any]:
    return {
        "id": period["id"],
        "externalId": period.get("externalId"),
        "periodName": period["periodName"],
        "closed": bool(period.get("closed")),
    }


@dataclass(frozen=True)
class PeriodState:
    """An accounting period as the emulator's admin surface reports it after closing or reopening it."""

    internal_id: str
    external_id: str | None
    name: str
    closed: bool


async def close_period(base_url: str, period_key: str, *, timeout: float = 10.0) -> PeriodState:
    """Close a period of the NetSuite emulator at `base_url` (emulator only: NetSuite closes periods in its UI).
    `period_key`: the period's external ID, e.g. `2027-01` for a seeded month, or its internal ID."""
    return await _set(base_url, period_key, "close", timeout)


async def reopen_period(base_url: str, period_key: str, *, timeout: float = 10.0) -> PeriodState:
    """Reopen a period of the NetSuite emulator at `base_url` (emulator only)."""
    return await _set(base_url, period_key, "reopen", timeout)


async def _set(base_url: str, period_key: str, action: str, timeout: float) -> PeriodState:
    url = f"{base_url.rstrip('/')}{ADMIN_PATH}/{quote(period_key, safe='')}/{action}"
    async with httpx.AsyncClient(timeout=timeout) as http:
        response = await http.post(url)
    response.raise_for_status()
    body = response.json()
    return PeriodState(
        internal_id=str(body["id"]),
        external_id=body.get("externalId"),
        name=str(body["periodName"]),
        closed=bool(body["closed"]),
    )
