"""How `q2c demo` tells its story, whichever systems the worker uses: numbered stages, indented steps, waiting
for sagas, finance approving through the real CLI, each saga's outcome, and how the demo ends."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import cli
from canonical.saga import ClosedWonState, SagaStatus
from cli import output
from cli.context import CliError, q2c_command, run_until_interrupted, ui_link
from cli.sagas import fetch_state, final_state
from workers.dev_server import DB_FILE_NAME, LOG_FILE_NAME
from workers.temporal_settings import CONFIG_ENV, ENV_VARS, TemporalSettings
from workflows.closed_won_client import closed_won_handle

APPROVER = "fiona.finance"
APPROVAL_NOTE = "Strategic logo: 30% discount and net-60 terms approved for year one"
SAGA_TIMEOUT_SECONDS = 60.0
APPROVAL_WAIT_SECONDS = 30.0
PROJECT_ROOT = Path(cli.__file__).resolve().parent.parent


class DemoFailed(Exception):
    """A stage of the demo did not go as the story says; the message tells what was seen instead."""


def stage(number: int, total: int, text: str) -> None:
    output.say()
    output.say(f"[{number}/{total}] {text}")


def step(text: str) -> None:
    output.say(f"      {text}")


def block(lines: Sequence[str]) -> None:
    for line in lines:
        output.say(f"      {line}" if line else "")


def clean_state_dir(state_dir: Path, also: Sequence[str] = ()) -> None:
    """Delete the demo's state dir so every run tells the same story, but only if the demo made it: only the
    dev server's SQLite file and log, files whose names start with one of `also` and folders named in `also` may
    be in it."""
    if not state_dir.exists():
        return
    if not state_dir.is_dir():
        raise CliError(f"--state-dir {state_dir} is a file, not a directory; choose another --state-dir")
    ours = (DB_FILE_NAME, *also)
    foreign = sorted(
        entry.name
        for entry in state_dir.iterdir()
        if not (entry.is_file() and (entry.name.startswith(ours) or entry.name == LOG_FILE_NAME))
        and not (entry.is_dir() and entry.name in also)
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CliError(
            f"refusing to delete --state-dir {state_dir}: it holds files the demo did not create ({shown}); "
            "choose another --state-dir"
        )
    shutil.rmtree(state_dir)


async def wait_for_start(client: Client, settings: TemporalSettings, workflow_id: str, timeout: float) -> float:
    """Poll until the saga exists (something else starts it); the seconds it took. DemoFailed after `timeout`."""
    began = time.monotonic()
    handle = closed_won_handle(client, workflow_id)
    while True:
        try:
            await handle.describe()
            return time.monotonic() - began
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        if time.monotonic() - began > timeout:
            raise DemoFailed(f"no saga {workflow_id} started within {timeout:g} s")
        await asyncio.sleep(0.1)


async def wait_for_result(client: Client, settings: TemporalSettings, workflow_id: str, began: float) -> ClosedWonState:
    step("waiting for the saga's result ...")
    try:
        state = await asyncio.wait_for(final_state(client, settings, workflow_id), SAGA_TIMEOUT_SECONDS)
    except TimeoutError:
        state, _ = await fetch_state(client, settings, workflow_id)
        output.error(f"{workflow_id} did not finish within {SAGA_TIMEOUT_SECONDS:g} s")
        return state
    step(f"{state.status.value}, {time.monotonic() - began:.1f} s after the saga started:")
    return state


async def wait_for_status(
    client: Client, settings: TemporalSettings, workflow_id: str, wanted: SagaStatus
) -> ClosedWonState:
    """Poll the state query until the saga reaches `wanted`; DemoFailed if it ends or parks elsewhere."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + APPROVAL_WAIT_SECONDS
    while True:
        state, execution = await fetch_state(client, settings, workflow_id)
        if state.status is wanted:
            return state
        if execution != "running" or state.status.waits_for_people:
            raise DemoFailed(f"{workflow_id} is {state.status.value} ({execution}), expected {wanted.value}")
        if loop.time() >= deadline:
            raise DemoFailed(
                f"{workflow_id} did not reach {wanted.value} within {APPROVAL_WAIT_SECONDS:g} s "
                f"(status {state.status.value}, step {state.step.value})"
            )
        await asyncio.sleep(0.2)


def approval_reasons(state: ClosedWonState) -> None:
    step(f"{state.status.value}: total contract value {output.money(state.total_contract_value)}; policy says")
    for reason in state.approval_reasons:
        step(f"  - {reason.message}")


async def approve_through_cli(settings: TemporalSettings, workflow_id: str) -> bool:
    """Approve as finance would, with `q2c approve` in a subprocess (this process keeps running the worker)."""
    connection = ["--address", settings.address, "--namespace", settings.namespace]
    connection += ["--task-queue", settings.task_queue, "--ui-url", settings.ui_url]
    command = [*connection, "approve", workflow_id, "--as", APPROVER, "--note", APPROVAL_NOTE]
    step(f"{APPROVER} approves it through the CLI:")
    step(f"  $ {shlex.join(['q2c', *command])}")
    # Only the explicit options count: a user's Q2C_CONFIG or Q2C_TEMPORAL_* must not send it elsewhere.
    environment = {k: v for k, v in os.environ.items() if k != CONFIG_ENV and k not in ENV_VARS.values()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *command,
        cwd=PROJECT_ROOT,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        printed, _ = await asyncio.wait_for(process.communicate(), SAGA_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        output.error(f"`q2c approve` did not answer within {SAGA_TIMEOUT_SECONDS:g} s")
        return False
    for line in printed.decode("utf-8", errors="replace").splitlines():
        step(f"  | {line}")
    if process.returncode != 0:
        output.error(f"`q2c approve` exited with status {process.returncode} (its output is above)")
        return False
    return True


def report(settings: TemporalSettings, workflow_id: str, state: ClosedWonState) -> bool:
    block(output.saga_summary(state, ui_link(settings, workflow_id), indent=""))
    if state.status is not SagaStatus.COMPLETED:
        output.error(f"{workflow_id} ended {state.status.value}, not completed")
        return False
    return True


async def ending(
    settings: TemporalSettings,
    problem: str | None,
    exit_when_done: bool,
    stopping: str,
    tries: Sequence[Sequence[str]],
    extra: Sequence[str] = (),
) -> int:
    """The demo's last words (`problem`: what went wrong, None if nothing did); unless `exit_when_done`, keep
    everything up until Ctrl-C. The exit status: 1 if there was a problem."""
    output.say()
    if problem is None:
        output.say("Both sagas completed: each deal now has its customers, subscription and revenue contract.")
    else:
        output.error(f"the demo did not end as expected: {problem} (see above)")
    code = 0 if problem is None else 1
    if exit_when_done:
        output.say(f"Stopping {stopping} (--exit-when-done).")
        return code
    output.say("While it runs, try from another terminal:")
    for command in tries:
        output.say(f"  {q2c_command(settings, *command)}")
    for line in extra:
        output.say(line)
    output.say()
    output.say(f"Temporal UI: {settings.ui_url}  (Ctrl-C to stop)")
    await run_until_interrupted(stopping)
    return code
