"""The processes the campaign kills: the worker (`q2c worker` with its settings in the environment) and the
Temporal dev server (on its SQLite file). Both are killed with SIGKILL, as a crash or the OOM killer would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from workers.dev_server import DevServerOptions, dev_server_command, terminate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30.0


_quiet_runtime: list[Runtime] = []


def quiet_runtime() -> Runtime:
    """A Temporal runtime that keeps its retry warnings to itself: the campaign kills the server on purpose."""
    if not _quiet_runtime:
        quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
        _quiet_runtime.append(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet))))
    return _quiet_runtime[0]


class ProcessFailed(RuntimeError):
    """A process the campaign runs did not start, or exited on its own."""


class ChildProcess:
    """One command, started again after each kill; its output appended to `log_file`."""

    def __init__(self, name: str, argv: Sequence[str], log_file: Path, env: Mapping[str, str] | None = None) -> None:
        self.name, self.argv, self.log_file = name, list(argv), log_file
        self.env = dict(env) if env is not None else None
        self.kills = 0
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.returncode

    async def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self._log or self.log_file.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=PROJECT_ROOT,
            start_new_session=True,  # our Ctrl-C is ours: the campaign stops its children itself
        )
        self.starts += 1

    async def until_logged(self, marker: bytes, timeout: float = READY_TIMEOUT_SECONDS) -> bool:
        """Wait until this start has written `marker` to the log (once per start); False if it exited or the
        time ran out first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and self.running:
            if self.log_file.read_bytes().count(marker) >= self.starts:
                return True
            await asyncio.sleep(0.2)
        return False

    async def kill(self) -> None:
        """SIGKILL, no warning, then reap it."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()
        self.kills += 1

    async def stop(self) -> None:
        """SIGTERM and a few seconds to exit cleanly (at the end of a scenario), then SIGKILL."""
        process, self._process = self._process, None
        if process is not None:
            await terminate(process, 10)
        if self._log is not None:
            self._log.close()
            self._log = None


WORKER_READY = b"Running until Ctrl-C."  # what `q2c worker` prints once it polls


def worker_process(log_file: Path, env: Mapping[str, str]) -> ChildProcess:
    """`q2c worker --systems vendors` in a process of its own, configured only by `env` (added to ours)."""
    argv = [sys.executable, "-m", "cli.main", "worker", "--systems", "vendors"]
    return ChildProcess("worker", argv, log_file, os.environ | dict(env))


def dev_server_process(opts: DevServerOptions) -> ChildProcess:
    return ChildProcess("temporal", dev_server_command(opts), opts.log_file)


async def until_server_answers(address: str, server: ChildProcess) -> Client:
    """Wait for the frontend to accept a connection; the connected client (pydantic data converter, as q2c's)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_SECONDS
    while True:
        if not server.running:
            raise ProcessFailed(f"the Temporal dev server exited ({server.exit_code}); see {server.log_file}")
        try:
            return await asyncio.wait_for(
                Client.connect(address, data_converter=pydantic_data_converter, runtime=quiet_runtime()), 2
            )
        except (RuntimeError, OSError, TimeoutError):
            if loop.time() > deadline:
                raise ProcessFailed(f"the Temporal dev server did not answer on {address}") from None
            await asyncio.sleep(0.2)
