"""Expected errors are one `q2c: error:` line naming what is wrong, with exit status 2 and no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli.helpers import one_error_line, q2c
from workers.dev_server import free_port


def test_bad_saga_policy_names_the_file(tmp_path: Path) -> None:
    policy = tmp_path / "saga-policy.toml"
    policy.write_text('version = "x"\n[approval]\nmax_discount_percent = "lots"\n', encoding="utf-8")
    result = q2c("--saga-policy", str(policy), "start", "closed-won", "006NW0000000001")
    assert result.returncode == 2
    line = one_error_line(result)
    assert str(policy) in line
    assert "max_discount_percent" in line


def test_saga_policy_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    policy = tmp_path / "saga-policy.toml"
    policy.write_text("version = \n", encoding="utf-8")
    result = q2c("start", "closed-won", "006NW0000000001", "--saga-policy", str(policy))
    assert result.returncode == 2
    assert f"{policy} is not valid TOML" in one_error_line(result)


def test_bad_mapping_rules_stop_dev_before_the_server_starts(tmp_path: Path) -> None:
    rules = tmp_path / "mapping-rules.toml"
    rules.write_text('version = "1"\n', encoding="utf-8")
    state_dir = tmp_path / "state"
    result = q2c("--mapping-rules", str(rules), "dev", "--port", str(free_port()), "--state-dir", str(state_dir))
    assert result.returncode == 2
    assert str(rules) in one_error_line(result)
    assert not state_dir.exists()


def test_unreachable_temporal_names_the_address() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = q2c("sagas", "--address", address)
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"cannot reach Temporal at {address}" in line


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = q2c("--config", str(tmp_path / "q2c.toml"), "sagas")
    assert result.returncode == 2
    assert f"config file {tmp_path / 'q2c.toml'} not found" in one_error_line(result)


def test_demo_on_a_taken_port_says_so_and_suggests_other_ports(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = q2c("demo", "--port", str(port), "--ui-port", str(free_port()), "--state-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"port {port} (gRPC)" in line
    assert "--port" in line
    assert "--ui-port" in line


def sandbox_ports() -> list[str]:
    ports = []
    for option in ("--receiver-port", "--salesforce-port", "--stripe-port", "--netsuite-port"):
        ports += [option, str(free_port())]
    return ports


def test_demo_refuses_to_delete_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    ports = ["--port", str(free_port()), "--ui-port", str(free_port()), *sandbox_ports()]
    result = q2c("demo", *ports, "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert "refusing to delete" in one_error_line(result)
    assert (tmp_path / "notes.txt").exists()


def test_dev_refuses_address() -> None:
    result = q2c("dev", "--address", "temporal.example:7233")
    assert result.returncode == 2
    assert "--address does not apply" in one_error_line(result)


def test_demo_on_a_taken_emulator_port_names_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = [
            "--port",
            str(free_port()),
            "--ui-port",
            str(free_port()),
            *sandbox_ports(),
            "--stripe-port",
            str(port),
        ]
        result = q2c("demo", *ports, "--state-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"port {port} (Stripe emulator)" in line
    assert "--stripe-port" in line


def test_two_options_on_one_port_are_refused(tmp_path: Path) -> None:
    port = str(free_port())
    result = q2c("dev", "--port", port, "--ui-port", str(free_port()), "--netsuite-port", port)
    assert result.returncode == 2
    assert f"--port and --netsuite-port are both {port}" in one_error_line(result)


def test_worker_on_vendors_names_every_missing_variable() -> None:
    result = q2c("worker", "--address", f"127.0.0.1:{free_port()}")  # checked before Temporal is reached
    assert result.returncode == 2
    line = one_error_line(result)
    for name in (
        "Q2C_SALESFORCE_BASE_URL",
        "Q2C_SALESFORCE_CLIENT_ID",
        "Q2C_NETSUITE_ACCOUNT_ID",
        "Q2C_STRIPE_API_KEY",
    ):
        assert name in line
    assert "q2c sandbox" in line


def test_worker_on_vendors_names_the_one_missing_variable() -> None:
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
        "Q2C_STRIPE_BASE_URL": "http://127.0.0.1:3",
    }
    result = q2c("worker", env=env)
    assert result.returncode == 2
    line = one_error_line(result)
    assert "Q2C_STRIPE_API_KEY is not set" in line
    assert "Q2C_NETSUITE_TOKEN_SECRET" in line  # tba needs all four
    assert "Q2C_SALESFORCE" not in line


def test_sandbox_seed_without_a_sandbox_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = q2c("sandbox", "seed", "--salesforce-url", url)
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"cannot reach the Salesforce emulator at {url}" in line


def test_sandbox_refuses_a_postgres_url_that_is_not_one(tmp_path: Path) -> None:
    result = q2c("sandbox", "--state-dir", str(tmp_path), "--postgres-url", "mysql://user:pw@db/q2c")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "--postgres-url must be a postgresql:// URL" in line
    assert "pw" not in line


def test_a_worker_waits_for_temporal_for_as_long_as_it_is_told_then_names_the_address() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = q2c("worker", "--systems", "memory", "--address", address, "--wait-for-temporal", "2")
    assert result.returncode == 2
    assert f"Waiting up to 2 s for Temporal at {address}" in result.stdout
    assert f"cannot reach Temporal at {address}" in one_error_line(result)
