"""Serve emulator apps on their own ports, in-process, for `q2c sandbox`, the demo and the tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping

import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT_SECONDS = 15.0


class EmulatorFailedToStart(RuntimeError):
    pass


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that embeds it (the q2c CLI, or pytest)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve_embedded(self) -> None:
        # uvicorn exits the process (SystemExit) when it cannot bind; an embedded server must only fail itself.
        with contextlib.suppress(SystemExit):
            await self.serve()


@contextlib.asynccontextmanager
async def serve_apps(apps: Mapping[str, tuple[FastAPI, int]], host: str = "127.0.0.1") -> AsyncIterator[dict[str, str]]:
    """Run each app with uvicorn on its port; yields name → base URL; stops them all on exit."""
    servers: list[tuple[_EmbeddedServer, asyncio.Task[None]]] = []
    urls: dict[str, str] = {}
    try:
        for name, (app, port) in apps.items():
            config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False)
            server = _EmbeddedServer(config)
            task = asyncio.create_task(server.serve_embedded(), name=f"sandbox-{name}")
            servers.append((server, task))
            await _until_started(name, server, task, port)
            urls[name] = f"http://{host}:{port}"
        yield urls
    finally:
        for server, _ in servers:
            server.should_exit = True
        for _, task in servers:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _until_started(name: str, server: _EmbeddedServer, task: asyncio.Task[None], port: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if task.done() or loop.time() > deadline:
            raise EmulatorFailedToStart(f"the {name} emulator did not start on port {port} (is the port in use?)")
        await asyncio.sleep(0.02)
