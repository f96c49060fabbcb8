"""q2c's CRM ports over Salesforce's REST API: deals and their saga outcomes, amendments and theirs, and the
account payment status the payment-settled saga writes."""

from __future__ import annotations

from datetime import date

import httpx

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.salesforce import fields, ids, mapping
from adapters.salesforce.account_payment import AccountPaymentUpdate
from adapters.salesforce.client import ApiUsage, SalesforceRestClient
from adapters.salesforce.settings import SalesforceSettings
from canonical.amendment import CrmAmendmentOutcome
from canonical.crm_amendment import CrmAmendment
from canonical.crm_deal import CrmDeal
from canonical.problems import ExceptionCategory
from canonical.references import System
from canonical.saga import SagaOutcome


class SalesforceCrm:
    """Implements `adapters.ports.CrmPort`, `CrmAccountPort` and `CrmAmendmentPort`. Close it with `aclose()` (or use
    it as an async context manager)."""

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

    async def fetch_amendment(self, opportunity_id: str) -> CrmAmendment:
        """The amendment opportunity (15- or 18-character ID) with its change lines, read by SOQL; the record is
        returned whatever its Type, for `build_amendment` to judge. NotFoundError if there is no such opportunity."""
        action = f"reading amendment {opportunity_id}"
        if not ids.is_record_id(opportunity_id, ids.OPPORTUNITY_PREFIX):
            raise NotFoundError(System.CRM, f"{action}: not a Salesforce opportunity ID")
        query = {"q": fields.amendment_query(opportunity_id)}
        page = await self._client.get_json(f"{self._client.data_path}/query", action, query)
        if not page["records"]:
            raise NotFoundError(System.CRM, f"{action}: no such opportunity")
        lines = await self._client.query_all(
            fields.changes_query(opportunity_id), f"reading the changes of amendment {opportunity_id}"
        )
        return mapping.amendment(page["records"][0], lines)

    async def record_amendment_outcome(
        self, opportunity_id: str, outcome: CrmAmendmentOutcome, idempotency_key: str
    ) -> None:
        """Write the amendment saga's outcome onto the amendment opportunity: a PATCH of the same fields, so
        recording it again changes nothing (Salesforce has no idempotency header; the key is the port's).

        With a total contract value, one SOQL read first: a currency field holds the record's currency, so an
        amount in another one is refused rather than written as if it were the opportunity's."""
        action = f"writing the amendment outcome to opportunity {opportunity_id}"
        if not ids.is_record_id(opportunity_id, ids.OPPORTUNITY_PREFIX):
            raise NotFoundError(System.CRM, f"{action}: not a Salesforce opportunity ID")
        value = outcome.total_contract_value
        if value is not None:
            query = {"q": fields.opportunity_currency_query(opportunity_id)}
            page = await self._client.get_json(f"{self._client.data_path}/query", action, query)
            if not page["records"]:
                raise NotFoundError(System.CRM, f"{action}: no such opportunity")
            currency = page["records"][0].get(fields.OPP_CURRENCY)
            if currency is not None and currency != value.currency:
                raise PermanentAdapterError(
                    System.CRM,
                    f"{action}: the opportunity's currency is {currency}, the contract value's {value.currency}",
                    ExceptionCategory.MASTER_DATA_MISMATCH,
                )
        path = f"{self._client.data_path}/sobjects/{fields.OPPORTUNITY}/{opportunity_id}"
        await self._client.request("PATCH", path, action, body=mapping.amendment_outcome_fields(outcome))

    async def record_account_payment(
        self, crm_account_id: str, update: AccountPaymentUpdate, idempotency_key: str
    ) -> None:
        """Write the settled payment onto the account's Q2C payment fields (last payment date, amount and invoice,
        open receivable, status). A PATCH of the same values, so recording it again changes nothing.

        One SOQL read first: the account must exist and keep its amounts in the payment's currency (a currency
        field holds the record's currency), and a payment older than the one already recorded is not written,
        so a late retry never puts an earlier payment back over a later one. (Read, then write: two payments
        of one account recorded at the very same moment can still race; the sagas of one customer rarely do.)
        """
        action = f"writing the payment of {update.invoice_id} to account {crm_account_id}"
        if not ids.is_record_id(crm_account_id, ids.ACCOUNT_PREFIX):
            raise NotFoundError(System.CRM, f"{action}: not a Salesforce account ID")
        page = await self._client.get_json(
            f"{self._client.data_path}/query", action, {"q": fields.account_payment_query(crm_account_id)}
        )
        if not page["records"]:
            raise NotFoundError(System.CRM, f"{action}: no such account")
        account = page["records"][0]
        currency = account.get(fields.ACCOUNT_CURRENCY)
        if currency is not None and currency != update.amount.currency:
            raise PermanentAdapterError(
                System.CRM,
                f"{action}: the account's currency is {currency}, the payment's {update.amount.currency}",
                ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        recorded = account.get(fields.Q2C_LAST_PAYMENT_DATE)
        if recorded is not None and date.fromisoformat(recorded) > update.paid_on:
            return  # a later payment is on the account already
        path = f"{self._client.data_path}/sobjects/{fields.ACCOUNT_OBJECT}/{crm_account_id}"
        await self._client.request("PATCH", path, action, body=mapping.payment_fields(update))
