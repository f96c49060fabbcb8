"""`q2c receiver`: the trigger receiver (and, with Q2C_CONSOLE_SECRET, the finance console) as a service.

Configured by the environment (receiver.environment) and the global Temporal options. It connects to Temporal
lazily, per event: started before Temporal is reachable, or during an outage, it answers 503 so the vendors
retry, and it recovers without a restart.
"""

from __future__ import annotations

import argparse

from temporalio.client import Client

from cli import output
from cli.context import CliError, Globals, connect, run_until_interrupted
from receiver.app import create_receiver_app
from receiver.environment import ReceiverSettingsError, receiver_settings_from_env
from sandbox.servers import EmulatorFailedToStart, serve_apps
from workers.telemetry import load_telemetry_settings, telemetry


async def receiver(args: argparse.Namespace) -> int:
    with telemetry(load_telemetry_settings()):  # Q2C_OTEL_EXPORTER, Q2C_METRICS_ADDRESS
        return await _receiver(args)


async def _receiver(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    temporal_settings = options.settings()
    try:
        settings = receiver_settings_from_env(temporal_settings.task_queue)
    except ReceiverSettingsError as error:
        raise CliError(str(error)) from None
    options.policy()  # a broken policy file stops it here, not at the first event
    connected: list[Client] = []

    async def temporal() -> Client:
        if not connected:
            connected.append(await connect(temporal_settings))
        return connected[0]

    app = create_receiver_app(temporal, settings, options.policy)
    try:
        async with serve_apps({"receiver": (app, args.port)}, args.host) as urls:
            output.configure_worker_logging()
            _print_endpoints(urls["receiver"], settings.console is not None, temporal_settings.address)
            await run_until_interrupted("the receiver")
    except EmulatorFailedToStart:
        raise CliError(f"the receiver did not start on {args.host}:{args.port} (port in use?)") from None
    return 0


def _print_endpoints(base: str, console: bool, temporal_address: str) -> None:
    rows: list[output.Row] = [
        ("Salesforce Outbound Messages", f"{base}/salesforce/outbound-messages"),
        ("Stripe webhooks", f"{base}/stripe/webhooks"),
        ("HubSpot webhooks", f"{base}/hubspot/webhooks"),
        ("Signed events", f"{base}/events/<source>"),
        ("Finance console", f"{base}/console" if console else "off (set Q2C_CONSOLE_SECRET)"),
        ("Temporal", temporal_address),
    ]
    for line in output.fields(rows, indent=""):
        output.say(line)
    output.say("Running until Ctrl-C.")
