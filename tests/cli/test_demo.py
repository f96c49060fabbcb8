"""The fast path: `q2c demo --systems memory` tells the closed-won story on in-memory systems."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.helpers import no_traceback, q2c
from workers.dev_server import free_port

SANDBOX_PORTS = ("salesforce-port", "stripe-port", "netsuite-port")


def test_demo_on_memory_runs_both_sagas_to_completion(tmp_path: Path) -> None:
    port, ui_port, receiver_port = free_port(), free_port(), free_port()
    state_dir = tmp_path / "demo"
    state_dir.mkdir()
    (state_dir / "temporal.sqlite").write_bytes(b"left over from an earlier run")  # the demo starts clean

    result = q2c(
        "demo",
        "--systems",
        "memory",
        "--exit-when-done",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--receiver-port",
        str(receiver_port),
        "--state-dir",
        str(state_dir),
        timeout=120,
    )

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    no_traceback(result)
    assert result.stderr == ""
    # Both sagas completed, each with its summary.
    assert "saga started closed-won/006NW0000000001" in out
    assert "saga started closed-won/006NW0000000003" in out
    assert out.count("Status                 completed") == 2
    assert "Total contract value   123,000.00 USD" in out
    assert "Subscription           sub_mem00001" in out
    assert "Subscription           sub_mem00002" in out
    assert "Revenue contract       RC-00001" in out
    assert "Mapping rules version  2026.11.1" in out
    # The non-standard deal waited for finance, who approved it with `q2c approve`.
    assert "awaiting_approval" in out
    assert "discount 30% exceeds 15%" in out
    assert f"$ q2c --address 127.0.0.1:{port} --namespace default --task-queue q2c" in out
    assert "approve closed-won/006NW0000000003 --as fiona.finance --note" in out
    assert "| Approved closed-won/006NW0000000003 as fiona.finance" in out
    assert "approved by fiona.finance" in out
    # What the systems hold, and links to the Temporal UI.
    assert "sub_mem00002  cus_mem00002  CTR-006NW0000000003  1      active" in out
    assert "006NW0000000004  -          nothing written back (no saga ended for it)" in out
    ui = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/closed-won%2F"
    assert f"{ui}006NW0000000001" in out
    assert f"{ui}006NW0000000003" in out
    assert "Both sagas completed" in out
    assert (state_dir / "temporal.sqlite").stat().st_size > 100
    # A third deal is left waiting in the finance console, whose address and demo sign-ins are printed.
    console = f"http://127.0.0.1:{receiver_port}/console/"
    assert f"Finance console  {console}" in out
    assert "fiona.finance / fiona-demo-password  (approver)" in out
    assert f"it waits in the finance console's approvals inbox,\n        {console}approvals" in out
    assert "the console's inbox lists closed-won/006NW0000000005 with its reasons" in out


def test_demo_over_http_closes_deals_in_salesforce_and_bills_the_year_in_stripe(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("port", "ui-port", "receiver-port", *SANDBOX_PORTS)}
    state_dir = tmp_path / "demo"
    state_dir.mkdir()
    (state_dir / "stripe.sqlite").write_bytes(b"left over from an earlier run")  # the demo starts clean

    result = q2c(
        "demo",
        "--exit-when-done",
        "--state-dir",
        str(state_dir),
        *(arg for name, port in ports.items() for arg in (f"--{name}", str(port))),
        timeout=120,
    )

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    no_traceback(result)
    assert "q2c: error" not in result.stderr
    # Both deals were closed in Salesforce; its Outbound Message reached the receiver, which started each saga.
    receiver = f"http://127.0.0.1:{ports['receiver-port']}/salesforce/outbound-messages"
    assert f"Salesforce sends an Outbound Message to the receiver, {receiver}" in out
    assert "saga started closed-won/006NW0000000001" in out
    assert "saga started closed-won/006NW0000000003" in out
    assert out.count("Status                 completed") == 2
    assert "Total contract value   123,000.00 USD" in out
    assert re.search(r"Subscription           sub_\w+", out)
    # The non-standard deal waited for finance, who approved it with `q2c approve`.
    assert "awaiting_approval" in out
    assert f"$ q2c --address 127.0.0.1:{ports['port']} --namespace default --task-queue q2c" in out
    assert "| Approved closed-won/006NW0000000003 as fiona.finance" in out
    # The contract year on the test clock: each month's usage, its payments, its close and the next invoices,
    # every invoice and payment through its own saga (started by Stripe's webhooks at the receiver).
    assert re.search(r"2027-01    800,000 API calls · 2 payment\(s\) applied · closed: q2c-close-2027-01-US01-USD", out)
    assert re.search(r"2027-02  1,200,000 API calls · 2 payment\(s\) applied", out)
    assert "26 invoices posted, 26 payments applied, 12 months closed" in out
    # The mid-July expansion: its saga (started by the amendment's Outbound Message), prorated at once.
    assert "2027-07-15 amendment: saga amendment/006NW0000000002 completed" in out
    lineage = "v2   amendment/006NW0000000002: effective 2027-07-15, billed at once 3,564.51 USD, ASC 606 treatment"
    assert f"{lineage} prospective" in out
    assert re.search(r"2027-07-15  in_\w+\s+3,564\.51 USD  \(lines 4, 5\)", out)
    # Revenue: Northwind's year recognises exactly what it was invoiced; the ERP agrees with the engine.
    assert re.search(r"CTR-006NW0000000001 .* 170,464\.51\n", out)  # 134,400.00 + 36,064.51 for the expansion
    assert re.search(r"Total\s+2027-12\s+496\.06\s+33,000\.00\s+33,496\.06\s+0\.00", out)
    trial_balance = out[out.index("Trial balance through Jan 2028") :]
    assert re.search(r"4100\s+Professional services revenue\s+-16,043\.48\s+-16,043\.48\s+yes", trial_balance)
    assert re.search(r"1000\s+Cash\s+380,464\.51\s+380,464\.51\s+yes", trial_balance)
    assert " NO\n" not in trial_balance[: trial_balance.index("The year, to check")]
    exported = json.loads((state_dir / "reports" / "revenue-2027.json").read_text(encoding="utf-8"))
    assert len(exported["documents"]) == 25  # those issued in 2027: the 26th, December's usage, is dated 2028-01-01
    assert (state_dir / "reports" / "revenue-2027.svg").read_text(encoding="utf-8").startswith("<?xml")
    # `q2c revenue` reads the same books back from the demo's database and exports them again, identically.
    again = q2c(
        "revenue", "--year", "2027", "--database", f"sqlite:///{state_dir / 'q2c.sqlite'}", "--export", str(tmp_path)
    )
    assert again.returncode == 0, again.stderr
    assert "Revenue waterfall 2027" in again.stdout
    assert re.search(r"CTR-006NW0000000001\s+2027-07\s", again.stdout)  # the roll-forward per contract too
    assert json.loads((tmp_path / "revenue-2027.json").read_text(encoding="utf-8")) == exported
    missing = q2c("revenue", "--year", "2027", "--database", f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert missing.returncode == 2 and "no q2c database at" in missing.stderr
    assert not (tmp_path / "none.sqlite").exists()
    northwind = out[out.index("Northwind Analytics Inc.  (CRM account 001NW0000000001, test clock") :]
    invoices = re.search(r"Invoices \((\d+);", northwind)
    assert invoices is not None
    assert int(invoices.group(1)) >= 12
    assert "invoiced in all: 170,464.51 USD = 144,064.51 in advance + 11,400.00 usage + 15,000.00 one-time" in out
    assert "Oct 2027: 2,400,000 units, 2,800.00" in out
    # Salesforce holds the outcome the sagas wrote back; NetSuite holds both customers.
    assert "Q2C_Status__c               completed" in out
    assert re.search(r"Q2C_Subscription_Id__c      sub_\w+", out)
    assert "Q2C_Saga_Id__c              closed-won/006NW0000000003" in out
    assert "006NW0000000004  Fabrikam Labs — starter  [Negotiation/Review]" in out
    netsuite = out[out.index("NetSuite: customers (SuiteQL)") :]
    assert re.search(r"Northwind Analytics Inc\.\s+001NW0000000001\s+active", netsuite)
    assert re.search(r"Contoso Robotics Inc\.\s+001NW0000000002\s+active\s+.*Net 60", netsuite)
    assert "Both sagas completed" in out
    assert (state_dir / "stripe.sqlite").stat().st_size > 1000
    # A third deal, closed in Salesforce after the year, is left waiting in the finance console.
    console = f"http://127.0.0.1:{ports['receiver-port']}/console/"
    assert f"Finance console         {console}" in out
    assert "saga started closed-won/006NW0000000005" in out
    assert "the console's inbox lists closed-won/006NW0000000005 with its reasons" in out
