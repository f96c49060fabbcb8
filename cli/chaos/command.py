"""`q2c chaos`: run the fault campaign, print each scenario's figures and one JSON line; exit 1 if anything was
lost, duplicated, left stuck or unbalanced (a problem), or a standard saga parked or reconciliation broke (a
finding)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli import output
from cli.chaos.campaign import FULL_SAGAS, SHORT_SAGAS, chosen, run_campaign, settle_seconds_for
from cli.chaos.figures import json_line, table
from cli.context import Globals

EXIT_FOUND_PROBLEMS = 1


async def chaos(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    sagas = args.sagas or (SHORT_SAGAS if args.short else FULL_SAGAS)
    scenarios = chosen(args.scenario)
    output.say(
        f"Fault campaign: {', '.join(scenarios)}; {sagas} deals each, fault rate {args.fault_rate:g}, seed {args.seed}"
        f" (state in {args.state_dir})"
    )
    rows = await run_campaign(
        scenarios,
        sagas=sagas,
        fault_rate=args.fault_rate,
        seed=args.seed,
        state_dir=Path(args.state_dir),
        rules=options.rules(),
        policy=options.policy(),
        settle_seconds=args.settle_seconds or settle_seconds_for(sagas),
        short=args.short,
    )
    for line in table(rows):
        output.say(line)
    for row in rows:
        detail = ", ".join(f"{kind} {times}" for kind, times in row.faults.items())
        output.say(f"{row.scenario}: {detail}")
        for problem in row.problems:
            output.say(f"  PROBLEM: {problem}")
        for finding in row.findings:
            output.say(f"  FINDING: {finding}")
    print(json_line(rows, args.seed), flush=True)
    return 0 if all(row.ok for row in rows) else EXIT_FOUND_PROBLEMS
