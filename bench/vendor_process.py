"""The Salesforce, Stripe and NetSuite emulators in a process of their own, so the benchmark can tell their CPU
time from the worker's (in production the vendors are not in the worker's process either).

The child runs `sandbox.stack.run_sandbox` on the given ports and state folder, prints one line once it serves,
and stops when its standard input closes. The parent gets a `RunningSandbox` built from the same default
settings (the emulators' development credentials are fixed), so the adapters' settings come out as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.stack import VENDORS, RunningSandbox, SandboxOptions, run_sandbox
from sandbox.stripe.settings import StripeEmulatorSettings
from workers.dev_server import free_port

READY = "emulators ready"
STARTUP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class EmulatorProcess:
    pid: int
    sandbox: RunningSandbox


@contextlib.asynccontextmanager
async def emulator_process(state_dir: Path) -> AsyncIterator[EmulatorProcess]:
    """Start the emulators in a child process on free ports; stop it on exit."""
    ports = {vendor: free_port() for vendor in VENDORS}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.vendor_process",
        str(state_dir),
        json.dumps(ports),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_SECONDS)
        if not line.decode().startswith(READY):
            raise RuntimeError(f"the emulators did not start (exit status {process.returncode})")
        urls = {vendor: f"http://127.0.0.1:{port}" for vendor, port in ports.items()}
        sandbox = RunningSandbox(
            urls,
            SalesforceEmulatorSettings(),
            StripeEmulatorSettings(),
            NetSuiteEmulatorSettings(),
            faults={},
            state_dir=state_dir,
        )
        yield EmulatorProcess(process.pid, sandbox)
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def serve(state_dir: Path, ports: dict[str, int]) -> None:
    async with run_sandbox(SandboxOptions(state_dir=state_dir, ports=ports)):
        print(READY, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), json.loads(sys.argv[2])))
