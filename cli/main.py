"""The `q2c` command line: parser, dispatch, and how errors and Ctrl-C end the process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from temporalio.service import RPCError

from cli import output, sagas
from cli.context import CliError
from cli.ports import SANDBOX_DEFAULT_PORTS, SANDBOX_PORT_OPTIONS, SANDBOX_PORT_ROLES
from workers.config_files import ConfigFileError
from workers.dev_server import DevServerFailedToStart, TemporalCliNotFound
from workers.search_attribute_check import MissingSearchAttributes
from workers.temporal_settings import SettingsError, TemporalUnreachable
from workflows.closed_won_client import SagaActionRefused

Command = Callable[[argparse.Namespace], Awaitable[int]]

EXIT_USAGE = 2  # usage, configuration and connection errors
EXIT_REFUSED = 1  # the saga refused the request
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM

DESCRIPTION = """\
Quote-to-cash sagas on Temporal: a closed-won opportunity becomes ERP and billing customers, a
subscription and a revenue contract; non-standard deals wait for finance approval, deals with bad
data wait for someone to fix them, and a failure undoes what was created.
"""

EPILOG = """\
examples:
  q2c demo                                   the whole story on a fresh local Temporal, in one command
  q2c dev                                    local Temporal + vendor emulators + receiver + worker, in .q2c/dev
  q2c sandbox                                the Salesforce, Stripe and NetSuite emulators alone, seeded
  q2c worker                                 a worker on the vendors the Q2C_SALESFORCE/STRIPE/NETSUITE_* vars name
  q2c start closed-won 006NW0000000001 --wait   start the saga of a deal closed won in the CRM, by hand
  q2c sagas --stuck                          running sagas that wait for people
  q2c approvals                              deals waiting for a finance decision
  q2c approve closed-won/006NW0000000003 --as fiona.finance --note "ok for Q1"
  q2c --config q2c.toml sagas                against the Temporal described in q2c.toml

