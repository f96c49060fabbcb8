"""Every command explains itself: `--help` exits 0 and names the command's options and an example."""

from __future__ import annotations

import pytest

from tests.cli.helpers import no_traceback, q2c

SANDBOX_PORTS = [
    "--systems {sandbox,memory}",
    "--receiver-port",
    "--salesforce-port",
    "--stripe-port",
    "--netsuite-port",
]
GLOBAL_OPTIONS = ["--config", "--address", "--namespace", "--task-queue", "--saga-policy", "--mapping-rules"]

COMMAND_OPTIONS = {
    "demo": ["--port", "--ui-port", "--state-dir", "--exit-when-done", "in-memory", *SANDBOX_PORTS, "test clock"],
    "dev": ["--port", "--ui-port", "--state-dir", "in-memory", *SANDBOX_PORTS],
    "worker": ["--systems {vendors,memory}", "in-memory", "search attributes", "Q2C_SALESFORCE_*", "q2c sandbox"],
    "sandbox": [
        "--state-dir",
        "--salesforce-port",
        "--stripe-port",
        "--netsuite-port",
        "--outbound-listener",
        "--postgres-url",
        "seed",
        "idempotent",
        "fault injection",
    ],
    "start": ["closed-won", "OPPORTUNITY_ID", "--wait"],
    "sagas": ["--stuck", "--limit"],
    "show": ["SAGA"],
    "approvals": ["q2c approvals"],
    "approve": ["SAGA", "--as", "--note"],
    "reject": ["SAGA", "--as", "--note"],
    "resubmit": ["SAGA", "--as", "--note"],
}


def test_top_level_help_lists_commands_and_global_options() -> None:
    result = q2c("--help")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    for name in [*COMMAND_OPTIONS, *GLOBAL_OPTIONS]:
        assert name in result.stdout
    assert "examples:" in result.stdout


@pytest.mark.parametrize("command", sorted(COMMAND_OPTIONS))
def test_command_help_names_its_options_and_examples(command: str) -> None:
    result = q2c(command, "--help")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert f"usage: q2c {command}" in result.stdout
    for option in [*COMMAND_OPTIONS[command], *GLOBAL_OPTIONS]:
        assert option in result.stdout, f"{option} missing from `q2c {command} --help`"
    assert f"examples:\n  q2c {command}" in result.stdout


def test_no_command_prints_help_and_fails() -> None:
    result = q2c()
    assert result.returncode == 2
    assert "commands:" in result.stdout


def test_sandbox_seed_help_names_the_urls() -> None:
    result = q2c("sandbox", "seed", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: q2c sandbox seed" in result.stdout
    for option in ["--salesforce-url", "--stripe-url", "--netsuite-url", "--mapping-rules", "Running it again creates"]:
        assert option in result.stdout
