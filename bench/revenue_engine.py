"""Revenue engine throughput: schedule lines per second for a generated book, and peak memory.

    python -m bench.revenue_engine [--contracts 100000] [--workers 2] [--profile 2000]

The book (`revenue.benchmark`): 100,000 one-obligation contracts, each a 36-month subscription, so about 37
monthly schedule lines each. Each process builds its slice of the book and runs the engine on it: relative-SSP
allocation, the revenue plan, the ratable daily schedule by calendar month with cumulative rounding. Building the
obligations is timed apart and not counted.

The baseline, measured first in the same run on the same processes: a bare `Decimal` loop making as many lines
the cheapest way a cumulative-rounding schedule can be made (one multiply, divide and quantize per line). The
engine's speed is also given as a fraction of it, which survives a noisy machine better than lines per second.
Each process also counts the CPU seconds it spent, so the run says what the same processes would do with the
cores to themselves ("on free cores"): on a machine shared with other work, wall time mostly measures the queue.
Targets (issue #8): at least 1,000,000 lines per second, the book in 15 s or less, within 2 GB. `--profile N`
adds where the engine's time goes, on N contracts in this process: CPU microseconds per contract by stage against
the per-contract budget the target leaves, then the functions that take the time (self time, then cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.figures import print_json_line, print_table
from revenue.allocation import allocate_transaction_price
from revenue.benchmark import CALENDAR, subscription
from revenue.obligations import PerformanceObligation
from revenue.recognition import plan_contract, schedule

TARGET_LINES_PER_SECOND = 1_000_000
TARGET_BOOK_SECONDS = 15.0
TARGET_PEAK_BYTES = 2 * 1024**3
MONTHS = 37  # the schedule lines most contracts of the book make
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SliceTimes:
    lines: int
    build_seconds: float  # making the obligations: input, not counted
    allocation_seconds: float  # allocation + revenue plan
    schedule_seconds: float
    engine_cpu_seconds: float  # CPU time of allocation + plan + schedules in this process
    gc_cpu_seconds: float  # the part of it the cyclic garbage collector took


class CollectorClock:
    """CPU seconds spent in the cyclic garbage collector while it is installed (a `gc.callbacks` entry)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.seconds += time.process_time() - self._began

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def engine_slice(first: int, count: int) -> SliceTimes:
    """Run the engine over contracts `first` .. `first + count - 1`, timing each stage."""
    began = time.perf_counter()
    obligations = [subscription(n) for n in range(first, first + count)]
    built, cpu_began = time.perf_counter(), time.process_time()
    with CollectorClock() as collector:
        plans = [plan for ob in obligations for plan in plan_contract(allocate_transaction_price([ob]))]
        planned = time.perf_counter()
        lines = sum(len(schedule(plan, CALENDAR).minor_units) for plan in plans)
    done, cpu_done = time.perf_counter(), time.process_time()
    return SliceTimes(lines, built - began, planned - built, done - planned, cpu_done - cpu_began, collector.seconds)


def baseline_slice(first: int, count: int) -> tuple[int, float]:
    """The floor: MONTHS cumulative-rounded Decimal amounts per contract, nothing else. Lines and CPU seconds."""
    began, lines = time.process_time(), 0
    for n in range(first, first + count):
        total, recognised = Decimal(9000 * 36 * (1 + n % 500)) / 100, Decimal(0)
        for month in range(1, MONTHS + 1):
            cumulative = (total * month / MONTHS).quantize(CENT)
            _ = cumulative - recognised
            recognised = cumulative
            lines += 1
    return lines, time.process_time() - began


