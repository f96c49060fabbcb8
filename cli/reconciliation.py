"""`q2c recon run | report | schedule`: reconcile billing, the ERP and the revenue engine, and read the results."""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError

from adapters.store.reconciliation import ReconciliationStore
from adapters.store.store import OperationalStore
from canonical.reconciliation import ReconciliationBreak, ReconciliationRequest, ReconciliationRun
from cli import output
from cli.context import CliError, Globals, connect, ui_link
from cli.revenue_report import _sqlite_file
from cli.vendor_report import table
from workers.vendor_systems import database_url_from_env
from workflows.reconciliation_client import SCHEDULE_ID, ensure_daily_schedule, start_reconciliation

CSV_HEADERS = ["run", "kind", "subject", "billing", "billing_currency", "erp", "erp_currency", "case", "description"]


async def reconcile(client: Client, task_queue: str, first_day: date, last_day: date) -> ReconciliationRun:
    """Start (or join) the reconciliation of those days and wait for its summary."""
    handle = await start_reconciliation(
        client, ReconciliationRequest(first_day=first_day, last_day=last_day), task_queue
    )
    return await handle.result()


async def recon_run(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    first_day = args.first_day or args.date or datetime.now(UTC).date() - timedelta(days=1)
    last_day = args.last_day or args.date or first_day
    client = await connect(settings)
    try:
        run = await reconcile(client, settings.task_queue, first_day, last_day)
    except WorkflowFailureError as failure:
        output.error(f"the reconciliation failed: {failure.cause}")
        return 1
    for line in summary_lines(run):
        output.say(line)
    output.say(f"  Temporal UI  {ui_link(settings, run.workflow_id)}")
    output.say(f"  details      q2c recon report --run {run.run_id}")
    return 0 if run.clean else 1


async def recon_report(args: argparse.Namespace) -> int:
    database = args.database or database_url_from_env(Path(".q2c/worker"))
    sqlite_file = _sqlite_file(database)
    if sqlite_file is not None and not sqlite_file.exists():  # opening would create (and migrate) an empty one
        raise CliError(f"no q2c database at {sqlite_file} (run `q2c demo` first, or pass --database)")
    async with await OperationalStore.open(database) as store:
        recon = ReconciliationStore(store)
        try:
            run = await recon.run(args.run_id) if args.run_id is not None else await recon.latest_run()
        except LookupError as error:
            raise CliError(f"{error} in {database} (`q2c recon report` without --run shows the latest)") from None
        if run is None:
            raise CliError(f"no reconciliation has run against {database} yet (run `q2c recon run` first)")
        breaks = await recon.breaks(run.run_id)
    for line in report_lines(run, breaks):
        output.say(line)
    if args.csv is not None:
        write_csv(args.csv, run, breaks)
        output.say(f"wrote {args.csv}")
    return 0


async def recon_schedule(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    created = await ensure_daily_schedule(client, settings.task_queue, args.hour)
    verb = "created" if created else "updated"
    output.say(f"Schedule {SCHEDULE_ID} {verb}: every day at {args.hour:02d}:00 UTC, reconciling the day before")
    output.say(f"  Temporal UI  {settings.ui_url.rstrip('/')}/namespaces/{settings.namespace}/schedules/{SCHEDULE_ID}")
    return 0


def summary_lines(run: ReconciliationRun) -> list[str]:
    days = run.first_day.isoformat() if run.first_day == run.last_day else f"{run.first_day} to {run.last_day}"
    verdict = "clean" if run.clean else f"{run.breaks} break(s)"
    lines = [
        f"Reconciliation run {run.run_id} ({run.workflow_id}), {days}: {verdict}",
        f"  read: {run.billing_documents} billing document(s), {run.erp_postings} ERP posting(s), "
        f"{run.accounts} GL balance(s)",
    ]
    lines += [f"  {kind.value}: {n}" for kind, n in sorted(run.breaks_by_kind.items())]
    return lines


def report_lines(run: ReconciliationRun, breaks: list[ReconciliationBreak]) -> list[str]:
    lines = summary_lines(run)
    if breaks:
        rows = [
            [b.kind.value, b.subject, str(b.billing or "-"), str(b.erp or "-"), str(b.case_id or "-")] for b in breaks
        ]
        lines += ["", *table(["KIND", "SUBJECT", "BILLING / ENGINE", "ERP", "CASE"], rows)]
    return lines


def write_csv(path: Path, run: ReconciliationRun, breaks: list[ReconciliationBreak]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADERS)
        for b in breaks:
            writer.writerow(
                [
                    run.run_id,
                    b.kind.value,
                    b.subject,
                    "" if b.billing is None else str(b.billing.amount),
                    "" if b.billing is None else b.billing.currency,
                    "" if b.erp is None else str(b.erp.amount),
                    "" if b.erp is None else b.erp.currency,
                    b.case_id or "",
                    b.description,
                ]
            )
