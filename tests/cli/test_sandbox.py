"""`q2c sandbox`: the emulators start on their ports, are seeded once however often seeding runs, print what points
q2c's adapters at them, and stop on SIGTERM and Ctrl-C."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx
import stripe

from adapters.salesforce.crm import SalesforceCrm
from cli.vendor_env import adapter_env, settings_from_env
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.stack import RunningSandbox
from sandbox.stripe.settings import StripeEmulatorSettings
from tests.cli.helpers import errors_of, exports, q2c, spawn_q2c, stop, wait_for_line
from workers.dev_server import free_port
from workers.vendor_systems import sandbox_vendor_settings

VENDORS = ("salesforce", "stripe", "netsuite")
CLIENT = {"client_id": "q2c-sandbox-consumer-key", "client_secret": "q2c-sandbox-consumer-secret"}


def start(tmp_path: Path, ports: dict[str, int], out: Path):
    args = ["sandbox", "--state-dir", str(tmp_path / "state")]
    for vendor, port in ports.items():
        args += [f"--{vendor}-port", str(port)]
    process = spawn_q2c(*args, out=out)
    return process, wait_for_line(process, out, "Running until Ctrl-C.")


def northwind_accounts(salesforce: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=salesforce, timeout=10) as http:
        token = http.post("/services/oauth2/token", data={"grant_type": "client_credentials", **CLIENT}).json()
        response = http.get(
            "/services/data/v61.0/query",
            params={"q": "SELECT Id, Name FROM Account WHERE Name = 'Northwind Analytics Inc.'"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
    response.raise_for_status()
    records: list[dict[str, object]] = response.json()["records"]
    return records


def stripe_meters(url: str) -> list[str]:
    client = stripe.StripeClient("sk_test_q2c_sandbox", base_addresses={"api": url})
    return [meter.event_name for meter in client.v1.billing.meters.list(params={"limit": 100}).data]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_sandbox_serves_seeds_once_and_stops(tmp_path: Path) -> None:
    ports = {vendor: free_port() for vendor in VENDORS}
    urls = {vendor: f"http://127.0.0.1:{port}" for vendor, port in ports.items()}
    process, banner = start(tmp_path, ports, tmp_path / "first.out")
    try:
        for expected in (
            f"Salesforce         {urls['salesforce']}  (org 00DNW0000000001)",
            f"export Q2C_SALESFORCE_BASE_URL={urls['salesforce']}",
            "export Q2C_SALESFORCE_CLIENT_SECRET=q2c-sandbox-consumer-secret",
            f"export Q2C_NETSUITE_BASE_URL={urls['netsuite']}",
            "export Q2C_NETSUITE_AUTH=tba",
            "export Q2C_NETSUITE_TOKEN_SECRET=q2c-sandbox-token-secret",
            f"export Q2C_STRIPE_BASE_URL={urls['stripe']}",
            "export Q2C_STRIPE_API_KEY=sk_test_q2c_sandbox",
            f"{urls['stripe']}/_sandbox/faults",
            f"{urls['netsuite']}/_sandbox/faults",
            "salesforce.sqlite, stripe.sqlite, netsuite.sqlite",
            "Outbound Messages  not sent (no --outbound-listener)",
            "006NW0000000003",
        ):
            assert expected in banner

        # It answers on every port, in each vendor's API.
        assert len(northwind_accounts(urls["salesforce"])) == 1
        assert stripe_meters(urls["stripe"]) == ["api_calls"]
        faults = httpx.get(f"{urls['netsuite']}/_sandbox/faults", timeout=10).json()
        assert faults["config"]["rules"] == []

        # The printed variables reach the emulators through q2c's own adapters.
        crm, _, _ = settings_from_env(exports(banner))
        async with SalesforceCrm(crm) as salesforce:
            deal = await salesforce.fetch_deal("006NW0000000001")
        assert deal.account.name == "Northwind Analytics Inc."
        assert deal.opportunity.stage == "Negotiation/Review"

        # Seeding a running sandbox again, twice, creates nothing.
        seed_args = [arg for vendor in VENDORS for arg in (f"--{vendor}-url", urls[vendor])]
        for _ in range(2):
            seeded = q2c("sandbox", "seed", *seed_args)
            assert seeded.returncode == 0, seeded.stderr
            assert "Seeded the sandbox" in seeded.stdout
        assert len(northwind_accounts(urls["salesforce"])) == 1
        assert stripe_meters(urls["stripe"]) == ["api_calls"]
    finally:
        code = stop(process, signal.SIGTERM)
    assert code == 143
    assert "Stopping the emulators ..." in (tmp_path / "first.out").read_text(encoding="utf-8")
    assert "Traceback" not in errors_of(tmp_path / "first.out").read_text(encoding="utf-8")
    assert not any(listening(port) for port in ports.values())

    # Started again on the same state, it seeds again: still one of everything; Ctrl-C stops it.
    process, _ = start(tmp_path, ports, tmp_path / "second.out")
    try:
        assert len(northwind_accounts(urls["salesforce"])) == 1
        assert stripe_meters(urls["stripe"]) == ["api_calls"]
    finally:
        code = stop(process, signal.SIGINT)
    assert code == 130
    assert "Traceback" not in errors_of(tmp_path / "second.out").read_text(encoding="utf-8")


def test_sandbox_on_a_taken_port_says_which(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = ["--salesforce-port", str(free_port()), "--stripe-port", str(free_port())]
        result = q2c("sandbox", "--state-dir", str(tmp_path), *others, "--netsuite-port", str(port))
    assert result.returncode == 2
    assert f"port {port} (NetSuite emulator)" in result.stderr
    assert "--netsuite-port" in result.stderr
    assert not (tmp_path / "netsuite.sqlite").exists()


def test_the_printed_variables_give_back_the_adapters_settings() -> None:
    running = RunningSandbox(
        urls={"salesforce": "http://127.0.0.1:1", "stripe": "http://127.0.0.1:2", "netsuite": "http://127.0.0.1:3"},
        salesforce=SalesforceEmulatorSettings(),
        stripe=StripeEmulatorSettings(),
        netsuite=NetSuiteEmulatorSettings(),
        faults={},
        state_dir=Path(),
    )
    settings = sandbox_vendor_settings(running, stripe_test_clock="clock_123")
    env = adapter_env(settings)
    assert env["Q2C_STRIPE_TEST_CLOCK"] == "clock_123"
    assert settings_from_env(env) == settings