def slices(contracts: int, workers: int) -> tuple[list[int], list[int]]:
    """Four slices per process, so a slow process does not hold the others up."""
    size = max(1, -(-contracts // (workers * 4)))
    firsts = list(range(0, contracts, size))
    return firsts, [min(size, contracts - first) for first in firsts]


def fan_out(pool: ProcessPoolExecutor, work: Callable[[int, int], Any], contracts: int, workers: int) -> list[Any]:
    firsts, counts = slices(contracts, workers)
    return list(pool.map(work, firsts, counts))


def peak_memory_bytes() -> int:
    """The largest resident set of this process or any of its workers (Linux reports kilobytes)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024


def measure(contracts: int, workers: int) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    with ProcessPoolExecutor(workers) as pool:
        fan_out(pool, baseline_slice, workers * 4, workers)  # start the processes before timing anything
        began = time.perf_counter()
        baseline: list[tuple[int, float]] = fan_out(pool, baseline_slice, contracts, workers)
        baseline_seconds = time.perf_counter() - began
        began = time.perf_counter()
        times: list[SliceTimes] = fan_out(pool, engine_slice, contracts, workers)
        wall = time.perf_counter() - began
    lines = sum(t.lines for t in times)
    baseline_lines = sum(n for n, _ in baseline)
    build = sum(t.build_seconds for t in times) / workers  # per process, comparable with the wall time
    schedule_seconds = sum(t.schedule_seconds for t in times) / workers
    engine_seconds = wall - build
    # With the cores to themselves, the processes would each take their CPU time: the run's wall time would be
    # the engine's CPU seconds spread over the workers.
    engine_cpu = sum(t.engine_cpu_seconds for t in times)
    baseline_cpu = sum(seconds for _, seconds in baseline)
    return {
        "contracts": contracts,
        "workers": workers,
        "schedule_lines": lines,
        "book_seconds": round(wall, 2),
        "engine_seconds": round(engine_seconds, 2),
        "lines_per_second": round(lines / engine_seconds),
        "allocation_and_plan_seconds": round(sum(t.allocation_seconds for t in times) / workers, 2),
        "schedule_seconds": round(schedule_seconds, 2),
        "schedule_stage_lines_per_second": round(lines / schedule_seconds),
        "obligation_build_seconds": round(build, 2),
        "baseline_lines_per_second": round(baseline_lines / baseline_seconds),
        "ratio_to_baseline": round((lines / engine_seconds) / (baseline_lines / baseline_seconds), 2),
        "peak_memory_mb": round(peak_memory_bytes() / 1024**2),
        "engine_cpu_seconds": round(engine_cpu, 2),
        "engine_cpu_share": round(engine_cpu / (engine_seconds * workers), 2),
        "gc_share_of_engine_cpu": round(sum(t.gc_cpu_seconds for t in times) / engine_cpu, 2),
        "free_cores_lines_per_second": round(lines / (engine_cpu / workers)),
        "free_cores_baseline_lines_per_second": round(baseline_lines / (baseline_cpu / workers)),
        "free_cores_ratio_to_baseline": round(baseline_cpu / baseline_lines * lines / engine_cpu, 2),
        "load_average_before": round(load_before, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
    }


def verdicts(figures: dict[str, Any]) -> dict[str, str]:
    """Each target: met, or missed by how much."""
    speed = figures["lines_per_second"] / TARGET_LINES_PER_SECOND
    book = figures["book_seconds"] / TARGET_BOOK_SECONDS
    memory = figures["peak_memory_mb"] * 1024**2 / TARGET_PEAK_BYTES
    return {
        "lines_per_second": "met" if speed >= 1 else f"missed: {speed:.2f}x of 1,000,000/s",
        "book_seconds": "met" if book <= 1 else f"missed: {book:.2f}x of 15 s",
        "peak_memory": "met" if memory <= 1 else f"missed: {memory:.2f}x of 2 GB",
    }


def free_cores_verdict(figures: dict[str, Any]) -> str:
    speed = figures["free_cores_lines_per_second"] / TARGET_LINES_PER_SECOND
    return "met" if speed >= 1 else f"missed: {speed:.2f}x of 1,000,000/s"


def profile(contracts: int, workers: int, top: int = 15) -> str:
    """Where the engine's time goes on `contracts` contracts in this process, warmed up as a long run is.

    First the CPU microseconds per contract of each stage, against the budget the target leaves each contract
    (the book's lines per contract, at 1,000,000 lines/s over `workers` cores); then cProfile's busiest
    functions by their own time (what to make cheaper) and by cumulative time (which stage calls them).
    """
    obligations = [subscription(n) for n in range(contracts)]
    _run_stages(obligations)  # fills the caches a 100,000-contract run keeps warm (service months per period)
    with CollectorClock() as collector:
        stages, lines = _run_stages(obligations)
    per_contract = {stage: seconds / contracts * 1e6 for stage, seconds in stages.items()}
    budget = lines / contracts / TARGET_LINES_PER_SECOND * workers * 1e6
    total = sum(per_contract.values())
    out = io.StringIO()
    out.write(f"CPU per contract ({lines / contracts:.1f} lines), warm, {contracts:,} contracts in one process:\n")
    for stage, micros in per_contract.items():
        out.write(f"  {stage:<34}{micros:8.1f} us  {micros / total:5.0%}\n")
    verdict = "within it" if total <= budget else f"{total / budget:.2f}x over it"
    out.write(f"  {'of which garbage collection':<34}{collector.seconds / contracts * 1e6:8.1f} us\n")
    out.write(f"  {'engine':<34}{total:8.1f} us  budget {budget:.1f} us on {workers} core(s): {verdict}\n\n")
    profiler = cProfile.Profile()
    profiler.runcall(_run_stages, obligations)
    for order in ("tottime", "cumulative"):
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(top)
    return out.getvalue()


def _run_stages(obligations: list[PerformanceObligation]) -> tuple[dict[str, float], int]:
    """CPU seconds of each engine stage over `obligations` (one per contract), and the schedule lines made."""
    began = time.process_time()
    allocations = [allocate_transaction_price([obligation]) for obligation in obligations]
    allocated = time.process_time()
    plans = [plan for allocation in allocations for plan in plan_contract(allocation)]
    planned = time.process_time()
    lines = sum(len(schedule(plan, CALENDAR).minor_units) for plan in plans)
    done = time.process_time()
    stages = {
        "allocation (allocation.py)": allocated - began,
        "revenue plan (recognition.py)": planned - allocated,
        "schedules (recognition.py)": done - planned,
    }
    return stages, lines


def report(figures: dict[str, Any], profiled: str | None) -> None:
    checks = verdicts(figures)
    rows = [
        {"figure": "schedule lines", "value": f"{figures['schedule_lines']:,}", "target": ""},
        {"figure": "book (s, wall)", "value": figures["book_seconds"], "target": f"<= 15 ({checks['book_seconds']})"},
        {
            "figure": "engine lines/s",
            "value": f"{figures['lines_per_second']:,}",
            "target": f">= 1,000,000 ({checks['lines_per_second']})",
        },
        {"figure": "baseline Decimal lines/s", "value": f"{figures['baseline_lines_per_second']:,}", "target": ""},
        {"figure": "engine / baseline", "value": figures["ratio_to_baseline"], "target": ""},
        {"figure": "allocation + plan (s/process)", "value": figures["allocation_and_plan_seconds"], "target": ""},
        {"figure": "schedules (s/process)", "value": figures["schedule_seconds"], "target": ""},
        {
            "figure": "schedule stage alone lines/s",
            "value": f"{figures['schedule_stage_lines_per_second']:,}",
            "target": "",
        },
        {"figure": "building the book (s/process)", "value": figures["obligation_build_seconds"], "target": ""},
        {
            "figure": "peak memory (MB, one process)",
            "value": figures["peak_memory_mb"],
            "target": f"<= 2048 ({checks['peak_memory']})",
        },
        {"figure": "engine CPU share of its cores", "value": figures["engine_cpu_share"], "target": ""},
        {"figure": "garbage collection / engine CPU", "value": figures["gc_share_of_engine_cpu"], "target": ""},
        {
            "figure": "on free cores: engine lines/s",
            "value": f"{figures['free_cores_lines_per_second']:,}",
            "target": f">= 1,000,000 ({free_cores_verdict(figures)})",
        },
        {
            "figure": "on free cores: baseline lines/s",
            "value": f"{figures['free_cores_baseline_lines_per_second']:,}",
            "target": "",
        },
        {"figure": "on free cores: engine / baseline", "value": figures["free_cores_ratio_to_baseline"], "target": ""},
    ]
    print(
        f"{figures['contracts']:,} contracts x 36 months on {figures['workers']} process(es); load average "
        f"{figures['load_average_before']} before, {figures['load_average_after']} after"
    )
    print_table(rows, ("figure", "value", "target"))
    if profiled:
        print(profiled)
    print_json_line("revenue_engine", **figures, targets=checks, free_cores_target=free_cores_verdict(figures))


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.revenue_engine",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--contracts", type=int, default=100_000, help="contracts in the book (default 100000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile N contracts (default: off)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    figures = measure(args.contracts, args.workers)
    report(figures, profile(args.profile, args.workers) if args.profile else None)


if __name__ == "__main__":
    main()
