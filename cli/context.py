"""What every command needs from the global options: Temporal settings, a client, the config files."""

from __future__ import annotations

import argparse
import asyncio
import shlex
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.memory.reference_deals import INCOMPLETE_OPPORTUNITY, NON_STANDARD_OPPORTUNITY, demo_deals, reference_deal
from adapters.memory.systems import InMemorySystems
from canonical.mapping_rules import MappingRules
from canonical.saga_policy import SagaPolicy
from cli import output
from workers.config_files import load_mapping_rules, load_saga_policy, mapping_rules_path, saga_policy_path
from workers.dev_server import workflow_ui_url
from workers.temporal_settings import (
    TemporalSettings,
    TemporalUnreachable,
    connect_temporal,
    load_temporal_settings,
)
from workflows.closed_won import workflow_id_for

DEFAULTS = TemporalSettings()
RECONNECT_SECONDS = 1.0

IN_MEMORY_NOTE = (
    "The embedded worker uses in-memory CRM, ERP, billing and revenue systems (--systems memory): what they hold "
    "lasts only as long as this process. The default, --systems sandbox, runs the Salesforce, Stripe and NetSuite "
    "emulators and talks to them over HTTP."
)
SANDBOX_NOTE = (
    "The worker's adapters talk over HTTP to the Salesforce, Stripe Billing and NetSuite emulators, which keep "
    "their records in SQLite under the state dir; revenue contracts go to q2c's built-in revenue engine, which "
    "keeps its events in q2c's database (q2c.sqlite under the state dir)."
)
VENDORS_NOTE = (
    "The worker's adapters talk to Salesforce, Stripe Billing and NetSuite as the Q2C_SALESFORCE_*, Q2C_STRIPE_* "
    "and Q2C_NETSUITE_* variables say; revenue contracts go to q2c's built-in revenue engine, which keeps its "
    "events in q2c's database (Q2C_DATABASE_URL)."
)


class CliError(Exception):
    """An expected failure: printed as one `q2c: error: ...` line, exit status `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Globals:
    """The global options, as given (None: not given, so the config file, environment or default applies)."""

    config: Path | None
    address: str | None
    namespace: str | None
    task_queue: str | None
    ui_url: str | None
    saga_policy: Path | None
    mapping_rules: Path | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Globals:
        return cls(
            config=args.config,
            address=args.address,
            namespace=args.namespace,
            task_queue=args.task_queue,
            ui_url=args.ui_url,
            saga_policy=args.saga_policy,
            mapping_rules=args.mapping_rules,
        )

    def settings(self) -> TemporalSettings:
        """`[temporal]` from --config / $Q2C_CONFIG, then Q2C_* variables, then these options."""
        settings = load_temporal_settings(self.config)
        overrides = {
            name: value
            for name, value in (
                ("address", self.address),
                ("namespace", self.namespace),
                ("task_queue", self.task_queue),
                ("ui_url", self.ui_url),
            )
            if value
        }
        return settings.model_copy(update=overrides)

    def policy(self) -> SagaPolicy:
        return load_saga_policy(self.saga_policy)

    def policy_path(self) -> Path:
        return saga_policy_path(self.saga_policy)

    def rules(self) -> MappingRules:
        return load_mapping_rules(self.mapping_rules)

    def rules_path(self) -> Path:
        return mapping_rules_path(self.mapping_rules)


async def connect(settings: TemporalSettings) -> Client:
    return await connect_temporal(settings)


async def connect_patiently(settings: TemporalSettings, wait_seconds: float) -> Client:
    """Connect, retrying while Temporal is unreachable for up to `wait_seconds`: a worker started beside its server,
    or restarted while the server restarts, waits for it instead of exiting. Says once that it waits."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    said = False
    while True:
        try:
            return await connect_temporal(settings)
        except TemporalUnreachable:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            if not said:
                output.say(f"Waiting up to {wait_seconds:g} s for Temporal at {settings.address} ...")
                said = True
            await asyncio.sleep(RECONNECT_SECONDS)


def seeded_systems() -> InMemorySystems:
    """Fresh in-memory systems whose CRM holds the demo deals."""
    systems = InMemorySystems()
    for deal in demo_deals():
        systems.crm.save_deal(deal)
    return systems


def saga_id(saga: str) -> str:
    """The workflow ID for SAGA, which may be a workflow ID (`closed-won/...`, `amendment/...`) or the bare
    opportunity ID of a closed-won deal."""
    return saga if "/" in saga else workflow_id_for(saga)


def ui_link(settings: TemporalSettings, workflow_id: str) -> str:
    return workflow_ui_url(settings.ui_url, settings.namespace, workflow_id)


def q2c_command(settings: TemporalSettings, *args: str) -> str:
    """A `q2c ...` command line that reaches the same Temporal as `settings` (non-default options only)."""
    words = ["q2c"]
    for option, value, default in (
        ("--address", settings.address, DEFAULTS.address),
        ("--namespace", settings.namespace, DEFAULTS.namespace),
        ("--task-queue", settings.task_queue, DEFAULTS.task_queue),
        ("--ui-url", settings.ui_url, DEFAULTS.ui_url),
    ):
        if value != default:
            words += [option, value]
    return shlex.join([*words, *args])


def not_found(error: RPCError, workflow_id: str, settings: TemporalSettings) -> CliError | None:
    """A readable error for a saga that does not exist, or None when `error` is something else."""
    if error.status != RPCStatusCode.NOT_FOUND:
        return None
    return CliError(
        f"no saga {workflow_id} in namespace {settings.namespace} at {settings.address} "
        f"(list them with `{q2c_command(settings, 'sagas')}`)"
    )


def seeded_opportunities() -> list[str]:
    """The demo deals every system set (in-memory or the sandbox) is seeded with, one line each."""
    reference = reference_deal()
    return [
        f"{reference.opportunity.opportunity_id}  {reference.account.name}: the reference deal (standard terms)",
        f"{NON_STANDARD_OPPORTUNITY}  Contoso Robotics Inc.: non-standard (30% discount, 60-day terms), "
        "needs finance approval",
        f"{INCOMPLETE_OPPORTUNITY}  Fabrikam Labs Inc.: incomplete (no tax ID, no billing contact), "
        "parks in needs attention",
    ]


async def run_until_interrupted(stopping: str) -> None:
    """Wait for Ctrl-C (or SIGTERM); say what is being stopped while the caller's contexts unwind."""
    try:
        await asyncio.Event().wait()
    finally:
        output.say(f"Stopping {stopping} ...")
