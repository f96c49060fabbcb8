"""The demo's last act: reconcile the year (clean), then edit an invoice in the NetSuite emulator as a user in the
ERP would, reconcile again, and show the break and the exception case it filed.

`q2c demo` calls `reconcile_the_year` once the year is closed (cli.demo_vendors).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from temporalio.client import Client, WorkflowFailureError

from adapters.netsuite.client import record_key
from adapters.netsuite.erp import NetSuiteErp
from adapters.netsuite.wire import date_of, decimal_of
from adapters.store.reconciliation import ReconciliationStore
from adapters.store.store import OperationalStore
from canonical.reconciliation import BreakKind
from cli.reconciliation import reconcile, report_lines, summary_lines
from cli.stacks import VendorStack
from cli.story import DemoFailed, block, step

EDIT = Decimal("100.00")  # what the "ERP user" adds to one line of the invoice


async def reconcile_demo_year(
    client: Client, task_queue: str, erp: NetSuiteErp, store: OperationalStore, first_day: date, last_day: date
) -> list[str]:
    """Run both reconciliations and print them; the problems found (none when all went as intended)."""
    clean = await reconcile(client, task_queue, first_day, last_day)
    block(["", *summary_lines(clean)])
    if not clean.clean:
        return [f"the year's reconciliation found {clean.breaks} break(s) before any was injected"]
    external_id = await edit_latest_invoice(erp)
    step(f"NetSuite invoice {external_id} edited by hand: one line {EDIT} higher (PATCH, as an ERP user would)")
    broken = await reconcile(client, task_queue, first_day, last_day)
    breaks = await ReconciliationStore(store).breaks(broken.run_id)
    block(["", *report_lines(broken, breaks)])
    cases = [await store.case(b.case_id) for b in breaks if b.case_id is not None]
    block(
        [
            "",
            "Exception cases filed:",
            *(
                f"  #{c.id} {c.category.value} ({c.owner.value}, {c.amount_at_risk} at risk): {c.description}"
                for c in cases
            ),
        ]
    )
    step(f"(again: `q2c recon report --run {broken.run_id} --csv breaks.csv`)")
    if broken.breaks_by_kind.get(BreakKind.AMOUNT_MISMATCH) != 1:
        return ["the reconciliation did not find the invoice edited in the ERP"]
    return []


async def edit_latest_invoice(erp: NetSuiteErp) -> str:
    """Raise the first line of the newest invoice (its period is still open) through the record's PATCH."""
    rows = await erp.client.suiteql("SELECT id, externalid, trandate FROM transaction WHERE type = 'CustInvc'")
    if not rows:
        raise DemoFailed("NetSuite has no invoice to edit")
    newest = max(rows, key=lambda row: (date_of(str(row["trandate"])), int(row["id"])))
    record = await erp.client.get_record("invoice", record_key(str(newest["id"])), expand=True)
    lines: list[dict[str, Any]] = [
        {
            key: line[key]
            for key in ("item", "quantity", "rate", "amount", "description", "account", "taxCode")
            if key in line
        }
        for line in record["item"]["items"]
    ]
    first = lines[0]
    first["amount"] = decimal_of(first["amount"]) + EDIT
    first["rate"] = first["amount"] / decimal_of(first.get("quantity", 1) or 1)
    await erp.client.update("invoice", str(newest["id"]), {"item": {"items": lines}})
    return str(newest.get("externalid", newest["id"]))


async def reconcile_the_year(stack: VendorStack, first_day: date, last_day: date) -> list[str]:
    """The demo's hook: `reconcile_demo_year` over the stack's worker and NetSuite adapter."""
    stage_line = f"Reconciliation of {first_day} to {last_day}: Stripe against NetSuite and the revenue engine"
    block(["", stage_line])
    erp = stack.systems.invoicing.ledger if stack.systems.invoicing is not None else None
    store = stack.systems.store
    if not isinstance(erp, NetSuiteErp) or not isinstance(store, OperationalStore):
        return ["the worker has no NetSuite adapter or operational store to reconcile with"]
    try:
        return await reconcile_demo_year(stack.client, stack.settings.task_queue, erp, store, first_day, last_day)
    except (DemoFailed, WorkflowFailureError, httpx.HTTPError) as failure:
        return [f"the reconciliation stopped: {failure}"]
