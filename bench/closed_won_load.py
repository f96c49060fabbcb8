"""Closed-won sagas for the throughput benchmark: copies of the reference deal, each with its own opportunity
and account, started the way the receiver starts them and awaited to the end.

On the in-memory systems the deals go straight into the CRM's memory; on the sandbox they are created in the
Salesforce emulator through its API and set to Closed Won before the clock starts (their Outbound Messages go
nowhere: the benchmark starts the sagas itself, so the latency is the saga's alone).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from temporalio.client import Client

from adapters.memory.reference_deals import reference_deal
from adapters.memory.systems import InMemorySystems
from canonical.crm_deal import CrmDeal
from canonical.saga_policy import SagaPolicy
from sandbox.salesforce.seed import close_opportunity, get_token, seed_salesforce
from sandbox.stack import RunningSandbox
from workflows.closed_won import workflow_id_for
from workflows.closed_won_client import start_closed_won

SEED_CHUNK = 10  # deals seeded at once


def bench_deal(number: int) -> CrmDeal:
    """The reference deal as opportunity 006BM<number> of account 001BM<number> (Salesforce-shaped IDs)."""
    deal = reference_deal()
    opportunity, account = f"006BM{number:010d}", f"001BM{number:010d}"
    return deal.model_copy(
        update={
            "account": deal.account.model_copy(update={"account_id": account, "name": f"Bench customer {number}"}),
            "opportunity": deal.opportunity.model_copy(update={"opportunity_id": opportunity, "account_id": account}),
        }
    )


class ClosedWonLoad(ABC):
    """`prepare(first, count)` puts deals first .. first+count-1 in the CRM; `run_one(i)` runs deal first+i."""

    name = "closed_won"

    def __init__(self, client: Client, task_queue: str, policy: SagaPolicy) -> None:
        self._client, self._queue, self._policy = client, task_queue, policy
        self._first = 0
        self.results: dict[int, dict[str, Any]] = {}  # deal number → the saga's final state, as JSON data

    async def prepare(self, first: int, count: int) -> None:
        self._first = first
        await self.put_deals([bench_deal(first + i) for i in range(count)])

    @abstractmethod
    async def put_deals(self, deals: list[CrmDeal]) -> None:
        """Put the deals where the saga reads them: the in-memory CRM or the Salesforce emulator."""

    def workflow_id(self, index: int) -> str:
        return workflow_id_for(bench_deal(self._first + index).opportunity.opportunity_id)

    async def run_one(self, index: int) -> None:
        number = self._first + index
        started = await start_closed_won(
            self._client, bench_deal(number).opportunity.opportunity_id, self._policy, self._queue
        )
        result = await started.handle.result()
        self.results[number] = result if isinstance(result, dict) else result.model_dump(mode="json")


class InMemoryClosedWon(ClosedWonLoad):
    def __init__(self, client: Client, task_queue: str, policy: SagaPolicy, systems: InMemorySystems) -> None:
        super().__init__(client, task_queue, policy)
        self._systems = systems

    async def put_deals(self, deals: list[CrmDeal]) -> None:
        for deal in deals:
            self._systems.crm.save_deal(deal)


class SandboxClosedWon(ClosedWonLoad):
    def __init__(self, client: Client, task_queue: str, policy: SagaPolicy, sandbox: RunningSandbox) -> None:
        super().__init__(client, task_queue, policy)
        self._sandbox = sandbox

    async def put_deals(self, deals: list[CrmDeal]) -> None:
        url, settings = self._sandbox.urls["salesforce"], self._sandbox.salesforce
        # The first deal alone creates the shared products and owner, so the chunks after it never race to.
        chunks = [deals[:1]] + [deals[i : i + SEED_CHUNK] for i in range(1, len(deals), SEED_CHUNK)]
        for chunk in chunks:
            await asyncio.gather(
                *(seed_salesforce(url, settings.client_id, settings.client_secret, [deal]) for deal in chunk)
            )
        token = await get_token(url, settings.client_id, settings.client_secret)
        for deal in deals:
            await close_opportunity(url, token, deal.opportunity.opportunity_id)
