"""The revenue engine's year, for people: waterfall and deferred-revenue roll-forward in the terminal, the ERP's
trial balance against the engine's balances, and the figures as JSON, CSV and a chart image to check them with.

`q2c revenue` prints and exports them from q2c's database; the demo prints them after its year.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from adapters.revenue_engine import BuiltInRevenueEngine
from cli import output
from cli.context import CliError
from cli.vendor_report import table
from revenue.charts import waterfall_svg, write_chart
from revenue.reports import (
    deferred_revenue_rollforward,
    revenue_waterfall,
    rollforward_csv,
    rollforward_text,
    waterfall_csv,
    waterfall_text,
)
from workers.vendor_systems import database_url_from_env

ACCOUNT_NAMES = {
    "1000": "Cash",
    "1100": "Accounts receivable",
    "1200": "Unbilled receivable",
    "1300": "Contract asset",
    "2400": "Contract liability (deferred revenue)",
    "4000": "Subscription revenue",
    "4100": "Professional services revenue",
    "4200": "Usage revenue",
}


@dataclass(frozen=True)
class YearFiles:
    json: Path
    waterfall_csv: Path
    rollforward_csv: Path
    chart: Path


async def year_report(engine: BuiltInRevenueEngine, year: int, *, totals_only: bool = True) -> list[str]:
    """The waterfall per contract and the roll-forward of `year` (in total, or per contract and in total)."""
    snapshot = await engine.snapshot()
    first, last = f"{year}-01", f"{year}-12"
    waterfall = revenue_waterfall(snapshot.schedules, snapshot.calendar, first, last)
    rollforward = deferred_revenue_rollforward(snapshot.entries, snapshot.calendar, first, last, snapshot.chart)
    return [
        f"Revenue waterfall {year}: revenue recognised per month, per contract ({waterfall.currency})",
        *waterfall_text(waterfall).splitlines(),
        "",
        "Deferred-revenue roll-forward (net contract position: liability − asset; opening + billings − recognised)",
        *rollforward_text(rollforward, totals_only=totals_only).splitlines(),
    ]


async def export_year(engine: BuiltInRevenueEngine, year: int, directory: Path) -> YearFiles:
    """JSON (invoices, revenue by month and obligation, year-end balances), two CSVs and an SVG chart."""
    snapshot = await engine.snapshot()
    first, last = f"{year}-01", f"{year}-12"
    by_obligation = revenue_waterfall(snapshot.schedules, snapshot.calendar, first, last, by_obligation=True)
    rollforward = deferred_revenue_rollforward(snapshot.entries, snapshot.calendar, first, last, snapshot.chart)
    directory.mkdir(parents=True, exist_ok=True)
    files = YearFiles(
        json=directory / f"revenue-{year}.json",
        waterfall_csv=directory / f"revenue-waterfall-{year}.csv",
        rollforward_csv=directory / f"deferred-revenue-{year}.csv",
        chart=directory / f"revenue-{year}.svg",
    )
    exported = await engine.year_export(date(year, 1, 1), date(year, 12, 31))
    files.json.write_text(json.dumps(exported, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files.waterfall_csv.write_text(waterfall_csv(by_obligation), encoding="utf-8")
    files.rollforward_csv.write_text(rollforward_csv(rollforward), encoding="utf-8")
    title = f"Revenue {year} by obligation, and the closing deferred revenue"
    write_chart(files.chart, waterfall_svg(by_obligation, rollforward, title=title))
    return files


def trial_balance_comparison(erp: dict[str, Decimal], engine: dict[str, Decimal]) -> tuple[list[str], list[str]]:
    """A table of both systems' balance per account (debit positive), and the accounts where they differ."""
    rows, differences = [], []
    for account in sorted(set(erp) | set(engine)):
        in_erp, in_engine = erp.get(account, Decimal(0)), engine.get(account, Decimal(0))
        agrees = in_erp == in_engine
        if not agrees:
            differences.append(f"account {account}: ERP {in_erp:,.2f}, revenue engine {in_engine:,.2f}")
        name = ACCOUNT_NAMES.get(account, "")
        rows.append([account, name, f"{in_erp:,.2f}", f"{in_engine:,.2f}", "yes" if agrees else "NO"])
    return table(["ACCOUNT", "NAME", "ERP (NETSUITE)", "REVENUE ENGINE", "AGREE"], rows), differences


async def revenue(args: argparse.Namespace) -> int:
    """`q2c revenue`: the year's report from q2c's database, and its exports with --export."""
    database = args.database or database_url_from_env(Path(".q2c/worker"))
    sqlite_file = _sqlite_file(database)
    if sqlite_file is not None and not sqlite_file.exists():  # opening would create (and migrate) an empty one
        raise CliError(f"no q2c database at {sqlite_file} (run `q2c demo` first, or pass --database)")
    async with BuiltInRevenueEngine(database) as engine:
        if not (await engine.snapshot()).schedules:
            raise CliError(f"the revenue engine at {database} has no contracts (run `q2c demo` first?)")
        for line in await year_report(engine, args.year, totals_only=False):
            output.say(line)
        if args.export is not None:
            files = await export_year(engine, args.year, args.export)
            output.say()
            for path in (files.json, files.waterfall_csv, files.rollforward_csv, files.chart):
                output.say(f"wrote {path}")
    return 0


async def contract_lineage(
    engine: BuiltInRevenueEngine, contract_id: str, year: int, versions: list[tuple[str, str]]
) -> list[str]:
    """Original → amendments → invoices → revised schedule, for one contract. `versions`: (label, what) per
    version, from the sagas that made them."""
    lines = [f"Contract {contract_id}: its lineage"]
    lines += [f"  {label:<4} {what}" for label, what in versions]
    exported = await engine.year_export(date(year, 1, 1), date(year + 1, 12, 31))
    documents = [d for d in exported["documents"] if d["contract_id"] == contract_id]
    lines.append(f"  invoices ({len(documents)}):")
    for document in documents:
        total = sum((Decimal(line["amount"]) for line in document["lines"]), Decimal(0))
        obligations = ", ".join(sorted({line["obligation_id"].rsplit("#", 1)[1] for line in document["lines"]}))
        lines.append(
            f"    {document['issued_on']}  {document['document_id']}  {total:>10,.2f} {document['currency']}"
            f"  (lines {obligations})"
        )
    snapshot = await engine.snapshot()
    schedules = [s for s in snapshot.schedules if s.contract_id == contract_id]
    waterfall = revenue_waterfall(schedules, snapshot.calendar, f"{year}-01", f"{year}-12", by_obligation=True)
    lines += ["  revised schedule: revenue by obligation (#line) and month", *waterfall_text(waterfall).splitlines()]
    return lines


def _sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///...` URL (either spelling), or None for another database."""
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix) and len(url) > len(prefix):
            return Path(url.removeprefix(prefix))
    return None
