"""What goes wrong during a scenario, at seeded random moments, until told to stop: the worker killed and started
again, the Temporal server killed and started again on its SQLite file, the vendors' faults."""

from __future__ import annotations

import asyncio
import random

from cli.chaos.processes import WORKER_READY
from cli.chaos.stack import CampaignStack
from sandbox.faults import FaultConfig, FaultRule


async def kill_workers(stack: CampaignStack, chooser: random.Random, stop: asyncio.Event, limit: int | None) -> None:
    """SIGKILL the worker 0.5–4 s after it starts polling (at most `limit` times), mid-activity as likely as not;
    start it again after up to a second. Counting from when it polls, not from its start, keeps a slow start-up on
    a busy machine from turning the campaign into a worker that never works."""
    while _more(stack.worker.kills, limit):
        await stack.worker.until_logged(WORKER_READY)
        if await _stopped(stop, chooser.uniform(0.5, 4.0)):
            return
        await stack.worker.kill()
        await asyncio.sleep(chooser.uniform(0.0, 1.0))
        await stack.restart_worker()


async def kill_servers(stack: CampaignStack, chooser: random.Random, stop: asyncio.Event, limit: int | None) -> None:
    """SIGKILL the Temporal dev server every 4–8 s (at most `limit` times); start it again on the same SQLite file
    after 0.5–2 s. A worker that gave up while the server was away is started again (and counted)."""
    while _more(stack.server.kills, limit) and not await _stopped(stop, chooser.uniform(4.0, 8.0)):
        await stack.server.kill()
        await asyncio.sleep(chooser.uniform(0.5, 2.0))
        await stack.restart_server()
        if not stack.worker.running:
            await stack.restart_worker()


def _more(done: int, limit: int | None) -> bool:
    return limit is None or done < limit


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def vendor_faults(rate: float, seed: int, vendor: str) -> FaultConfig:
    """Every request fault at `rate` (drops and timeouts at half of it, as they cost the most), and every
    webhook delivery duplicated or reordered at twice it. Salesforce's limit error carries no Retry-After, so the
    adapter waits 30 s after one: it comes at a quarter of the rate, or a campaign would mostly wait."""
    limit_rate = rate / 4 if vendor == "salesforce" else rate
    return FaultConfig(
        seed=seed,
        rules=[
            FaultRule(kind="error", rate=rate, status=503),
            FaultRule(kind="error", rate=rate / 2, status=500),
            FaultRule(kind="rate_limit", rate=limit_rate, retry_after_seconds=1),
            FaultRule(kind="drop", rate=rate / 2),
            FaultRule(kind="slow", rate=rate / 2, delay_seconds=3.0),  # past the adapters' 2 s timeout
            FaultRule(kind="duplicate_webhook", rate=min(1.0, rate * 2)),
            FaultRule(kind="reorder_webhooks", rate=min(1.0, rate * 2)),
        ],
    )


def inject(stack: CampaignStack, rate: float, seed: int) -> None:
    """Each emulator's faults, each seeded apart so they do not fire in step."""
    for offset, (vendor, injector) in enumerate(sorted(stack.sandbox.faults.items())):
        injector.configure(vendor_faults(rate, seed + offset, vendor))


def injected(stack: CampaignStack) -> dict[str, int]:
    """Faults injected so far, by kind, over every emulator; then the rules are cleared so the checks see no faults."""
    counts: dict[str, int] = {}
    for injector in stack.sandbox.faults.values():
        for kind, times in injector.injected.items():
            counts[kind] = counts.get(kind, 0) + times
        injector.configure(FaultConfig())
    return counts
