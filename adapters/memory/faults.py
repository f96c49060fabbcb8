"""Planned failures for the in-memory systems, so workflow tests can fail any step in any way."""

from __future__ import annotations

from collections import defaultdict


class FaultPlan:
    """Errors to raise on the next calls of named operations, e.g. `plan.fail("billing.create_subscription", e)`."""

    def __init__(self) -> None:
        self._planned: defaultdict[str, list[Exception]] = defaultdict(list)
        self.calls: defaultdict[str, int] = defaultdict(int)

    def fail(self, operation: str, error: Exception, times: int = 1) -> None:
        self._planned[operation].extend([error] * times)

    def enter(self, operation: str) -> None:
        """Count the call and raise the next planned error for it, if any."""
        self.calls[operation] += 1
        if self._planned[operation]:
            raise self._planned[operation].pop(0)
