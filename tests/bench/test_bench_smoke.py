"""Each benchmark runs with a tiny N and ends with one JSON line holding its figures. No timing is asserted:
the figures depend on the machine, and the benchmarks report them rather than pass or fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cli.main import run

ROOT = Path(__file__).resolve().parents[2]


def json_line(module: str, *options: str, timeout: float = 120) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", module, *options], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def test_saga_cost_counts_events_and_actions_of_every_saga_type() -> None:
    figures = json_line("bench.saga_cost")

    assert figures["benchmark"] == "saga_cost"
    sagas = {row["saga"]: row for row in figures["rows"]}
    assert {"closed-won, standard", "invoice -> revenue", "payment settled", "period close", "amendment"} <= set(sagas)
    standard = sagas["closed-won, standard"]
    assert standard["bare_events"] == 47 and standard["bare_actions"] == 8  # 7 activities
    assert standard["actions"] == sum(standard["by_kind"].values()) and standard["by_kind"]["activity"] == 7


def test_revenue_engine_reports_lines_per_second_memory_and_its_baseline() -> None:
    figures = json_line("bench.revenue_engine", "--contracts", "40", "--workers", "1")

    assert figures["benchmark"] == "revenue_engine" and figures["contracts"] == 40
    assert figures["schedule_lines"] >= 40 * 36
    for key in ("lines_per_second", "baseline_lines_per_second", "ratio_to_baseline", "peak_memory_mb"):
        assert figures[key] > 0
    assert set(figures["targets"]) == {"lines_per_second", "book_seconds", "peak_memory"}


def test_saga_throughput_on_the_in_memory_systems(tmp_path: Path) -> None:
    figures = json_line(
        "bench.saga_throughput",
        *("--systems", "memory", "--sagas", "2", "--concurrency", "1", "--state-dir", str(tmp_path)),
    )

    assert [row["saga"] for row in figures["rows"]] == ["bare x7", "closed_won"]
    [summary] = figures["summary"]
    assert summary["saga"] == "closed_won" and summary["throughput_ratio"] > 0
    assert figures["rows"][1]["events"] > figures["rows"][0]["events"] == 47


def test_saga_throughput_against_the_emulators_runs_both_saga_types(tmp_path: Path) -> None:
    figures = json_line(
        "bench.saga_throughput", *("--sagas", "1", "--concurrency", "1", "--state-dir", str(tmp_path)), timeout=240
    )

    sagas = [row["saga"] for row in figures["rows"]]
    assert sagas[1::2] == ["closed_won", "invoice_to_revenue"]
    assert all(row["emulators_cpu_ms"] >= 0 and row["temporal_cpu_ms"] > 0 for row in figures["rows"])
    assert {s["saga"] for s in figures["summary"]} == {"closed_won", "invoice_to_revenue"}


def test_q2c_bench_runs_the_script(capsys: Any) -> None:
    assert run(["bench", "saga-cost", "--", "--history", str(ROOT / "tests/histories/period_close.json")]) == 0
