"""A finance and ops session against `q2c dev`: start, list, show, approve/reject, resubmit, stop with Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.helpers import errors_of, no_traceback, one_error_line, q2c, spawn_q2c, stop, wait_for_line
from workers.dev_server import DevServerOptions, TemporalDevServer, free_port


@dataclass(frozen=True)
class Dev:
    process: subprocess.Popen[bytes]
    out: Path
    port: int
    ui_port: int
    banner: str

    def q2c(self, *args: str) -> subprocess.CompletedProcess[str]:
        return q2c("--address", f"127.0.0.1:{self.port}", "--ui-url", f"http://127.0.0.1:{self.ui_port}", *args)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    tmp = tmp_path_factory.mktemp("q2c-dev")
    port, ui_port = free_port(), free_port()
    out = tmp / "dev.out"
    process = spawn_q2c(
        "dev",
        "--systems",
        "memory",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--state-dir",
        str(tmp / "state"),
        out=out,
    )
    try:
        banner = wait_for_line(process, out, "Running until Ctrl-C.")
        yield Dev(process, out, port, ui_port, banner)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(dev: Dev, saga: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = dev.q2c("show", saga).stdout
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{saga} never showed {text!r}; last:\n{shown}")


def test_banner_says_where_everything_is(dev: Dev) -> None:
    for expected in (
        f"Temporal gRPC         127.0.0.1:{dev.port}",
        f"Temporal UI           http://127.0.0.1:{dev.ui_port}",
        "Namespace             default",
        "Task queue            q2c",
        "temporal.sqlite",
        "Mapping rules         version 2026.11.1",
        "006NW0000000001",
        "006NW0000000003",
        "006NW0000000004",
        "in-memory CRM, ERP, billing and revenue systems",
        f"q2c --address 127.0.0.1:{dev.port} --ui-url http://127.0.0.1:{dev.ui_port} start closed-won 006NW0000000001",
        "sagas --stuck",
    ):
        assert expected in dev.banner


def test_start_waits_for_the_reference_deal_and_never_starts_twice(dev: Dev) -> None:
    result = dev.q2c("start", "closed-won", "006NW0000000001", "--wait")
    assert result.returncode == 0, result.stderr
    assert "Started saga closed-won/006NW0000000001" in result.stdout
    assert f"http://127.0.0.1:{dev.ui_port}/namespaces/default/workflows/closed-won%2F006NW0000000001" in result.stdout
    assert "ended completed" in result.stdout
    assert "Subscription           sub_mem00001" in result.stdout

    again = dev.q2c("start", "closed-won", "006NW0000000001")
    assert again.returncode == 0
    assert "a saga for this opportunity already exists; nothing new was started" in again.stdout

    shown = dev.q2c("show", "006NW0000000001")
    assert shown.returncode == 0
    assert "Status                 completed" in shown.stdout
    assert "Revenue contract       RC-00001" in shown.stdout


def test_finance_rejects_a_non_standard_deal(dev: Dev) -> None:
    assert dev.q2c("start", "closed-won", "006NW0000000003").returncode == 0
    wait_until(dev, "006NW0000000003", "awaiting_approval")

    pending = dev.q2c("approvals")
    assert pending.returncode == 0
    assert "Saga closed-won/006NW0000000003" in pending.stdout
    assert "Total contract value  210,000.00 USD" in pending.stdout
    assert "- discount 30% exceeds 15%" in pending.stdout
    assert "approve closed-won/006NW0000000003 --as USER" in pending.stdout

    by_owner = dev.q2c("approve", "closed-won/006NW0000000003", "--as", "sam.seller")
    assert by_owner.returncode == 1
    assert one_error_line(by_owner) == "q2c: error: refused: sam.seller owns this deal and may not approve it"

    without_role = dev.q2c("approve", "006NW0000000003", "--as", "olga.ops")
    assert without_role.returncode == 1
    assert "olga.ops does not have the finance role" in one_error_line(without_role)

    no_note = dev.q2c("reject", "006NW0000000003", "--as", "fiona.finance")
    assert no_note.returncode == 2
    assert "--note" in no_note.stderr

    rejected = dev.q2c("reject", "006NW0000000003", "--as", "fiona.finance", "--note", "discount too deep")
    assert rejected.returncode == 0, rejected.stderr
    assert "Rejected closed-won/006NW0000000003 as fiona.finance" in rejected.stdout

    shown = wait_until(dev, "006NW0000000003", "Status                 rejected")
    assert "rejected by fiona.finance" in shown
    assert "discount too deep" in shown

    second = dev.q2c("approve", "006NW0000000003", "--as", "carl.controller")
    assert second.returncode == 1
    assert "refused:" in one_error_line(second)


def test_incomplete_deal_waits_for_a_fix(dev: Dev) -> None:
    assert dev.q2c("start", "closed-won", "006NW0000000004").returncode == 0
    shown = wait_until(dev, "006NW0000000004", "needs_attention")
    assert "field tax_id" in shown
    assert "field billing_contact" in shown
    assert "resubmit closed-won/006NW0000000004" in shown

    deadline = time.monotonic() + 10  # the list is eventually consistent
    stuck = dev.q2c("sagas", "--stuck")
    while "closed-won/006NW0000000004" not in stuck.stdout and time.monotonic() < deadline:
        time.sleep(0.3)
        stuck = dev.q2c("sagas", "--stuck")
    assert stuck.returncode == 0
    assert "closed-won/006NW0000000004  needs_attention" in stuck.stdout
    assert "closed-won/006NW0000000001" not in stuck.stdout

    resubmitted = dev.q2c("resubmit", "006NW0000000004", "--as", "olga.ops", "--note", "nothing fixed yet")
    assert resubmitted.returncode == 0, resubmitted.stderr
    assert "resubmitted by olga.ops" in resubmitted.stdout

    listed = dev.q2c("sagas", "--limit", "1")
    assert listed.returncode == 0
    assert "showing the newest 1" in listed.stdout


def test_unknown_saga_is_one_line(dev: Dev) -> None:
    for command in (("show", "006NOSUCHTHING"), ("approve", "006NOSUCHTHING", "--as", "fiona.finance")):
        result = dev.q2c(*command)
        assert result.returncode == 2
        assert "no saga closed-won/006NOSUCHTHING in namespace default" in one_error_line(result)


def test_worker_runs_against_the_configured_temporal_until_interrupted(dev: Dev, tmp_path: Path) -> None:
    out = tmp_path / "worker.out"
    worker = spawn_q2c(
        "worker", "--systems", "memory", "--address", f"127.0.0.1:{dev.port}", "--task-queue", "q2c-second", out=out
    )
    try:
        banner = wait_for_line(worker, out, "Running until Ctrl-C.")
    finally:
        worker.send_signal(signal.SIGINT)
        code = worker.wait(timeout=30)
    assert "Task queue            q2c-second" in banner
    assert "Mapping rules         version 2026.11.1" in banner
    assert code == 130
    assert "Traceback" not in errors_of(out).read_text(encoding="utf-8")
    assert "Stopping the worker ..." in out.read_text(encoding="utf-8")


def test_worker_on_vendors_reads_the_q2c_variables(dev: Dev, tmp_path: Path) -> None:
    env = {
        "Q2C_SALESFORCE_BASE_URL": "http://127.0.0.1:1",
        "Q2C_SALESFORCE_CLIENT_ID": "app",
        "Q2C_SALESFORCE_CLIENT_SECRET": "secret",
        "Q2C_NETSUITE_BASE_URL": "http://127.0.0.1:2",
        "Q2C_NETSUITE_ACCOUNT_ID": "1234567_SB1",
        "Q2C_NETSUITE_AUTH": "tba",
        "Q2C_NETSUITE_CONSUMER_KEY": "ck",
        "Q2C_NETSUITE_CONSUMER_SECRET": "cs",
        "Q2C_NETSUITE_TOKEN_ID": "ti",
        "Q2C_NETSUITE_TOKEN_SECRET": "ts",
        "Q2C_STRIPE_BASE_URL": "http://127.0.0.1:3",
        "Q2C_STRIPE_API_KEY": "sk_test_x",
        "Q2C_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'q2c.sqlite'}",
    }
    out = tmp_path / "worker.out"
    worker = spawn_q2c("worker", "--address", f"127.0.0.1:{dev.port}", "--task-queue", "q2c-vendors", out=out, env=env)
    try:
        banner = wait_for_line(worker, out, "Running until Ctrl-C.")
    finally:
        code = stop(worker)
    assert code == 130
    words = " ".join(banner.split())
    for expected in (
        "Salesforce http://127.0.0.1:1 (client credentials, client app)",
        "NetSuite http://127.0.0.1:2 (account 1234567_SB1, tba authentication)",
        "Stripe http://127.0.0.1:3",
        f"Database (store, revenue engine) {env['Q2C_DATABASE_URL']}",
        "invoice → revenue",
    ):
        assert expected in words
    assert "go to q2c's built-in revenue engine" in " ".join(banner.split())  # the note, wrapped
    assert "Traceback" not in errors_of(out).read_text(encoding="utf-8")


def test_ctrl_c_stops_dev_cleanly(dev: Dev) -> None:
    dev.process.send_signal(signal.SIGINT)
    code = dev.process.wait(timeout=30)
    assert code == 130
    assert "Traceback" not in errors_of(dev.out).read_text(encoding="utf-8")
    assert "Stopping the worker and the Temporal dev server ..." in dev.out.read_text(encoding="utf-8")
    unreachable = q2c("sagas", "--address", f"127.0.0.1:{dev.port}")  # the server stopped too
    assert unreachable.returncode == 2
    no_traceback(unreachable)


async def test_a_worker_started_before_its_server_polls_once_the_server_is_up(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "worker.out"
    worker = spawn_q2c("worker", "--systems", "memory", "--address", f"127.0.0.1:{port}", out=out)
    try:
        wait_for_line(worker, out, f"Waiting up to 300 s for Temporal at 127.0.0.1:{port}")
        options = DevServerOptions(state_dir=tmp_path / "server", port=port, ui_port=free_port(), persist=False)
        async with TemporalDevServer(options):
            banner = await asyncio.to_thread(wait_for_line, worker, out, "Running until Ctrl-C.")
    finally:
        code = stop(worker)
    assert "Task queue" in banner
    assert code == 130
    assert "Traceback" not in errors_of(out).read_text(encoding="utf-8")
