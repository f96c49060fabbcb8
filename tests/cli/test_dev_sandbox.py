"""`q2c dev` on the vendor sandbox (the default): closing a deal in the Salesforce emulator starts its saga through
the receiver, the worker provisions the emulators, and state survives a restart."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from sandbox.salesforce.seed import close_opportunity, get_token
from tests.cli.helpers import errors_of, q2c, spawn_q2c, stop, wait_for_line
from workers.dev_server import free_port

CLIENT_ID, CLIENT_SECRET = "q2c-sandbox-consumer-key", "q2c-sandbox-consumer-secret"


def close(salesforce: str, opportunity: str) -> None:
    async def closing() -> None:
        await close_opportunity(salesforce, await get_token(salesforce, CLIENT_ID, CLIENT_SECRET), opportunity)

    asyncio.run(closing())


def test_dev_runs_the_sandbox_and_a_deal_closed_in_salesforce_starts_its_saga(tmp_path: Path) -> None:
    names = ("port", "ui-port", "receiver-port", "salesforce-port", "stripe-port", "netsuite-port")
    ports = {name: free_port() for name in names}
    args = ["dev", "--state-dir", str(tmp_path / "state")]
    args += [arg for name, port in ports.items() for arg in (f"--{name}", str(port))]
    out = tmp_path / "dev.out"
    process = spawn_q2c(*args, out=out)
    salesforce = f"http://127.0.0.1:{ports['salesforce-port']}"
    temporal = ["--address", f"127.0.0.1:{ports['port']}"]
    try:
        banner = wait_for_line(process, out, "Running until Ctrl-C.")
        receiver = f"http://127.0.0.1:{ports['receiver-port']}/salesforce/outbound-messages"
        for expected in (
            f"Receiver           {receiver}",
            f"Salesforce         {salesforce}",
            f"a deal set to Closed Won in Salesforce is sent to {receiver}",
            f"export Q2C_STRIPE_BASE_URL=http://127.0.0.1:{ports['stripe-port']}",
            "Q2C_NETSUITE_AUTH=tba",
            "temporal.sqlite",
            "close 006NW0000000001; close 006NW0000000003; close 006NW0000000004",
        ):
            assert expected in banner, expected
        assert "go to q2c's built-in revenue engine" in " ".join(banner.split())  # the note, wrapped

        close(salesforce, "006NW0000000001")
        deadline, shown = time.monotonic() + 30, ""
        while time.monotonic() < deadline and "Status                 completed" not in shown:
            time.sleep(0.3)
            shown = q2c(*temporal, "show", "006NW0000000001").stdout
        assert "Status                 completed" in shown, shown
        assert "Subscription           sub_" in shown
        assert "ERP customer           1" in shown
    finally:
        code = stop(process, signal.SIGINT)
    assert code == 130
    text = out.read_text(encoding="utf-8")
    assert "Stopping the worker, the receiver, the emulators and the Temporal dev server ..." in text
    assert "Traceback" not in errors_of(out).read_text(encoding="utf-8")
