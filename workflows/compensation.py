"""Saga compensations: registered before their step, run in reverse, shielded from cancellation.

Registering *before* the step matters: if the worker dies after the vendor accepted a write but before the
result was recorded, the undo still runs, and because every undo acts only on what its idempotency key
created, undoing a step that created nothing is a harmless no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

Undo = Callable[[], Awaitable[str | None]]


@dataclass
class Compensations:
    _undos: list[tuple[str, Undo]] = field(default_factory=list)

    def register(self, description: str, undo: Undo) -> None:
        self._undos.append((description, undo))

    async def run_in_reverse(self) -> list[str]:
        """Undo every registered step, last first; returns the descriptions of those that undid something."""
        undone = []
        for description, undo in reversed(self._undos):
            undone_id = await run_to_completion(undo())
            if undone_id is not None:
                undone.append(f"{description} {undone_id}")
        self._undos.clear()
        return undone


async def run_to_completion(awaitable: Awaitable[T]) -> T:
    """Await `awaitable` even if the workflow is cancelled meanwhile: a half-run compensation is worse than none."""
    task = asyncio.ensure_future(awaitable)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()