Global options may come before or after the command. Settings are read from the [temporal] table of
--config (or $Q2C_CONFIG), then Q2C_* environment variables, then these options.
Exit status: 0 done, 1 the saga refused the request (or did not complete), 2 usage, configuration or
connection error, 130 interrupted.
"""


def _lazy(module: str, name: str) -> Command:
    """The command `name` of `module`, imported when it runs: the commands that run servers import the emulators,
    uvicorn and SQLAlchemy, which `q2c sagas` or `q2c approve` (run by people, and by the demo) need not load."""

    async def run(args: argparse.Namespace) -> int:
        command: Command = getattr(importlib.import_module(module), name)
        return await command(args)

    return run


SAGA_HELP = "the saga: its workflow ID (closed-won/006...) or the bare opportunity ID (006...)"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options; on a subcommand they default to SUPPRESS so they never undo the top-level ones."""
    default: object = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=default,
        help="TOML file whose [temporal] table says how to reach Temporal (default: $Q2C_CONFIG)",
    )
    group.add_argument("--address", metavar="HOST:PORT", default=default, help="Temporal frontend address")
    group.add_argument("--namespace", metavar="NAME", default=default, help="Temporal namespace")
    group.add_argument("--task-queue", metavar="NAME", default=default, help="task queue of the closed-won worker")
    group.add_argument("--ui-url", metavar="URL", default=default, help="Temporal UI base URL, for links")
    group.add_argument(
        "--saga-policy",
        type=Path,
        metavar="FILE",
        default=default,
        help="saga policy TOML (default: $Q2C_SAGA_POLICY or config/saga-policy.toml)",
    )
    group.add_argument(
        "--mapping-rules",
        type=Path,
        metavar="FILE",
        default=default,
        help="mapping rules TOML (default: $Q2C_MAPPING_RULES or config/mapping-rules.toml)",
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 1-65535")
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _dev_server_options(parser: argparse.ArgumentParser, state_dir: str) -> None:
    parser.add_argument("--port", type=_port, default=7233, help="gRPC port of the dev server (default: 7233)")
    parser.add_argument("--ui-port", type=_port, default=8233, help="port of the Temporal UI (default: 8233)")
    parser.add_argument(
        "--state-dir", default=state_dir, metavar="DIR", help=f"where the SQLite file and log go (default: {state_dir})"
    )


DEAL_LIST = """\
Both are seeded with three deals:
  006NW0000000001  Northwind Analytics, the reference deal (standard terms)
  006NW0000000003  Contoso Robotics, non-standard: needs finance approval
  006NW0000000004  Fabrikam Labs, incomplete data: parks in needs attention
"""

SYSTEMS_HELP = (
    """\
--systems sandbox (the default) runs the Salesforce, Stripe Billing and NetSuite emulators (SQLite files in
--state-dir, development credentials built in) and the receiver that takes Salesforce's Outbound Messages
(--receiver-port): closing a deal in Salesforce starts its saga. The worker's adapters talk to the
emulators over HTTP; revenue contracts go to q2c's built-in revenue engine, kept in q2c.sqlite there.
--systems memory uses in-memory CRM, ERP, billing and revenue systems instead: faster, and what they hold
lasts only as long as the process.
"""
    + DEAL_LIST
)

WORKER_SYSTEMS_HELP = """\
--systems vendors (the default) talks to Salesforce, Stripe Billing and NetSuite as the Q2C_SALESFORCE_*,
Q2C_STRIPE_* and Q2C_NETSUITE_* environment variables say (`q2c sandbox` prints the values that reach the
local emulators); revenue contracts go to q2c's built-in revenue engine, kept in $Q2C_DATABASE_URL.
--systems memory uses in-memory CRM, ERP, billing and revenue systems seeded with the demo's three deals,
whose data lasts only as long as the process.
"""

SANDBOX_HELP = """\
Each emulator answers its vendor's own API on its port: Salesforce REST (OAuth 2.0 client credentials),
Stripe's v1 API (secret key; test clocks and billing meters included), NetSuite REST and SuiteQL (token-based
authentication). They keep their records in SQLite files under --state-dir, or in PostgreSQL schemas with
--postgres-url, so they survive a restart. Seeding is idempotent: starting again on the same state creates
nothing, and a deal closed since stays closed. Setting an opportunity to Closed Won sends Salesforce's
Outbound Message to --outbound-listener (a q2c receiver's /salesforce/outbound-messages).
Prints the base URLs, the development credentials, the Q2C_* variables that point q2c's adapters at the
emulators (for `q2c worker --systems vendors`), and each emulator's fault injection endpoint.
The Salesforce emulator is seeded with three open deals:
  006NW0000000001  Northwind Analytics, the reference deal (standard terms)
  006NW0000000003  Contoso Robotics, non-standard: needs finance approval
  006NW0000000004  Fabrikam Labs, incomplete data: parks in needs attention
"""


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def _sandbox_port_options(parser: argparse.ArgumentParser, *, receiver: bool) -> None:
    if receiver:
        parser.add_argument(
            "--receiver-port",
            type=_port,
            default=8700,
            metavar="PORT",
            help="port of the receiver, Salesforce's Outbound Message listener (default: 8700)",
        )
    for vendor, option in SANDBOX_PORT_OPTIONS.items():
        default = SANDBOX_DEFAULT_PORTS[vendor]
        parser.add_argument(
            option,
            type=_port,
            default=default,
            metavar="PORT",
            help=f"port of the {SANDBOX_PORT_ROLES[vendor]} (default: {default})",
        )


def _systems_option(parser: argparse.ArgumentParser, choices: tuple[str, str], help_text: str) -> None:
    parser.add_argument("--systems", choices=choices, default=choices[0], help=f"{help_text} (default: {choices[0]})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="q2c", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter)
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, run: Command, summary: str, description: str, examples: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=f"{summary}\n\n{description}".rstrip(),
            epilog=f"examples:\n{examples}",
            formatter_class=_Formatter,
        )
        sub.set_defaults(run=run)
        return sub

    sub = command(
        "demo",
        _lazy("cli.demo", "demo"),
        "Run the quote-to-cash demo end to end on a fresh local Temporal.",
        "Deletes --state-dir, starts the Temporal dev server (kept in SQLite there), the vendor emulators, the\n"
        "receiver and a worker whose adapters talk to the emulators over HTTP, then:\n"
        "  1. closes the reference deal 006NW0000000001 in Salesforce: its Outbound Message starts the saga,\n"
        "     which creates the NetSuite and Stripe customers, the subscription and the revenue contract;\n"
        "  2. closes a non-standard deal, which waits for finance; approves it with `q2c approve`;\n"
        "  3. runs the contract year on a Stripe test clock frozen at the contract start (2027-01-01), month by\n"
        "     month to 2028-01-01, reporting each month's API usage as a billing meter event;\n"
        "  4. shows what Salesforce, Stripe and NetSuite now hold (opportunities with the Q2C_* fields written\n"
        "     back, customers, subscriptions and every invoice, NetSuite customers);\n"
        "  5. keeps everything up for you to explore, until Ctrl-C.\n"
        "With --systems memory: the same two sagas on in-memory systems, no billing year.\n"
        "Exits non-zero if either saga does not complete.\n\n" + SYSTEMS_HELP,
        "  q2c demo\n"
        "  q2c demo --exit-when-done                       run the story and stop (CI)\n"
        "  q2c demo --systems memory                       the fast path, on in-memory systems\n"
        "  q2c demo --port 7300 --ui-port 8300             when 7233/8233 are taken\n"
        "  q2c demo --receiver-port 9700 --salesforce-port 9701 --stripe-port 9702 --netsuite-port 9703\n",
    )
    _dev_server_options(sub, ".q2c/demo")
    _systems_option(sub, ("sandbox", "memory"), "what the worker talks to")
    _sandbox_port_options(sub, receiver=True)
    sub.add_argument(
        "--exit-when-done", action="store_true", help="stop once the story is told instead of waiting for Ctrl-C"
    )

    sub = command(
        "dev",
        _lazy("cli.dev", "dev"),
        "Run a local Temporal dev server and a closed-won worker (by default on the vendor sandbox) until Ctrl-C.",
        "The server keeps its state in SQLite under --state-dir, so sagas survive a restart (and so do the\n"
        "emulators' records); it registers q2c's search attributes itself. The mapping rules are validated\n"
        "before anything starts.\n\n" + SYSTEMS_HELP,
        "  q2c dev                                    then close a deal in Salesforce (the banner shows how)\n"
        "  q2c dev --systems memory                   then: q2c start closed-won 006NW0000000001 --wait\n"
        "  q2c dev --port 7300 --ui-port 8300 --state-dir /tmp/q2c\n",
    )
    _dev_server_options(sub, ".q2c/dev")
    _systems_option(sub, ("sandbox", "memory"), "what the worker talks to")
    _sandbox_port_options(sub, receiver=True)

    sub = command(
        "worker",
        _lazy("cli.dev", "worker"),
        "Run a closed-won worker against the configured Temporal until Ctrl-C.",
        "Checks that the namespace has q2c's search attributes, that the mapping rules are valid and (with\n"
        "--systems vendors) that the vendor connections are configured, before polling the task queue.\n\n"
        + WORKER_SYSTEMS_HELP,
        "  q2c worker                                   with the Q2C_* vendor variables set\n"
        "  q2c worker --systems memory\n"
        "  q2c --config q2c.toml worker\n"
        "  q2c worker --address temporal.internal:7233 --namespace q2c-prod --task-queue q2c\n",
    )
    _systems_option(sub, ("vendors", "memory"), "what the worker talks to")
    sub.add_argument(
        "--wait-for-temporal",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="retry for this long while Temporal is unreachable at start-up, e.g. during its restart; 0: exit at "
        "once (default: 300)",
    )

    sub = command(
        "receiver",
        _lazy("cli.receiver", "receiver"),
        "Run the trigger receiver (and the finance console) against the configured Temporal until Ctrl-C.",
        "Turns vendor events into saga starts: Salesforce Outbound Messages, Stripe and HubSpot webhooks and\n"
        "generic signed events. Configured by the environment: Q2C_SALESFORCE_ORGANIZATION_ID (required),\n"
        "Q2C_STRIPE_WEBHOOK_SECRETS, Q2C_HUBSPOT_CLIENT_SECRET, Q2C_HUBSPOT_WEBHOOK_URL,\n"
        "Q2C_HUBSPOT_CLOSED_WON_STAGES, Q2C_EVENT_SOURCE_SECRETS (source=secret,...); the finance console with\n"
        "Q2C_CONSOLE_SECRET (and Q2C_CONSOLE_USERS_FILE, Q2C_DATABASE_URL). A scheme without its secret answers\n"
        "404; while Temporal is unreachable every trigger answers 503 so the vendor retries.",
        "  Q2C_SALESFORCE_ORGANIZATION_ID=00D... q2c receiver\n"
        "  q2c receiver --host 0.0.0.0 --port 8700 --address temporal.internal:7233\n",
    )
    sub.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    sub.add_argument("--port", type=_port, default=8700, metavar="PORT", help="port (default: 8700)")

    sub = command(
        "codec-server",
        _lazy("cli.codec_server", "codec_server"),
        "Serve the payload codec endpoint for the Temporal UI until Ctrl-C.",
        "Decrypts (and encrypts) saga payloads for callers presenting Q2C_CODEC_AUTH_TOKEN as a bearer token, so\n"
        "the Temporal UI can show encrypted sagas. Needs Q2C_PAYLOAD_KEY and Q2C_PAYLOAD_KEY_ID (the workers'\n"
        "key) and Q2C_CODEC_AUTH_TOKEN; Q2C_CODEC_CORS_ORIGINS lists the UI origins allowed (default: the\n"
        "Temporal UI URL). Point the UI at http://HOST:PORT/codec.",
        "  q2c codec-server\n  q2c codec-server --host 0.0.0.0 --port 8799\n",
    )
    sub.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    sub.add_argument("--port", type=_port, default=8799, metavar="PORT", help="port (default: 8799)")

    sub = command(
        "sandbox",
        _lazy("cli.sandbox", "sandbox"),
        "Run the Salesforce, Stripe Billing and NetSuite emulators, seeded, until Ctrl-C.",
        SANDBOX_HELP,
        "  q2c sandbox\n"
        "  q2c sandbox --outbound-listener http://127.0.0.1:8700/salesforce/outbound-messages\n"
        "  q2c sandbox --postgres-url postgresql://q2c@localhost/q2c\n"
        "  q2c sandbox seed                              seed a sandbox that already runs\n",
    )
    sub.add_argument(
        "--state-dir",
        default=".q2c/sandbox",
        metavar="DIR",
        help="where the emulators' SQLite files go (default: .q2c/sandbox)",
    )
    _sandbox_port_options(sub, receiver=False)
    sub.add_argument(
        "--outbound-listener",
        type=_url,
        metavar="URL",
        help="where Salesforce delivers its Outbound Messages (default: none, they wait)",
    )
    sub.add_argument(
        "--postgres-url",
        metavar="URL",
        help="keep the emulators' records in PostgreSQL (one schema each) instead of SQLite files",
    )
    actions = sub.add_subparsers(dest="sandbox_action", metavar="ACTION", title="actions")
    seed = actions.add_parser(
        "seed",
        help="seed a sandbox that already runs (idempotent), then exit",
        description="Seed a running sandbox with the demo's deals (Salesforce), catalog and billing meter (Stripe)\n"
        "and reference data (NetSuite), through each emulator's own API. Running it again creates nothing.",
        epilog="examples:\n  q2c sandbox seed\n  q2c sandbox seed --stripe-url http://127.0.0.1:9702\n",
        formatter_class=_Formatter,
    )
    seed.set_defaults(run=_lazy("cli.sandbox", "seed_running"))
    for vendor, default in SANDBOX_DEFAULT_PORTS.items():
        seed.add_argument(
            f"--{vendor}-url",
            type=_url,
            default=f"http://127.0.0.1:{default}",
            metavar="URL",
            help=f"the {SANDBOX_PORT_ROLES[vendor]}'s base URL (default: http://127.0.0.1:{default})",
        )
    _global_options(seed, suppress=True)

    sub = command(
        "start",
        sagas.start,
        "Start a saga.",
        "One saga per opportunity, ever: starting it again finds the existing one and starts nothing.\n"
        "The saga carries the saga policy (--saga-policy) it started under.",
        "  q2c start closed-won 006NW0000000001\n  q2c start closed-won 006NW0000000001 --wait\n",
    )
    sub.add_argument("saga_type", choices=["closed-won"], metavar="closed-won", help="the kind of saga: closed-won")
    sub.add_argument(
        "opportunity_id", metavar="OPPORTUNITY_ID", help="the closed-won CRM opportunity, e.g. 006NW0000000001"
    )
    sub.add_argument(
        "--wait",
        action="store_true",
        help="wait for the saga to end and print its outcome (exit 1 unless it completed)",
    )

    sub = command(
        "sagas",
        sagas.sagas,
        "List closed-won sagas, newest first.",
        "Temporal's list is eventually consistent: a saga that changed a second ago may show its old status.",
        "  q2c sagas\n"
        "  q2c sagas --stuck            running sagas waiting for people (approval or a data fix)\n"
        "  q2c sagas --limit 20\n",
    )
    sub.add_argument("--stuck", action="store_true", help="only running sagas that wait for people")
    sub.add_argument("--limit", type=_positive, metavar="N", help="show at most N sagas")

    sub = command(
        "show",
        sagas.show,
        "Show one saga: status, step, contract, value, exception, approval, references, compensations.",
        "Asks the saga itself (a query), so a running saga needs a worker on its task queue.",
        "  q2c show 006NW0000000001\n  q2c show closed-won/006NW0000000004\n",
    )
    sub.add_argument("saga", metavar="SAGA", help=SAGA_HELP)

    command(
        "approvals",
        sagas.approvals,
        "List deals waiting for a finance decision, with why and how to decide.",
        "",
        "  q2c approvals\n",
    )

    sub = command(
        "approve",
        sagas.approve,
        "Approve a non-standard deal as a finance user.",
        "Refused (exit 1) when USER lacks the approver role of the saga policy, owns the deal, or the\n"
        "deal was already decided.",
        '  q2c approve 006NW0000000003 --as fiona.finance --note "strategic logo, ok for Q1"\n',
    )
    sub.add_argument("saga", metavar="SAGA", help=SAGA_HELP)
    sub.add_argument("--as", dest="user", required=True, metavar="USER", help="who decides, e.g. fiona.finance")
    sub.add_argument("--note", default="", metavar="TEXT", help="why (recorded with the decision)")

    sub = command(
        "reject",
        sagas.reject,
        "Reject a non-standard deal as a finance user; the saga ends rejected and tells the CRM.",
        "A rejection needs a note: the deal owner reads it in the CRM.",
        '  q2c reject 006NW0000000003 --as fiona.finance --note "discount above 25% needs the CFO"\n',
    )
    sub.add_argument("saga", metavar="SAGA", help=SAGA_HELP)
    sub.add_argument("--as", dest="user", required=True, metavar="USER", help="who decides, e.g. fiona.finance")
    sub.add_argument("--note", required=True, metavar="TEXT", help="why (required)")

    sub = command(
        "resubmit",
        sagas.resubmit_saga,
        "Ask a saga that needs attention to read its deal from the CRM again.",
        "Fix the deal's data in the CRM first; `q2c show SAGA` lists each field problem.",
        '  q2c resubmit 006NW0000000004 --as olga.ops --note "added tax ID and billing contact"\n',
    )
    sub.add_argument("saga", metavar="SAGA", help=SAGA_HELP)
    sub.add_argument("--as", dest="user", required=True, metavar="USER", help="who fixed the data")
    sub.add_argument("--note", default="", metavar="TEXT", help="what was fixed")

    _invoicing_commands(command)
    _revenue_command(command)
    _chaos_command(command)
    _store_commands(command)
    _reconciliation_commands(command)
    _bench_command(command)

    for sub in commands.choices.values():
        _global_options(sub, suppress=True)
    return parser


def _invoicing_commands(command: Callable[[str, Command, str, str, str], argparse.ArgumentParser]) -> None:
    sub = command(
        "close-period",
        _lazy("cli.invoicing", "close_period"),
        "Close an accounting period: recognise revenue for every contract and post it to the ERP.",
        "Reads each usage line's metered usage from billing, recognises revenue through the period's end in\n"
        "the revenue engine, posts one summarised journal per legal entity and currency to the ERP, and locks\n"
        "the period in the revenue engine. Safe to run again: it recognises and posts nothing twice.",
        "  q2c close-period 2027-01 --wait\n",
    )
    sub.add_argument("period", type=_month, metavar="YYYY-MM", help="the month to close, e.g. 2027-01")
    sub.add_argument("--wait", action="store_true", help="wait for the close and print its journals")

    sub = command(
        "retry",
        _lazy("cli.invoicing", "retry"),
        "Run the parked step of an invoice, payment or period-close saga again.",
        "A step that failed permanently (an unmapped product, a missing ERP customer, a closed period) parks\n"
        "its saga in needs attention. Fix the cause, then retry: the saga carries on from that step.",
        '  q2c retry invoice-to-revenue/in_1PQ... --as olga.ops --note "mapped PREM-MOD"\n',
    )
    sub.add_argument("saga", metavar="WORKFLOW_ID", help="e.g. invoice-to-revenue/in_..., period-close/2027-01")
    sub.add_argument("--as", dest="user", required=True, metavar="USER", help="who fixed the cause")
    sub.add_argument("--note", default="", metavar="TEXT", help="what was fixed")

    sub = command(
        "choose-period",
        _lazy("cli.invoicing", "period_choice"),
        "Choose the open ERP period for an invoice dated in a closed one (controllership).",
        "Only when the saga policy's closed_period is await_decision; refused unless USER has the policy's\n"
        "period_decision_role.",
        '  q2c choose-period invoice-to-revenue/in_1PQ... --period 14 --as carl.controller --note "post in Feb"\n',
    )
    sub.add_argument("saga", metavar="WORKFLOW_ID", help="the invoice-to-revenue saga")
    sub.add_argument("--period", dest="period_id", required=True, metavar="ID", help="the ERP period's ID")
    sub.add_argument("--as", dest="user", required=True, metavar="USER", help="who decides, e.g. carl.controller")
    sub.add_argument("--note", default="", metavar="TEXT", help="why")


def _revenue_command(command: Callable[[str, Command, str, str, str], argparse.ArgumentParser]) -> None:
    sub = command(
        "revenue",
        _lazy("cli.revenue_report", "revenue"),
        "Print a year's revenue waterfall and deferred-revenue roll-forward from q2c's revenue engine.",
        "Reads the revenue engine's events from q2c's database (--database, default $Q2C_DATABASE_URL or\n"
        ".q2c/worker/q2c.sqlite). With --export DIR it also writes the year as JSON (invoices and credit notes,\n"
        "revenue by month and obligation, year-end balances per account and contract), the waterfall and\n"
        "roll-forward as CSV, and the waterfall as an SVG chart, so the figures can be checked independently.",
        "  q2c revenue --year 2027 --database sqlite:///.q2c/demo/q2c.sqlite\n"
        "  q2c revenue --year 2027 --database sqlite:///.q2c/demo/q2c.sqlite --export reports/\n",
    )
    sub.add_argument("--year", type=int, required=True, metavar="YYYY", help="the calendar year to report")
    sub.add_argument("--database", metavar="URL", help="q2c's database (sqlite:///FILE or postgresql://...)")
    sub.add_argument("--export", type=Path, metavar="DIR", help="also write JSON, CSV and SVG files here")


DATABASE_OPTION_HELP = "q2c's database (sqlite:///FILE or postgresql://...; default $Q2C_DATABASE_URL or .q2c/worker)"
CASE_ACTIONS = ("retry", "resume", "compensate", "dismiss")


def _store_commands(command: Callable[[str, Command, str, str, str], argparse.ArgumentParser]) -> None:
    """trace, cases and audit: what the sagas recorded in the operational store."""
    sub = command(
        "trace",
        _lazy("cli.trace", "trace"),
        "Print a contract's whole chain: quote, contract versions, subscription, invoices, ERP postings, payments,\n"
        "period closes and deferred and recognised revenue.",
        "Reads the cross-references and audit trail the sagas wrote to q2c's operational store, and the revenue\n"
        "engine's balances, from q2c's database (--database). Given an invoice or credit note, it traces that\n"
        "document's contract and shows that document only.",
        "  q2c trace C-006NW0000000001 --database sqlite:///.q2c/demo/q2c.sqlite\n"
        "  q2c trace in_1PQ... --database sqlite:///.q2c/demo/q2c.sqlite\n",
    )
    sub.add_argument("id", metavar="CONTRACT_OR_INVOICE", help="a contract ID, or an invoice or credit note ID")
    sub.add_argument("--database", metavar="URL", help=DATABASE_OPTION_HELP)

    sub = command(
        "cases",
        _lazy("cli.cases", "list_cases"),
        "List the open exception cases (sagas parked for a person), largest amount at risk first.",
        "Every saga that parks (bad deal data, an unmapped product, a missing ERP customer, a stale amendment...)\n"
        "opens a case with its category, the amount at risk, the owning role and its history. `q2c cases resolve`\n"
        "moves the saga on and closes the case, recording who did it and why:\n"
        "  retry, resume  the saga runs its parked step again (closed-won re-reads the deal)\n"
        "  compensate     the saga is cancelled: closed-won and amendments undo what they did\n"
        "  dismiss        the case is closed, the saga left alone",
        "  q2c cases --database sqlite:///.q2c/dev/q2c.sqlite\n"
        "  q2c cases --owner billing_ops\n"
        '  q2c cases resolve 3 --action retry --as olga.ops --reason "mapped PREM-MOD in the rules"\n',
    )
    sub.add_argument("--category", metavar="CATEGORY", help="only this category, e.g. master_data_mismatch")
    sub.add_argument("--owner", choices=("sales_ops", "billing_ops", "controllership"), help="only this role's")
    sub.add_argument("--database", metavar="URL", help=DATABASE_OPTION_HELP)
    actions = sub.add_subparsers(dest="cases_action", metavar="ACTION", title="actions")
    resolve = actions.add_parser(
        "resolve",
        help="resolve a case: retry, resume, compensate or dismiss its saga, saying who and why",
        description="Resolve an exception case: move its saga on (retry|resume: run the parked step again;\n"
        "compensate: cancel it, undoing what it did; dismiss: leave it alone) and close the case, recording\n"
        "who did it and why in the case's history and the audit trail.",
        epilog="examples:\n"
        '  q2c cases resolve 3 --action retry --as olga.ops --reason "ERP customer ID restored"\n'
        '  q2c cases resolve 4 --action dismiss --as carl.controller --reason "duplicate of case 3"\n',
        formatter_class=_Formatter,
    )
    resolve.set_defaults(run=_lazy("cli.cases", "resolve"))
    resolve.add_argument("case_id", type=_positive, metavar="CASE", help="the case number `q2c cases` shows")
    resolve.add_argument("--action", required=True, choices=CASE_ACTIONS, help="what to do with the saga")
    resolve.add_argument("--as", dest="user", required=True, metavar="USER", help="who resolves it, e.g. olga.ops")
    resolve.add_argument("--reason", required=True, metavar="TEXT", help="why (required; kept in the history)")
    resolve.add_argument("--database", metavar="URL", default=argparse.SUPPRESS, help=DATABASE_OPTION_HELP)
    _global_options(resolve, suppress=True)

    sub = command(
        "console-user",
        _lazy("cli.console_users", "console_user"),
        "Add a finance console user (or change their role and password).",
        "Roles: viewer (reads everything), approver (approves and rejects deals and amendments; the name must\n"
        "hold the approver role of the saga policy, which the saga checks), operations (resolves, retries or\n"
        "dismisses exception cases). Asks for the password twice; only its scrypt hash is stored.",
        "  q2c console-user fiona.finance --role approver\n"
        "  q2c console-user olga.ops --role operations --users-file /etc/q2c/console-users.toml\n"
        "  printf '%s\\n' \"$PASSWORD\" | q2c console-user vic.viewer --role viewer --password-stdin\n",
    )
    sub.add_argument("name", metavar="NAME", help="the user name, as the saga policy knows approvers")
    sub.add_argument("--role", required=True, choices=("viewer", "approver", "operations"), help="what they may do")
    sub.add_argument(
        "--users-file",
        default=os.environ.get("Q2C_CONSOLE_USERS_FILE", "config/console-users.toml"),
        metavar="FILE",
        help="the console's users file (default: $Q2C_CONSOLE_USERS_FILE or config/console-users.toml)",
    )
    sub.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    sub = command(
        "audit",
        _lazy("cli.audit", "verify"),
        "Check that the audit trail's hash chain is unbroken (`q2c audit verify`).",
        "Every audit record carries sha256(previous record's hash + its own content). verify recomputes the\n"
        "chain from the first record and exits 1 naming the first record that was edited, deleted or reordered.",
        "  q2c audit verify --database sqlite:///.q2c/demo/q2c.sqlite\n",
    )
    sub.add_argument("--database", metavar="URL", help=DATABASE_OPTION_HELP)
    checks = sub.add_subparsers(dest="audit_action", metavar="ACTION", title="actions", required=True)
    verify = checks.add_parser(
        "verify",
        help="recompute the hash chain; exit 1 at the first break",
        description="Recompute the audit trail's hash chain; exit 1 naming the first break.",
        epilog="examples:\n  q2c audit verify --database sqlite:///.q2c/demo/q2c.sqlite\n",
        formatter_class=_Formatter,
    )
    verify.set_defaults(run=_lazy("cli.audit", "verify"))
    verify.add_argument("--database", metavar="URL", default=argparse.SUPPRESS, help=DATABASE_OPTION_HELP)


def _reconciliation_commands(command: Callable[[str, Command, str, str, str], argparse.ArgumentParser]) -> None:
    sub = command(
        "recon",
        _recon_usage,
        "Reconcile billing with the ERP and the revenue engine: run, report, schedule.",
        "  run       start the Reconciliation workflow for a day (default: yesterday) or --from/--to, wait,\n"
        "            print the summary (exit 1 when it found breaks; each break is an exception case)\n"
        "  report    print a run's breaks (default: the latest run) and export them with --csv FILE\n"
        "  schedule  create or update the daily Temporal Schedule (reconciles the day before)",
        "  q2c recon run --date 2027-03-01\n"
        "  q2c recon run --from 2027-01-01 --to 2027-12-31\n"
        "  q2c recon report --csv breaks.csv\n"
        "  q2c recon schedule --hour 2\n",
    )
    actions = sub.add_subparsers(dest="recon_action", metavar="ACTION", title="actions")
    run = actions.add_parser(
        "run",
        help="reconcile a day or a span of days now and print the summary",
        description="Start (or join) the Reconciliation workflow and wait for it. Matches billing's invoices and\n"
        "credit notes with the ERP's AR postings per document and per day, legal entity and currency, the ERP's\n"
        "open AR with billing's payment status, and the ERP's GL balances with the revenue engine's.",
        epilog="examples:\n  q2c recon run --date 2027-03-01\n  q2c recon run --from 2027-01-01 --to 2028-01-31\n",
        formatter_class=_Formatter,
    )
    run.add_argument("--date", type=_day, metavar="YYYY-MM-DD", help="the billing day (default: yesterday, UTC)")
    run.add_argument("--from", dest="first_day", type=_day, metavar="YYYY-MM-DD", help="first day of a span")
    run.add_argument("--to", dest="last_day", type=_day, metavar="YYYY-MM-DD", help="last day of a span")
    run.set_defaults(run=_lazy("cli.reconciliation", "recon_run"))
    _global_options(run, suppress=True)
    report = actions.add_parser(
        "report",
        help="print a reconciliation run's breaks; --csv exports them",
        description="Reads the runs kept in q2c's database (--database, default $Q2C_DATABASE_URL or\n"
        ".q2c/worker/q2c.sqlite).",
        epilog="examples:\n  q2c recon report\n  q2c recon report --run 3 --csv breaks.csv\n",
        formatter_class=_Formatter,
    )
    report.add_argument("--run", dest="run_id", type=int, metavar="ID", help="the run (default: the latest)")
    report.add_argument("--csv", type=Path, metavar="FILE", help="also write the breaks as CSV")
    report.add_argument("--database", metavar="URL", help="q2c's database (sqlite:///FILE or postgresql://...)")
    report.set_defaults(run=_lazy("cli.reconciliation", "recon_report"))
    _global_options(report, suppress=True)
    schedule = actions.add_parser(
        "schedule",
        help="create or update the daily reconciliation schedule",
        description="A Temporal Schedule (reconciliation-daily) that starts Reconciliation every day at --hour UTC\n"
        "for the day before; skipped while the previous run still runs.",
        epilog="examples:\n  q2c recon schedule\n  q2c recon schedule --hour 5\n",
        formatter_class=_Formatter,
    )
    schedule.add_argument("--hour", type=int, default=2, metavar="H", help="hour of the day, UTC (default: 2)")
    schedule.set_defaults(run=_lazy("cli.reconciliation", "recon_schedule"))
    _global_options(schedule, suppress=True)


async def _recon_usage(args: argparse.Namespace) -> int:
    raise CliError("name an action: q2c recon run | report | schedule (see q2c recon --help)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def _bench_command(command: Callable[[str, Command, str, str, str], argparse.ArgumentParser]) -> None:
    sub = command(
        "bench",
        _lazy("cli.bench", "bench"),
        "Run a benchmark: it prints a table and one JSON line (figures, not pass/fail).",
        "  saga-throughput  closed-won and invoice -> revenue sagas end to end against the emulators (or\n"
        "                   --systems memory), at several concurrencies, against a bare workflow with as many\n"
        "                   no-op activities measured in the same run; CPU per process\n"
        "  saga-cost        history events and Temporal Cloud billable Actions per saga type\n"
        "  revenue-engine   schedule lines per second and peak memory for a generated 100,000-contract book\n"
        "  reconciliation   the reconciliation benchmark, where installed\n"
        "Everything after NAME goes to the benchmark: `q2c bench NAME -- --help` lists its options.",
        "  q2c bench saga-throughput -- --sagas 50 --concurrency 5 20\n"
        "  q2c bench saga-throughput -- --systems memory --sagas 200 --concurrency 10 50\n"
        "  q2c bench saga-cost\n"
        "  q2c bench revenue-engine -- --contracts 100000 --profile 2000\n",
    )
    sub.add_argument(
        "benchmark",
        choices=("saga-throughput", "saga-cost", "revenue-engine", "reconciliation"),
        metavar="NAME",
        help="saga-throughput, saga-cost, revenue-engine or reconciliation",
    )
    sub.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's own options, after --")


def _chaos_command(command: Callable[[str, Command, str, str, str], argparse.ArgumentParser]) -> None:
    sub = command(
        "chaos",
        _lazy("cli.chaos.command", "chaos"),
        "Run the fault campaign: sagas through worker crashes, vendor faults, server restarts and bad input.",
        "Each scenario starts its own stack under --state-dir (a Temporal dev server on SQLite and a worker, each\n"
        "in its own process; the vendor emulators; the receiver), closes --sagas distinct deals in Salesforce,\n"
        "lets their first invoices fall due on a Stripe test clock, and meanwhile:\n"
        "  worker-crash    SIGKILLs the worker 0.5-4 s after it starts polling and starts it again;\n"
        "  vendor-faults   the emulators answer 5xx, 429 with Retry-After, time out and drop connections, and\n"
        "                  duplicate and reorder webhooks, at --fault-rate per request or delivery;\n"
        "  server-restart  SIGKILLs the Temporal dev server every 4-8 s and starts it on the same SQLite file;\n"
        "  bad-input       closes fuzzed deals and sends fuzzed webhooks: each must be refused (4xx) or park in\n"
        "                  needs attention with a category; none may post anything or crash the worker.\n"
        "Then it checks every saga completed, was compensated or parked (none stuck or lost), that each emulator\n"
        "holds one customer per account, one subscription per contract, one NetSuite invoice per Stripe invoice\n"
        "and no journal twice, that NetSuite's ledger balances, and that Stripe's invoices reconcile with\n"
        "NetSuite's. Prints a table and one JSON line; exits 1 if anything was lost, duplicated or unbalanced.\n"
        "Random choices come from --seed: the same seed replays the same faults.",
        "  q2c chaos --short                            every scenario, small, as CI runs it\n"
        "  q2c chaos all --seed 7                       the full campaign (100 deals a scenario)\n"
        "  q2c chaos worker-crash --sagas 300 --seed 7\n"
        "  q2c chaos vendor-faults --fault-rate 0.2\n",
    )
    sub.add_argument(
        "scenario",
        nargs="?",
        default="all",
        choices=["all", "worker-crash", "vendor-faults", "server-restart", "bad-input"],
        help="which scenario (default: all)",
    )
    sub.add_argument("--sagas", type=_positive, metavar="N", help="deals per scenario (default: 100; --short: 6)")
    sub.add_argument(
        "--fault-rate", type=float, default=0.1, metavar="R", help="vendor fault probability per request (0.1)"
    )
    sub.add_argument("--seed", type=int, default=1, help="seed of every random choice (default: 1)")
    sub.add_argument("--short", action="store_true", help="the short campaign CI runs")
    sub.add_argument(
        "--settle-seconds",
        type=float,
        default=None,
        metavar="S",
        help="how long sagas may take once the disturbance stops before they count as stuck (default: 3 s a deal, "
        "at least 120)",
    )
    sub.add_argument(
        "--state-dir", default=".q2c/chaos", metavar="DIR", help="emptied, then one folder per scenario (.q2c/chaos)"
    )


def _month(text: str) -> date:
    """`YYYY-MM` as the first day of that month."""
    try:
        first = date.fromisoformat(f"{text}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}") from None
    if len(text) != len("YYYY-MM"):
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}")
    return first


class _Terminated(Exception):
    pass


async def _run(command: Command, args: argparse.Namespace) -> int:
    """Run `command`; SIGTERM unwinds it like Ctrl-C does, so the dev server and worker stop cleanly."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers on Windows loops
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await command(args)
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, and turn expected errors into a message and an exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "run", None)
    if command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return asyncio.run(_run(command, args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `q2c sagas | head`: the reader left; say nothing more
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush is quiet
        return 1
    except _Terminated:
        return EXIT_TERMINATED
    except SagaActionRefused as refused:
        output.error(f"refused: {refused}")
        return EXIT_REFUSED
    except (
        CliError,
        ConfigFileError,
        SettingsError,
        TemporalUnreachable,
        MissingSearchAttributes,
        DevServerFailedToStart,
        TemporalCliNotFound,
    ) as error:
        output.error(str(error))
        return error.code if isinstance(error, CliError) else EXIT_USAGE
    except RPCError as error:
        output.error(f"Temporal refused the request ({error.status.name}): {error.message}")
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The `q2c` console script: `run`, then exit without interpreter finalization.

    The Temporal client's Rust runtime keeps threads that may still touch the GIL while CPython finalizes,
    which sporadically aborts a finished command with "Fatal Python error: PyGILState_Release"
    (temporalio/sdk-python#300). Everything q2c wrote is flushed first; nothing else needs finalizing.
    """
    code = run(argv)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
