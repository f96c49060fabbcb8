"""Finding sagas for the console: search by customer, contract, invoice or status, and one saga's details.

Searches go to Temporal's visibility through q2c's search attributes, the same ones the Temporal UI filters on,
so what the console finds is what an engineer would find there; each row links to its page in the UI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from canonical.money import Money
from canonical.saga import SagaStatus, SagaType
from workers.dev_server import workflow_ui_url
from workflows import search_attributes as sa

QUERY_TIMEOUT = timedelta(seconds=5)
SEARCH_LIMIT = 200
# What a search field may hold: IDs of the CRM, billing and q2c. Anything else could change the query's meaning.
_SEARCH_VALUE = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
_ALL_TYPES = ", ".join(f"'{t.value}'" for t in SagaType)


class SearchRefused(ValueError):
    """A search field holds something no ID looks like; the message names the field."""


@dataclass(frozen=True)
class SagaFilter:
    customer: str = ""  # CRM account ID
    contract: str = ""
    invoice: str = ""  # billing invoice or credit note ID
    opportunity: str = ""
    status: SagaStatus | None = None
    saga_type: SagaType | None = None
    running_only: bool = False

    @classmethod
    def from_form(cls, fields: dict[str, str]) -> SagaFilter:
        """The filter a search form asked for; `SearchRefused` names a field that is not an ID or a status."""
        customer, contract, invoice, opportunity = (
            _search_id(fields, name) for name in ("customer", "contract", "invoice", "opportunity")
        )
        try:
            status = SagaStatus(fields["status"]) if fields.get("status") else None
            saga_type = SagaType(fields["type"]) if fields.get("type") else None
        except ValueError as error:
            raise SearchRefused(f"unknown saga status or type: {error}") from None
        return cls(customer, contract, invoice, opportunity, status=status, saga_type=saga_type)

    def visibility_query(self) -> str:
        clauses = [f"{sa.SAGA_TYPE.name} = '{self.saga_type.value}'" if self.saga_type else _every_saga_type()]
        for key, value in (
            (sa.CRM_ACCOUNT_ID, self.customer),
            (sa.CONTRACT_ID, self.contract),
            (sa.DOCUMENT_ID, self.invoice),
            (sa.OPPORTUNITY_ID, self.opportunity),
        ):
            if value:
                clauses.append(f"{key.name} = '{value}'")
        if self.status is not None:
            clauses.append(f"{sa.SAGA_STATUS.name} = '{self.status.value}'")
        if self.running_only:
            clauses.append("ExecutionStatus = 'Running'")
        return " AND ".join(clauses)


@dataclass(frozen=True)
class SagaRow:
    workflow_id: str
    saga_type: str
    saga_status: str
    step: str
    execution_status: str
    customer: str
    opportunity: str
    contract: str
    document: str
    amount: Money | None
    exception_category: str
    started_at: datetime | None
    ui_url: str


@dataclass(frozen=True)
class SagaDetails:
    row: SagaRow
    state: dict[str, str] = field(default_factory=dict)  # the saga's state, flattened to dotted field names
    state_problem: str | None = None  # why the state could not be read

    @property
    def settled(self) -> bool:
        """Nothing will change without someone acting: the saga ended, or it waits for people."""
        waiting = self.row.saga_status in {s.value for s in SagaStatus if s.waits_for_people}
        return self.row.execution_status != "running" or waiting


class SagaDirectory:
    """The sagas of one Temporal namespace, with links into its UI."""

    def __init__(self, client: Client, ui_url: str) -> None:
        self.client = client
        self.ui_url = ui_url

    def link(self, workflow_id: str) -> str:
        return workflow_ui_url(self.ui_url, self.client.namespace, workflow_id)

    async def search(self, wanted: SagaFilter, limit: int = SEARCH_LIMIT) -> list[SagaRow]:
        found = self.client.list_workflows(wanted.visibility_query(), limit=limit)
        return [self.row(execution) async for execution in found]

    def row(self, execution: WorkflowExecution) -> SagaRow:
        attrs = execution.typed_search_attributes
        minor, currency = attrs.get(sa.AMOUNT_MINOR), attrs.get(sa.CURRENCY)
        amount = Money.from_minor_units(minor, currency) if minor is not None and currency else None
        return SagaRow(
            workflow_id=execution.id,
            saga_type=attrs.get(sa.SAGA_TYPE) or execution.workflow_type,
            saga_status=attrs.get(sa.SAGA_STATUS) or "",
            step=attrs.get(sa.SAGA_STEP) or "",
            execution_status=(execution.status or WorkflowExecutionStatus.RUNNING).name.lower(),
            customer=attrs.get(sa.CRM_ACCOUNT_ID) or "",
            opportunity=attrs.get(sa.OPPORTUNITY_ID) or "",
            contract=attrs.get(sa.CONTRACT_ID) or "",
            document=attrs.get(sa.DOCUMENT_ID) or "",
            amount=amount,
            exception_category=attrs.get(sa.EXCEPTION_CATEGORY) or "",
            started_at=execution.start_time,
            ui_url=self.link(execution.id),
        )

    async def details(self, workflow_id: str) -> SagaDetails | None:
        """One saga's indexed facts and its state; None if there is no such workflow."""
        handle = self.client.get_workflow_handle(workflow_id, result_type=dict)
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise
        row = self.row(description)
        try:
            if description.status is WorkflowExecutionStatus.COMPLETED:
                state = await handle.result()
            else:
                state = await handle.query("state", result_type=dict, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as error:
            return SagaDetails(row, state_problem=_unreadable(error, description.task_queue))
        return SagaDetails(row, state=flattened(state))

    async def state_of(self, workflow_id: str, result_type: type[Any]) -> Any:
        """The saga's state query answer as `result_type` (asks a worker; times out after a few seconds)."""
        handle = self.client.get_workflow_handle(workflow_id)
        return await handle.query("state", result_type=result_type, rpc_timeout=QUERY_TIMEOUT)


def flattened(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested state as `a.b.c → text`, leaving out what is empty, so any saga's state reads as one table."""
    if isinstance(value, dict):
        rows: dict[str, str] = {}
        for key, inner in value.items():
            rows |= flattened(inner, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if value in (None, "", [], ()):
        return {}
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        return {prefix: ", ".join(str(item) for item in value)}
    if isinstance(value, list):
        rows = {}
        for index, inner in enumerate(value, start=1):
            rows |= flattened(inner, f"{prefix}[{index}]")
        return rows
    return {prefix: str(value)}


def _search_id(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if value and not _SEARCH_VALUE.match(value):
        raise SearchRefused(f"{name}: {value!r} is not an ID (letters, digits and _ . : / - only)")
    return value


def _every_saga_type() -> str:
    return f"{sa.SAGA_TYPE.name} IN ({_ALL_TYPES})"


def _unreadable(error: RPCError, task_queue: str) -> str:
    if error.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return f"no worker answered the state query within {QUERY_TIMEOUT.seconds} s (is one polling {task_queue}?)"
    return f"the state could not be read: {error.message}"
