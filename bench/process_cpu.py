"""Where the time goes: CPU seconds per process, read from /proc so nothing has to be installed.

The benchmark process (worker, client, revenue engine), the Temporal dev server and the emulators' process are
sampled before and after each batch; the difference over the batch's wall time says which one was busy.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0.0 when it is gone or /proc is absent)."""
    if pid == os.getpid():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def children_named(name: str) -> list[int]:
    """Child processes of this one whose command name is `name` (e.g. the `temporal` dev server)."""
    found = []
    for task in (PROC / str(os.getpid()) / "task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                if (PROC / pid / "comm").read_text().strip() == name:
                    found.append(int(pid))
            except OSError:
                continue
    return found


@dataclass(frozen=True)
class CpuShare:
    """CPU seconds each process used during a batch, and as a share of the batch's wall time (1.0 = a core)."""

    seconds: dict[str, float]
    cores: dict[str, float]


class CpuMeter:
    """Samples named processes; `since()` gives what each used since the last `start()`."""

    def __init__(self, processes: Mapping[str, int]) -> None:
        self._processes = dict(processes)
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: cpu_seconds(pid) for name, pid in self._processes.items()}

    def since(self, wall_seconds: float) -> CpuShare:
        used = {name: round(cpu_seconds(pid) - self._before[name], 2) for name, pid in self._processes.items()}
        cores = {name: round(seconds / wall_seconds, 2) if wall_seconds else 0.0 for name, seconds in used.items()}
        return CpuShare(used, cores)
