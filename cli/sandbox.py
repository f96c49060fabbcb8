"""`q2c sandbox`: the Salesforce, Stripe Billing and NetSuite emulators on their ports, seeded, until Ctrl-C;
`q2c sandbox seed` seeds one that already runs. Also what `q2c dev` and `q2c demo` print about their sandbox."""

from __future__ import annotations

import argparse
import contextlib
import shlex
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import httpx
import stripe
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adapters.memory.reference_deals import demo_deals, reference_amendment
from canonical.mapping_rules import MappingRules
from cli import output
from cli.context import CliError, Globals, run_until_interrupted, seeded_opportunities
from cli.ports import SANDBOX_PORT_OPTIONS, SANDBOX_PORT_ROLES, require_distinct, require_free
from cli.vendor_env import VendorSettings, adapter_env
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.servers import EmulatorFailedToStart
from sandbox.stack import VENDORS, RunningSandbox, SandboxOptions, run_sandbox, seed_sandbox
from sandbox.stripe.settings import StripeEmulatorSettings
from workers.vendor_systems import sandbox_vendor_settings

HOST = "127.0.0.1"
NAMES = {"salesforce": "Salesforce", "stripe": "Stripe", "netsuite": "NetSuite"}
SQLITE_FILES = tuple(f"{vendor}.sqlite" for vendor in VENDORS)
PORT_HINT = "choose free ports with --salesforce-port, --stripe-port and --netsuite-port"
OUTBOUND_PATH = "/salesforce/outbound-messages"


def ports_of(args: argparse.Namespace) -> dict[str, int]:
    return {vendor: getattr(args, f"{vendor}_port") for vendor in VENDORS}


def port_options(args: argparse.Namespace) -> dict[str, int]:
    """Option → port, for `require_distinct`."""
    return {SANDBOX_PORT_OPTIONS[vendor]: port for vendor, port in ports_of(args).items()}


def port_roles(args: argparse.Namespace) -> dict[str, int]:
    """Role → port, for `require_free`."""
    return {SANDBOX_PORT_ROLES[vendor]: port for vendor, port in ports_of(args).items()}


def postgres_url(text: str | None) -> str | None:
    """An asyncpg URL for SQLAlchemy; `postgresql://` and `postgres://` are taken to mean it."""
    if text is None:
        return None
    for scheme in ("postgresql://", "postgres://"):
        if text.startswith(scheme):
            text = "postgresql+asyncpg://" + text.removeprefix(scheme)
    if not text.startswith("postgresql+asyncpg://"):
        raise CliError(f"--postgres-url must be a postgresql:// URL, not {shown_url(text)}")
    return text


def shown_url(url: str) -> str:
    """`url` with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


@contextlib.asynccontextmanager
async def seeded_sandbox(options: SandboxOptions, rules: MappingRules) -> AsyncIterator[RunningSandbox]:
    """The emulators, running and seeded with the demo's deals and catalog (seeding twice creates nothing)."""
    started = False
    try:
        async with run_sandbox(options) as sandbox:
            started = True
            await seed(sandbox, rules)
            yield sandbox
    except Exception as error:
        if started:
            raise
        if isinstance(error, EmulatorFailedToStart):
            raise CliError(f"{error}; {PORT_HINT}") from None
        if isinstance(error, OSError | ArgumentError | RuntimeError):  # the database cannot be reached or made
            where = shown_url(options.postgres_url) if options.postgres_url else str(options.state_dir)
            raise CliError(f"the sandbox cannot open its storage at {where}: {type(error).__name__}: {error}") from None
        raise


async def seed(sandbox: RunningSandbox, rules: MappingRules) -> None:
    try:
        await seed_sandbox(sandbox, rules, demo_deals(), (reference_amendment(),))
    except (httpx.HTTPError, stripe.StripeError, RuntimeError) as error:  # RuntimeError: the seeders' SeedError
        raise CliError(f"seeding the sandbox failed: {type(error).__name__}: {error}") from None


def where_rows(sandbox: RunningSandbox, options: SandboxOptions) -> list[output.Row]:
    if options.postgres_url:
        state = f"PostgreSQL {shown_url(options.postgres_url)}, schemas q2c_sandbox_{{{','.join(VENDORS)}}}"
    else:
        state = f"{options.state_dir.resolve()} ({', '.join(SQLITE_FILES)})"
    listener = options.outbound_listener_url
    return [
        ("Salesforce", f"{sandbox.urls['salesforce']}  (org {sandbox.salesforce.organization_id})"),
        ("Stripe", f"{sandbox.urls['stripe']}  (account {sandbox.stripe.account_id})"),
        ("NetSuite", f"{sandbox.urls['netsuite']}  (account {sandbox.netsuite.account_id})"),
        ("Emulator state", state),
        (
            "Outbound Messages",
            f"a deal set to Closed Won in Salesforce is sent to {listener}"
            if listener
            else "not sent (no --outbound-listener): start sagas with `q2c start closed-won OPPORTUNITY_ID`",
        ),
    ]


