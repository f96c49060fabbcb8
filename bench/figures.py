"""What every benchmark prints: a table for people and one JSON line for tools, and the latency percentiles."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 in milliseconds (one sample is all three)."""
    millis = [s * 1000 for s in seconds]
    if len(millis) < 2:
        value = round(millis[0], 1) if millis else 0.0
        return {"p50_ms": value, "p95_ms": value, "p99_ms": value}
    cuts = statistics.quantiles(millis, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 1), "p95_ms": round(cuts[94], 1), "p99_ms": round(cuts[98], 1)}


async def run_batch(
    count: int, concurrency: int, run_one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run `count` items with at most `concurrency` in flight: the wall time and each item's latency."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(index: int) -> None:
        async with gate:
            began = time.perf_counter()
            await run_one(index)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - began, latencies


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """A plain text table of `columns` (keys of each row), right-aligned but for the first."""
    cells = [[_cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    header = "  ".join(_align(column, width, i) for i, (column, width) in enumerate(zip(columns, widths, strict=True)))
    print(header)
    print("-" * len(header))
    for line in cells:
        print("  ".join(_align(cell, width, i) for i, (cell, width) in enumerate(zip(line, widths, strict=True))))


def print_json_line(benchmark: str, **figures: Any) -> None:
    """The one machine-readable line every benchmark ends with."""
    print(json.dumps({"benchmark": benchmark, **figures}, default=str))


def _cell(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def _align(text: str, width: int, index: int) -> str:
    return text.ljust(width) if index == 0 else text.rjust(width)
