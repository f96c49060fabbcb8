"""q2c's CRM port over Salesforce's REST API."""

from __future__ import annotations

import httpx

from adapters.errors import NotFoundError
from adapters.salesforce import fields, ids, mapping
from adapters.salesforce.client import ApiUsage, SalesforceRestClient
from adapters.salesforce.settings import SalesforceSettings
from canonical.crm_deal import CrmDeal
from canonical.references import System
from canonical.saga import SagaOutcome


class SalesforceCrm:
    """Implements `adapters.ports.CrmPort`. Close it with `aclose()` (or use it as an async context manager)."""

    def __init__(self, settings: SalesforceSettings, http: httpx.AsyncClient | None = None) -> None:
        self._client = SalesforceRestClient(settings, http)

    async def __aenter__(self) -> SalesforceCrm:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def last_api_usage(self) -> ApiUsage | None:
        """The org's API usage from the last response's `Sforce-Limit-Info`, for dashboards and logs."""
        return self._client.last_api_usage

    async def fetch_deal(self, opportunity_id: str) -> CrmDeal:
        action = f"reading opportunity {opportunity_id}"
        if not ids.is_record_id(opportunity_id, ids.OPPORTUNITY_PREFIX):
            raise NotFoundError(System.CRM, f"{action}: not a Salesforce opportunity ID")
        query = {"q": fields.opportunity_query(opportunity_id)}
        page = await self._client.get_json(f"{self._client.data_path}/query", action, query)
        if not page["records"]:
            raise NotFoundError(System.CRM, f"{action}: no such opportunity")
        lines = await self._client.query_all(
            fields.line_items_query(opportunity_id), f"reading the lines of {opportunity_id}"
        )
        return mapping.deal(page["records"][0], lines)

    async def record_saga_outcome(self, opportunity_id: str, outcome: SagaOutcome, idempotency_key: str) -> None:
        # A PATCH of the same fields is idempotent by nature: repeating it leaves the record as the first one did,
        # so Salesforce needs no idempotency key (it has no such header); the key is part of the port for the
        # systems that create records.
        action = f"writing the saga outcome to opportunity {opportunity_id}"
        if not ids.is_record_id(opportunity_id, ids.OPPORTUNITY_PREFIX):
            raise NotFoundError(System.CRM, f"{action}: not a Salesforce opportunity ID")
        path = f"{self._client.data_path}/sobjects/{fields.OPPORTUNITY}/{opportunity_id}"
        await self._client.request("PATCH", path, action, body=mapping.outcome_fields(outcome))
