"""The `q2c` command line: parser, dispatch, and how errors and Ctrl-C end the process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NoReturn

from temporalio.service import RPCError

from cli import demo, dev, output, sagas
from cli.context import CliError
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
  q2c dev                                    local Temporal dev server + worker, kept in .q2c/dev
  q2c start closed-won 006NW0000000001 --wait
  q2c sagas --stuck                          running sagas that wait for people
  q2c approvals                              deals waiting for a finance decision
  q2c approve closed-won/006NW0000000003 --as fiona.finance --note "ok for Q1"
  q2c --config q2c.toml sagas                against the Temporal described in q2c.toml

Global options may come before or after the command. Settings are read from the [temporal] table of
--config (or $Q2C_CONFIG), then Q2C_* environment variables, then these options.
Exit status: 0 done, 1 the saga refused the request (or did not complete), 2 usage, configuration or
connection error, 130 interrupted.
"""

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


IN_MEMORY_HELP = """\
The embedded worker uses in-memory CRM, ERP, billing and revenue systems (HTTP adapters for the
Salesforce, Stripe and NetSuite emulators come later), so their data lasts only as long as the process.
The CRM is seeded with three deals:
  006NW0000000001  Northwind Analytics, the reference deal (standard terms)
  006NW0000000003  Contoso Robotics, non-standard: needs finance approval
  006NW0000000004  Fabrikam Labs, incomplete data: parks in needs attention
"""


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
        demo.demo,
        "Run the quote-to-cash demo end to end on a fresh local Temporal.",
        "Deletes --state-dir, starts the Temporal dev server (kept in SQLite there) and a worker, then:\n"
        "  1. runs the reference deal 006NW0000000001 to a subscription and revenue contract;\n"
        "  2. runs a non-standard deal that waits for finance, and approves it with `q2c approve`;\n"
        "  3. shows what the ERP, billing, revenue and CRM systems now hold;\n"
        "  4. keeps Temporal and the worker up for you to explore in the UI, until Ctrl-C.\n"
        "Exits non-zero if either saga does not complete.\n\n" + IN_MEMORY_HELP,
        "  q2c demo\n"
        "  q2c demo --exit-when-done                       run the story and stop (CI)\n"
        "  q2c demo --port 7300 --ui-port 8300             when 7233/8233 are taken\n",
    )
    _dev_server_options(sub, ".q2c/demo")
    sub.add_argument(
        "--exit-when-done", action="store_true", help="stop once the story is told instead of waiting for Ctrl-C"
    )

    sub = command(
        "dev",
        dev.dev,
        "Run a local Temporal dev server and a closed-won worker until Ctrl-C.",
        "The server keeps its state in SQLite under --state-dir, so sagas survive a restart; it registers\n"
        "q2c's search attributes itself. The mapping rules are validated before anything starts.\n\n" + IN_MEMORY_HELP,
        "  q2c dev\n"
        "  q2c dev --port 7300 --ui-port 8300 --state-dir /tmp/q2c\n"
        "  then, in another terminal: q2c start closed-won 006NW0000000001 --wait\n",
    )
    _dev_server_options(sub, ".q2c/dev")

    command(
        "worker",
        dev.worker,
        "Run a closed-won worker against the configured Temporal until Ctrl-C.",
        "Checks that the namespace has q2c's search attributes and that the mapping rules are valid\n"
        "before polling the task queue.\n\n" + IN_MEMORY_HELP,
        "  q2c worker\n"
        "  q2c --config q2c.toml worker\n"
        "  q2c worker --address temporal.internal:7233 --namespace q2c-prod --task-queue q2c\n",
    )

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

    for sub in commands.choices.values():
        _global_options(sub, suppress=True)
    return parser


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