def credential_rows(sandbox: RunningSandbox) -> list[output.Row]:
    tba = sandbox.netsuite.tba_credentials[0]
    salesforce = sandbox.salesforce
    return [
        ("Salesforce", f"client_id {salesforce.client_id}, client_secret {salesforce.client_secret}"),
        ("", f"(client credentials flow: POST {sandbox.urls['salesforce']}/services/oauth2/token)"),
        ("Stripe", f"secret key {sandbox.stripe_api_key}"),
        ("NetSuite", f"TBA consumer key {tba.consumer_key}, consumer secret {tba.consumer_secret},"),
        ("", f"token ID {tba.token_id}, token secret {tba.token_secret}, realm {sandbox.netsuite.account_id}"),
    ]


def env_lines(settings: VendorSettings) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in adapter_env(settings).items()]


def fault_lines(sandbox: RunningSandbox) -> list[str]:
    lines = [f"{NAMES[vendor]:<10} {url}/_sandbox/faults" for vendor, url in sandbox.urls.items()]
    example = '{"seed": 1, "rules": [{"kind": "error", "rate": 0.2, "status": 503}]}'
    lines.append(f"e.g. curl -X PUT -H 'Content-Type: application/json' -d '{example}' {sandbox.urls['stripe']}")
    lines[-1] += "/_sandbox/faults"
    return lines


def banner(sandbox: RunningSandbox, options: SandboxOptions, rows: Sequence[output.Row] = ()) -> list[str]:
    """`rows`, where the emulators are, their credentials, the adapters' variables, the fault endpoints."""
    lines = output.fields([*rows, *where_rows(sandbox, options)])
    lines += ["Development credentials (built into the emulators):", *output.fields(credential_rows(sandbox))]
    lines.append("Point q2c's adapters at them (`q2c worker --systems vendors` reads these):")
    lines += [f"{output.INDENT}{line}" for line in env_lines(sandbox_vendor_settings(sandbox))]
    lines.append("Fault injection (GET reads the rules, PUT replaces them; kinds: error, rate_limit, slow, drop):")
    lines += [f"{output.INDENT}{line}" for line in fault_lines(sandbox)]
    return lines


# --- q2c sandbox ---------------------------------------------------------------------------------------


async def sandbox(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    rules = options.rules()  # a bad file stops here, before anything starts
    require_distinct(port_options(args), PORT_HINT)
    require_free(HOST, port_roles(args), PORT_HINT)
    sandbox_options = SandboxOptions(
        state_dir=Path(args.state_dir),
        host=HOST,
        ports=ports_of(args),
        postgres_url=postgres_url(args.postgres_url),
        outbound_listener_url=args.outbound_listener,
    )
    where = shown_url(sandbox_options.postgres_url) if sandbox_options.postgres_url else args.state_dir
    output.say(f"Starting the Salesforce, Stripe and NetSuite emulators (state in {where}) ...")
    async with seeded_sandbox(sandbox_options, rules) as running:
        output.say("q2c sandbox is up and seeded (seeding again creates nothing; a closed deal stays closed).")
        for line in banner(running, sandbox_options):
            output.say(line)
        output.say(
            "Seeded opportunities (created open, in stage Negotiation/Review; a deal closed since stays closed):"
        )
        for line in seeded_opportunities():
            output.say(f"{output.INDENT}{line}")
        output.say("Running until Ctrl-C.")
        await run_until_interrupted("the emulators")
    return 0


# --- q2c sandbox seed ----------------------------------------------------------------------------------


async def seed_running(args: argparse.Namespace) -> int:
    rules = Globals.from_args(args).rules()
    urls = {vendor: getattr(args, f"{vendor}_url").rstrip("/") for vendor in VENDORS}
    await require_reachable(urls)
    running = RunningSandbox(
        urls=urls,
        salesforce=SalesforceEmulatorSettings(),
        stripe=StripeEmulatorSettings(),
        netsuite=NetSuiteEmulatorSettings(),
        faults={},
        state_dir=Path(),
    )
    await seed(running, rules)
    output.say("Seeded the sandbox (what already existed is left as it is):")
    for line in output.fields([(NAMES[vendor], url) for vendor, url in urls.items()]):
        output.say(line)
    return 0


async def require_reachable(urls: Mapping[str, str]) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for vendor, url in urls.items():
            try:
                await http.get(url + "/")
            except httpx.HTTPError as error:
                raise CliError(
                    f"cannot reach the {NAMES[vendor]} emulator at {url} ({type(error).__name__}); "
                    f"is `q2c sandbox` running? (--{vendor}-url says where)"
                ) from None
