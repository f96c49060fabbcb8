"""`q2c bench NAME [options]`: run one of the benchmark scripts under `bench/`, which print figures, not verdicts.

Each runs as its own program (`python -m bench.<module>`), exactly as the README's commands run it: the
benchmarks drive q2c from outside, like any client, and their options are their own (`q2c bench NAME --help`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys

from cli.context import CliError

BENCHMARKS = {
    "saga-throughput": "bench.saga_throughput",
    "saga-cost": "bench.saga_cost",
    "revenue-engine": "bench.revenue_engine",
    "reconciliation": "bench.reconciliation",
}


async def bench(args: argparse.Namespace) -> int:
    module = BENCHMARKS[args.benchmark]
    if importlib.util.find_spec(module) is None:
        raise CliError(f"the {args.benchmark} benchmark ({module}) is not part of this q2c yet (no module {module})")
    options = [option for option in args.options if option != "--"]
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", module, *options)
    try:
        return await process.wait()
    except asyncio.CancelledError:  # Ctrl-C or SIGTERM: stop the benchmark too, and let it clean up
        process.terminate()
        await process.wait()
        raise
