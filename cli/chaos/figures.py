"""A scenario's figures: what ran, what was injected, how it ended, what the systems hold; a table and a JSON line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

COLUMNS = (
    ("scenario", "scenario"),
    ("sagas_run", "sagas"),
    ("faults_injected", "faults"),
    ("completed", "completed"),
    ("compensated", "compensated"),
    ("parked", "parked"),
    ("stuck", "stuck"),
    ("lost", "lost"),
    ("duplicates_found", "duplicates"),
    ("ledger_balanced", "ledger balanced"),
    ("reconciliation_breaks", "recon breaks"),
    ("seconds", "seconds"),
)


@dataclass
class Figures:
    scenario: str
    sagas_run: int = 0
    faults_injected: int = 0
    completed: int = 0
    compensated: int = 0
    parked: int = 0
    stuck: int = 0
    lost: int = 0
    duplicates_found: int = 0
    ledger_balanced: bool = True
    reconciliation_breaks: int = 0
    seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)  # kind → how many
    problems: list[str] = field(default_factory=list)  # each thing lost, stuck, duplicated or unbalanced, in words
    findings: list[str] = field(default_factory=list)  # nothing lost, but not what should happen: parked, breaks

    @property
    def ok(self) -> bool:
        return not self.problems and not self.findings


def table(rows: list[Figures]) -> list[str]:
    cells = [[title for _, title in COLUMNS]]
    for row in rows:
        cells.append([_cell(getattr(row, name)) for name, _ in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            cell.rjust(width) if i else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    return [lines[0], "-" * len(lines[0]), *lines[1:]]


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def json_line(rows: list[Figures], seed: int) -> str:
    return json.dumps(
        {"chaos": [asdict(row) | {"ok": row.ok} for row in rows], "seed": seed, "ok": all(r.ok for r in rows)}
    )
